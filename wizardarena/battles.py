"""Battle logs: the canonical schema, validation, encoding and aggregation to counts.

A battle log is a table with one row per judged game between two models:

============  =====================================================================
column        meaning
============  =====================================================================
model_a       the model shown in the first slot (str, required)
model_b       the model shown in the second slot (str, required)
winner        ``model_a``, ``model_b``, ``tie`` or ``tie (bothbad)`` (required)
question_id   the prompt the game was played on (needed for ``unit="prompt"``)
weight        non-negative weight of the row (default 1)
judge, game, category, turn, tstamp, ...   kept as they are, never interpreted here
============  =====================================================================

Other outcome vocabularies are read only when asked for with ``outcomes=`` (see
:class:`Vocabulary`); nothing is guessed and nothing is coerced silently.

The pure part of this module (validation, encoding, aggregation) does no I/O; the readers
and writers at the bottom do.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Union, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from wizardarena._io import atomic_write
from wizardarena.exceptions import Param, ValidationError

__all__ = [
    "WINNER_LABELS",
    "BattleLog",
    "CountedLog",
    "Counts",
    "Outcome",
    "Vocabulary",
    "read_battles",
]


class Outcome(IntEnum):
    """Outcome code of one battle, from the point of view of ``model_a``."""

    A = 0
    B = 1
    TIE = 2
    TIE_BOTHBAD = 3


#: canonical ``winner`` labels, indexed by :class:`Outcome`
WINNER_LABELS: tuple[str, ...] = ("model_a", "model_b", "tie", "tie (bothbad)")


class Vocabulary(str, Enum):
    """How the ``winner`` column is written.

    ``fastchat``
        ``model_a`` / ``model_b`` / ``tie`` / ``tie (bothbad)`` (default; LMSYS ``clean_battle``).
    ``ab``
        ``A`` / ``B`` / ``tie`` / ``tie (bothbad)``.
    ``numeric``
        the score of ``model_a``: ``1`` (win), ``0`` (loss), ``0.5`` (tie); nothing else.
    ``arena-hard``
        Arena-Hard labels ``A>>B``, ``A>B``, ``A=B`` (or ``B=A``), ``B>A``, ``B>>A``, with or
        without ``[[ ]]``; the strong labels get the weight ``strong_weight``.
    ``left-right``
        ``left`` / ``right`` / ``tie`` with the model names in columns ``left`` and ``right``
        (the llmfao crowd format); ``left`` becomes ``model_a``.
    """

    FASTCHAT = "fastchat"
    AB = "ab"
    NUMERIC = "numeric"
    ARENA_HARD = "arena-hard"
    LEFT_RIGHT = "left-right"


_LABELS: dict[Vocabulary, dict[str, tuple[Outcome, bool]]] = {
    # label -> (outcome, is_strong)
    Vocabulary.FASTCHAT: {lab: (Outcome(i), False) for i, lab in enumerate(WINNER_LABELS)},
    Vocabulary.AB: {
        "A": (Outcome.A, False),
        "B": (Outcome.B, False),
        "tie": (Outcome.TIE, False),
        "tie (bothbad)": (Outcome.TIE_BOTHBAD, False),
    },
    Vocabulary.ARENA_HARD: {
        "A>>B": (Outcome.A, True),
        "A>B": (Outcome.A, False),
        "A=B": (Outcome.TIE, False),
        "B=A": (Outcome.TIE, False),
        "B>A": (Outcome.B, False),
        "B>>A": (Outcome.B, True),
    },
    Vocabulary.LEFT_RIGHT: {
        "left": (Outcome.A, False),
        "right": (Outcome.B, False),
        "tie": (Outcome.TIE, False),
    },
}

BattleSource = Union[
    "BattleLog", pd.DataFrame, pa.Table, Sequence[Mapping[str, Any]], str, os.PathLike[str]
]

_MAX_SHOWN = 5


def _show(rows: np.ndarray, values: Sequence[Any]) -> str:
    """Render the first offending rows and values for an error message."""
    shown = ", ".join(f"row {int(r)}: {v!r}" for r, v in zip(rows[:_MAX_SHOWN], values))
    more = f" (and {len(rows) - _MAX_SHOWN} more)" if len(rows) > _MAX_SHOWN else ""
    return shown + more


# --------------------------------------------------------------------------- encoding helpers


def _encode_strings(arr: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Dictionary-encode a string column: (codes with -1 for null, unique values)."""
    if isinstance(arr, pa.ChunkedArray):
        if pa.types.is_dictionary(arr.type) and arr.num_chunks > 1:
            arr = arr.unify_dictionaries()
            dictionary = arr.chunk(0).dictionary
            indices = pa.concat_arrays([c.indices for c in arr.chunks])
            return _codes_from_indices(indices), np.asarray(dictionary.to_pylist(), dtype=object)
        if arr.num_chunks == 0:
            arr = pa.array([], type=arr.type)
        else:
            arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if pa.types.is_dictionary(arr.type):
        dictionary = arr.dictionary
        indices = arr.indices
    else:
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            if pa.types.is_null(arr.type):
                arr = arr.cast(pa.string())
            else:
                raise TypeError(str(arr.type))
        enc = pc.dictionary_encode(arr)
        dictionary, indices = enc.dictionary, enc.indices
    return _codes_from_indices(indices), np.asarray(dictionary.to_pylist(), dtype=object)


def _codes_from_indices(indices: pa.Array) -> np.ndarray:
    codes = indices.to_numpy(zero_copy_only=False)
    if indices.null_count:
        codes = np.where(indices.is_null().to_numpy(zero_copy_only=False), -1, codes)
    return codes.astype(np.int32, copy=False)


def _column_to_arrow(values: Any, name: str) -> pa.Array | pa.ChunkedArray:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values
    series = pd.Series(values)
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    try:
        return pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValidationError(f"column {name!r} could not be read as text: {exc}") from exc


def _model_codes(
    col_a: pa.Array | pa.ChunkedArray, col_b: pa.Array | pa.ChunkedArray, names: tuple[str, str]
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Encode two model-name columns against one sorted model list, validating names."""
    encoded = []
    for col, name in zip((col_a, col_b), names):
        try:
            codes, uniq = _encode_strings(col)
        except TypeError:
            values = col.to_pylist()
            bad = np.array([i for i, v in enumerate(values) if not isinstance(v, str)])
            raise ValidationError(
                f"column {name!r} must hold model names (text); found non-text values at "
                + _show(bad, [values[i] for i in bad[:_MAX_SHOWN]])
            ) from None
        nulls = np.flatnonzero(codes < 0)
        if nulls.size:
            raise ValidationError(
                f"column {name!r} has missing (null/NaN) model names at "
                + _show(nulls, [None] * min(nulls.size, _MAX_SHOWN))
                + "; every battle needs two named models"
            )
        used = np.bincount(codes, minlength=len(uniq)) > 0  # a dictionary may hold unused values
        blank = np.array([not str(u).strip() for u in uniq], dtype=bool) & used
        if blank.any():
            bad_rows = np.flatnonzero(blank[codes])
            raise ValidationError(
                f"column {name!r} has empty model names at "
                + _show(bad_rows, [uniq[codes[r]] for r in bad_rows[:_MAX_SHOWN]])
            )
        uniq = np.array([u if k else None for u, k in zip(uniq, used)], dtype=object)
        encoded.append((codes, uniq))
    (ca, ua), (cb, ub) = encoded
    models = sorted((set(ua.tolist()) | set(ub.tolist())) - {None})
    pos = {name: k for k, name in enumerate(models)}
    map_a = np.array([pos.get(u, -1) for u in ua.tolist()], dtype=np.int32)
    map_b = np.array([pos.get(u, -1) for u in ub.tolist()], dtype=np.int32)

    def remap(codes: np.ndarray, mapping: np.ndarray) -> np.ndarray:
        if mapping.size == len(models) and np.array_equal(mapping, np.arange(mapping.size)):
            return codes  # the dictionary already is the sorted model list
        return mapping[codes] if codes.size else np.zeros(0, np.int32)

    a, b = remap(ca, map_a), remap(cb, map_b)
    return a, b, tuple(str(m) for m in models)


def _checks() -> Any:
    """:mod:`wizardarena.battle_checks` (imported late: it builds on this module)."""
    from wizardarena import battle_checks

    return battle_checks


#: the columns a battle log is made of (any other column is an optional, extra one)
CORE_COLUMNS: tuple[str, ...] = ("model_a", "model_b", "winner", "weight", "left", "right")


def collapse(key: np.ndarray, weight: np.ndarray | None, count: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Merge entries with equal ``(key, weight)`` (``key`` alone when ``weight`` is None),
    summing ``count`` (one per entry when None); sorted by key, then weight."""
    if weight is None:
        order = np.argsort(key, kind="stable")
        ks, ws = key[order], None
    else:
        order = np.lexsort((weight, key))
        ks, ws = key[order], weight[order]
    new = np.ones(ks.shape[0], dtype=bool)
    new[1:] = ks[1:] != ks[:-1]
    if ws is not None:
        new[1:] |= ws[1:] != ws[:-1]
    starts = np.flatnonzero(new)
    if count is None:
        total = np.diff(np.append(starts, ks.shape[0]))
    else:
        total = np.add.reduceat(count[order], starts) if len(starts) else count[:0]
    return ks[starts], None if ws is None else ws[starts], total


def counts_from_keys(models: tuple[str, ...], key: np.ndarray, weight: np.ndarray,
                     count: np.ndarray, *, grouped: bool = False, n_groups: int = 0) -> Counts:
    """:class:`Counts` from collapsed keys ``(group · M² + a · M + b) · 4 + outcome``."""
    m = len(models)
    stride = m * m * 4
    rest = key % stride
    return Counts(
        models=tuple(models),
        a=(rest // (4 * m)).astype(np.int32),
        b=((rest // 4) % m).astype(np.int32),
        outcome=(rest % 4).astype(np.int8),
        weight=np.asarray(weight, dtype=np.float64),
        count=np.asarray(count, dtype=np.int64),
        group=(key // stride).astype(np.int64) if grouped else None,
        n_groups=n_groups,
    )


def _required_columns(names: Sequence[str], vocab: Vocabulary) -> list[str]:
    """The columns ``vocab`` needs, or a ValidationError naming the missing ones."""
    need = (["left", "right", "winner"] if vocab is Vocabulary.LEFT_RIGHT
            else ["model_a", "model_b", "winner"])
    missing = [c for c in need if c not in names]
    if missing:
        raise ValidationError(
            f"battle log is missing required column(s) {missing}; expected columns "
            f"{need} (", Param("outcomes", repr(vocab.value)), f"); found {list(names)}",
            *_checks().layout_hint(names, vocab),
        )
    return need


def _label_outcomes(
    col: pa.Array | pa.ChunkedArray, vocab: Vocabulary, strong_weight: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """Map a text winner column through a closed vocabulary; unknown labels raise."""
    table = _LABELS[vocab]
    try:
        codes, uniq = _encode_strings(col)
    except TypeError:
        values = col.to_pylist()
        bad = np.arange(min(len(values), _MAX_SHOWN))
        raise ValidationError(
            "column 'winner' must hold text labels for ", Param("outcomes", repr(vocab.value)),
            f"; expected one of {sorted(table)}; got values of type {col.type} such as "
            + _show(bad, [values[i] for i in bad]),
            *_checks().vocabulary_hint(set(values), vocab),
        ) from None
    lookup = np.empty(len(uniq) + 1, dtype=np.int8)
    strong = np.zeros(len(uniq) + 1, dtype=bool)
    unknown = []
    for k, label in enumerate(uniq):
        key = label
        if vocab is Vocabulary.ARENA_HARD and isinstance(label, str):
            key = label.strip()
            if key.startswith("[[") and key.endswith("]]"):
                key = key[2:-2].strip()
        hit = table.get(key)
        if hit is None:
            unknown.append(k)
            lookup[k] = -1
        else:
            lookup[k], strong[k] = int(hit[0]), hit[1]
    lookup[-1] = -1  # null
    idx = np.where(codes < 0, len(uniq), codes)
    out = lookup[idx]
    bad_rows = np.flatnonzero(out < 0)
    if bad_rows.size:
        vals = [None if codes[r] < 0 else uniq[codes[r]] for r in bad_rows[:_MAX_SHOWN]]
        used = np.unique(codes[codes >= 0])
        raise ValidationError(
            f"column 'winner' must be one of {list(table)} (",
            Param("outcomes", repr(vocab.value)), "); " + _show(bad_rows, vals),
            *_checks().vocabulary_hint([uniq[k] for k in used], vocab),
        )
    weight = None
    if vocab is Vocabulary.ARENA_HARD and strong_weight != 1.0:
        weight = np.where(strong[idx], float(strong_weight), 1.0)
    return out.astype(np.int8), weight


def _numeric_outcomes(col: pa.Array | pa.ChunkedArray) -> np.ndarray:
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        raise ValidationError(
            "column 'winner' must be numeric (1 = model_a wins, 0 = model_b wins, 0.5 = tie) "
            "for ", Param("outcomes", "'numeric'"), f"; got type {col.type}",
            *_checks().vocabulary_hint(set(col.to_pylist()), Vocabulary.NUMERIC),
        )
    values = np.asarray(col.to_numpy(zero_copy_only=False), dtype=float)
    out = np.full(values.shape, -1, dtype=np.int8)
    out[values == 1.0] = Outcome.A
    out[values == 0.0] = Outcome.B
    out[values == 0.5] = Outcome.TIE
    bad = np.flatnonzero(out < 0)
    if bad.size:
        raise ValidationError(
            "column 'winner' must be 1, 0 or 0.5 for ", Param("outcomes", "'numeric'"), "; "
            + _show(bad, values[bad[:_MAX_SHOWN]].tolist()),
            *_checks().vocabulary_hint(set(values[np.isfinite(values)].tolist()),
                                       Vocabulary.NUMERIC),
        )
    return out


# --------------------------------------------------------------------------- the battle log


@dataclass(frozen=True, eq=False)
class Counts:
    """A battle log collapsed to unique rows (sufficient statistics).

    Each unique ``(group, a, b, outcome, weight)`` appears once with its number of battles.

    Attributes
    ----------
    models : tuple of str, length M
    a, b : ndarray of int32, shape (R,)
        Model codes (``a`` shown first).
    outcome : ndarray of int8, shape (R,)
        :class:`Outcome` codes.
    weight : ndarray of float64, shape (R,)
        The weight carried by each battle of the row.
    count : ndarray of int64, shape (R,)
        Number of battles (rows of the log) collapsed into the row.
    group : ndarray of int64, shape (R,), or None
        Code of the resampling cluster (``question_id``) when requested.
    n_groups : int
        Number of distinct groups (0 when ``group`` is None).
    """

    models: tuple[str, ...]
    a: np.ndarray
    b: np.ndarray
    outcome: np.ndarray
    weight: np.ndarray
    count: np.ndarray
    group: np.ndarray | None = None
    n_groups: int = 0

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def n_battles(self) -> int:
        return int(self.count.sum())

    def __len__(self) -> int:
        return int(self.a.shape[0])

    def record(self) -> pd.DataFrame:
        """Per model: battles, wins, ties and losses (rows, unweighted), indexed by model."""
        m = self.n_models
        out, c = self.outcome, self.count

        def per_model(mask_a: np.ndarray, mask_b: np.ndarray) -> np.ndarray:
            return (np.bincount(self.a[mask_a], weights=c[mask_a], minlength=m)
                    + np.bincount(self.b[mask_b], weights=c[mask_b], minlength=m))

        every = np.ones(len(self), dtype=bool)
        tie = (out == Outcome.TIE) | (out == Outcome.TIE_BOTHBAD)
        n = per_model(every, every)
        wins = per_model(out == Outcome.A, out == Outcome.B)
        ties = per_model(tie, tie)
        return pd.DataFrame(
            {"n_battles": n, "wins": wins, "ties": ties, "losses": n - wins - ties},
            index=pd.Index(self.models, name="model"),
        ).astype(np.int64)


@dataclass(frozen=True, eq=False)
class CountedLog:
    """A battle log known by its counts only: one too large to hold, read batch by batch
    (:func:`wizardarena.battle_stream.read_counts`). The Bradley-Terry fits that work on
    counts (plain, ties, anchors, the position effect, battle and prompt bootstraps, the
    sandwich) take it where they take a :class:`BattleLog`; what needs the battles
    themselves (online Elo, style features, position consistency) does not.

    Attributes
    ----------
    data : Counts
        The counts, grouped by :attr:`group` when set (the prompt column of
        ``unit="prompt"``).
    group : str or None
        The column the counts are grouped by.
    columns : tuple of str
        Every column of the log (what :meth:`has_column` answers for, besides ``group``).
    """

    data: Counts
    group: str | None = None
    columns: tuple[str, ...] = ()

    @property
    def models(self) -> tuple[str, ...]:
        return self.data.models

    @property
    def n_models(self) -> int:
        return self.data.n_models

    @property
    def n_battles(self) -> int:
        return self.data.n_battles

    @property
    def extra_columns(self) -> list[str]:
        return [c for c in self.columns if c not in CORE_COLUMNS]

    def has_column(self, name: str) -> bool:
        return name in self.columns or name == self.group

    def counts(self, *, group: str | None = None) -> Counts:
        """The counts, grouped by ``group`` (the column they were read with) or collapsed
        over every group (None): the same rows :meth:`BattleLog.counts` gives."""
        c = self.data
        if group is not None and group != self.group:
            raise ValidationError(
                f"the battle log was read grouped by {self.group!r}, not by {group!r}; read "
                "it again with the prompt column you resample by")
        if group is not None or c.group is None:
            return c
        m = c.n_models
        key, weight, count = collapse((c.a.astype(np.int64) * m + c.b) * 4 + c.outcome,
                                      c.weight, c.count)
        assert weight is not None
        return counts_from_keys(c.models, key, weight, count)

    def record(self) -> pd.DataFrame:
        """Per model: battles, wins, ties and losses (rows, unweighted), indexed by model."""
        return self.data.record()


@dataclass(frozen=True, eq=False)
class BattleLog:
    """A validated battle log, encoded to integer codes.

    Build one with :func:`read_battles` (any supported source) or :meth:`from_frame`.

    Attributes
    ----------
    models : tuple of str, length M
        Sorted model names; codes index into it.
    a, b : ndarray of int32, shape (N,)
        Codes of ``model_a`` (first slot) and ``model_b``.
    outcome : ndarray of int8, shape (N,)
        :class:`Outcome` codes from the point of view of ``model_a``.
    weight : ndarray of float64, shape (N,), or None
        Row weights; None means every row weighs 1.
    extra : DataFrame or None
        The other columns (``question_id``, ``judge``, ``game``, ``category``, ...), row-aligned
        (converted from Arrow on first use; :meth:`column` converts one column only).
    """

    models: tuple[str, ...]
    a: np.ndarray
    b: np.ndarray
    outcome: np.ndarray
    weight: np.ndarray | None = None
    _extra: pd.DataFrame | pa.Table | None = field(default=None, repr=False)

    @cached_property
    def extra(self) -> pd.DataFrame | None:
        if isinstance(self._extra, pa.Table):
            return self._extra.to_pandas()
        return self._extra

    @property
    def extra_columns(self) -> list[str]:
        """Names of the optional columns, without converting them."""
        if self._extra is None:
            return []
        if isinstance(self._extra, pa.Table):
            return list(self._extra.column_names)
        return [str(c) for c in self._extra.columns]

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrow(
        cls,
        table: pa.Table,
        *,
        outcomes: str | Vocabulary = Vocabulary.FASTCHAT,
        strong_weight: float = 1.0,
        normalize_names: bool | None = False,
    ) -> BattleLog:
        """Validate and encode a pyarrow table (see :func:`read_battles` for the options).

        ``normalize_names=None`` leaves names that differ only by case or spaces alone, for
        a caller that checks the names of a whole log read in pieces."""
        vocab = _vocabulary(outcomes)
        if not np.isfinite(strong_weight) or strong_weight <= 0:
            raise ValidationError(f"strong_weight must be a positive number; got {strong_weight!r}")
        names = table.column_names
        need = _required_columns(names, vocab)
        if table.num_rows == 0:
            raise ValidationError("battle log is empty: at least one battle is needed")
        a_name, b_name = need[0], need[1]
        a, b, models = _model_codes(table.column(a_name), table.column(b_name), (a_name, b_name))
        if normalize_names is not None:
            a, b, models = _checks().name_groups(models, a, b, (a_name, b_name),
                                                 normalize_names)
        same = np.flatnonzero(a == b)
        if same.size:
            raise ValidationError(
                f"a model cannot battle itself: {a_name} == {b_name} at "
                + _show(same, [models[a[r]] for r in same[:_MAX_SHOWN]])
            )
        if vocab is Vocabulary.NUMERIC:
            outcome, weight = _numeric_outcomes(table.column("winner")), None
        else:
            outcome, weight = _label_outcomes(table.column("winner"), vocab, strong_weight)
        if "weight" in names:
            col = table.column("weight")
            if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
                raise ValidationError(f"column 'weight' must be numeric; got type {col.type}")
            w = np.asarray(col.to_numpy(zero_copy_only=False), dtype=float)
            bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
            if bad.size:
                raise ValidationError(
                    "column 'weight' must hold finite non-negative numbers; "
                    + _show(bad, w[bad[:_MAX_SHOWN]].tolist())
                )
            weight = w if weight is None else weight * w
        drop = {a_name, b_name, "winner", "weight"}
        if vocab is Vocabulary.LEFT_RIGHT:
            drop |= {"model_a", "model_b"} & set(names)
        keep = [c for c in names if c not in drop]
        extra = table.select(keep) if keep else None
        return cls(models=models, a=a, b=b, outcome=outcome, weight=weight, _extra=extra)

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        outcomes: str | Vocabulary = Vocabulary.FASTCHAT,
        strong_weight: float = 1.0,
        normalize_names: bool = False,
    ) -> BattleLog:
        """Validate and encode a pandas DataFrame (see :func:`read_battles`)."""
        if not isinstance(frame, pd.DataFrame):
            raise ValidationError(f"expected a pandas DataFrame; got {type(frame).__name__}")
        frame = frame.reset_index(drop=True)
        _required_columns([str(c) for c in frame.columns], _vocabulary(outcomes))
        arrays = {}
        for name in frame.columns:
            col = frame[name]
            if str(name) in ("model_a", "model_b", "left", "right") or (
                str(name) == "winner" and _vocabulary(outcomes) is not Vocabulary.NUMERIC
            ):
                arrays[str(name)] = _column_to_arrow(col, str(name))
            elif str(name) in ("winner", "weight"):
                try:
                    arrays[str(name)] = pa.array(col, from_pandas=True)
                except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                    raise ValidationError(f"column {name!r} must be numeric: {exc}") from exc
        table = pa.table(arrays) if arrays else pa.table({})
        log = cls.from_arrow(table, outcomes=outcomes, strong_weight=strong_weight,
                             normalize_names=normalize_names)
        drop = {"model_a", "model_b", "winner", "weight"}
        if _vocabulary(outcomes) is Vocabulary.LEFT_RIGHT:
            drop |= {"left", "right"}
        keep = [c for c in frame.columns if str(c) not in drop]
        extra = frame[keep].copy() if keep else None
        return cls(
            models=log.models, a=log.a, b=log.b, outcome=log.outcome, weight=log.weight,
            _extra=extra,
        )

    # ------------------------------------------------------------------ basic views
    @property
    def n_battles(self) -> int:
        """Number of rows (battles)."""
        return int(self.a.shape[0])

    @property
    def n_models(self) -> int:
        return len(self.models)

    def __len__(self) -> int:
        return self.n_battles

    def __repr__(self) -> str:
        cols = self.extra_columns
        return f"BattleLog({self.n_battles} battles, {self.n_models} models, extra columns {cols})"

    def column(self, name: str) -> pd.Series:
        """An optional column (``question_id``, ``category``, ...), raising when absent."""
        if name not in self.extra_columns:
            raise ValidationError(
                f"the battle log has no column {name!r}; its optional columns are "
                f"{self.extra_columns}"
            )
        if isinstance(self._extra, pa.Table) and "extra" not in self.__dict__:
            return self._extra.column(name).to_pandas().rename(name)
        return cast(pd.DataFrame, self.extra)[name]

    def has_column(self, name: str) -> bool:
        return name in self.extra_columns

    def to_frame(self) -> pd.DataFrame:
        """The log as a DataFrame with canonical columns (``winner`` in FastChat labels)."""
        models = np.asarray(self.models, dtype=object)
        out = pd.DataFrame(
            {
                "model_a": models[self.a] if self.n_battles else np.array([], dtype=object),
                "model_b": models[self.b] if self.n_battles else np.array([], dtype=object),
                "winner": np.asarray(WINNER_LABELS, dtype=object)[self.outcome],
            }
        )
        if self.weight is not None:
            out["weight"] = self.weight
        if self.extra is not None:
            for c in self.extra.columns:
                out[c] = self.extra[c].to_numpy()
        return out

    def subset(self, mask: np.ndarray) -> BattleLog:
        """Rows where ``mask`` is true, re-encoded to the models still present."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != self.a.shape:
            raise ValidationError(
                f"mask must have one entry per battle ({self.n_battles}); got shape {mask.shape}"
            )
        if not mask.any():
            raise ValidationError("the selection leaves no battles")
        a, b = self.a[mask], self.b[mask]
        present = np.unique(np.concatenate([a, b]))
        remap = np.full(self.n_models, -1, dtype=np.int32)
        remap[present] = np.arange(present.size, dtype=np.int32)
        extra: pd.DataFrame | pa.Table | None
        if isinstance(self._extra, pa.Table) and "extra" not in self.__dict__:
            extra = self._extra.filter(pa.array(mask))
        else:
            extra = None if self.extra is None else self.extra.loc[mask].reset_index(drop=True)
        return BattleLog(
            models=tuple(self.models[i] for i in present),
            a=remap[a],
            b=remap[b],
            outcome=self.outcome[mask],
            weight=None if self.weight is None else self.weight[mask],
            _extra=extra,
        )

    # ------------------------------------------------------------------ aggregation
    def group_codes(self, name: str) -> tuple[np.ndarray, int]:
        """Integer codes (int64, shape (N,)) of the values of column ``name``, in order of
        first appearance, and the number of distinct values. Missing values raise."""
        codes, values = self._factorized(name)
        return codes, len(values)

    def group_values(self, name: str) -> np.ndarray:
        """The distinct values of column ``name`` in order of first appearance (what
        :meth:`group_codes` numbers), as an object array."""
        return self._factorized(name)[1]

    def _factorized(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``pd.factorize`` of column ``name`` (checked for missing values), once per log."""
        cache: dict[str, tuple[np.ndarray, np.ndarray]] = self.__dict__.setdefault(
            "_factorized_columns", {})
        if name not in cache:
            col = self.column(name)
            if col.isna().any():
                rows = np.flatnonzero(col.isna().to_numpy())
                raise ValidationError(
                    f"column {name!r} has missing values at "
                    + _show(rows, [None] * min(rows.size, _MAX_SHOWN))
                    + f"; every battle needs a {name} to resample by {name}"
                )
            codes, uniques = pd.factorize(col, sort=False)
            cache[name] = (codes.astype(np.int64), np.asarray(uniques, dtype=object))
        return cache[name]

    def counts(self, *, group: str | None = None) -> Counts:
        """Collapse to unique ``(group, a, b, outcome, weight)`` rows with their counts.

        Parameters
        ----------
        group : str, optional
            Column whose values define resampling clusters (``"question_id"`` for the
            prompt bootstrap). Missing values in it raise.
        """
        m = self.n_models
        key = (self.a.astype(np.int64) * m + self.b) * 4 + self.outcome
        n_keys = m * m * 4
        gcodes: np.ndarray | None = None
        n_groups = 0
        if group is not None:
            gcodes, n_groups = self.group_codes(group)
            key = gcodes * n_keys + key
            n_keys = n_keys * n_groups
        if self.weight is None:
            if n_keys <= 4 * max(self.n_battles, 1_000_000):
                cnt = np.bincount(key, minlength=n_keys)
                uniq = np.flatnonzero(cnt)
                count = cnt[uniq]
            else:
                uniq, count = np.unique(key, return_counts=True)
            weight = np.ones(uniq.shape[0])
        else:
            uniq, w, count = collapse(key, self.weight)
            assert w is not None
            weight = w
        return counts_from_keys(self.models, uniq, weight, count, grouped=group is not None,
                                n_groups=n_groups)

    def record(self) -> pd.DataFrame:
        """Per model: battles, wins, ties and losses (rows, unweighted), indexed by model."""
        return self.counts().record()

    # ------------------------------------------------------------------ writers
    def to_parquet(self, path: str | os.PathLike[str]) -> None:
        """Write the log (canonical columns plus extras) to Parquet, atomically."""
        frame = self.to_frame()
        atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))

    def to_jsonl(self, path: str | os.PathLike[str]) -> None:
        """Write the log as JSON Lines, atomically."""
        frame = self.to_frame()
        atomic_write(
            path, lambda tmp: frame.to_json(tmp, orient="records", lines=True, force_ascii=False)
        )

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write the log as CSV, atomically."""
        frame = self.to_frame()
        atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


def _vocabulary(outcomes: str | Vocabulary) -> Vocabulary:
    try:
        return Vocabulary(outcomes)
    except ValueError:
        raise ValidationError(
            Param("outcomes"), f" must be one of {[v.value for v in Vocabulary]}; got "
            f"{outcomes!r}"
        ) from None


# --------------------------------------------------------------------------- readers


def read_battles(
    source: BattleSource,
    *,
    outcomes: str | Vocabulary = Vocabulary.FASTCHAT,
    strong_weight: float = 1.0,
    format: str | None = None,
    normalize_names: bool = False,
) -> BattleLog:
    """Read and validate a battle log from any supported source.

    Parameters
    ----------
    source : BattleLog, DataFrame, pyarrow.Table, list of dict, or path
        A path ending in ``.parquet``, ``.jsonl``, ``.json`` (a JSON list of records, as
        FastChat's ``clean_battle`` files) or ``.csv`` (optionally ``.gz``).
    outcomes : str, default "fastchat"
        The vocabulary of the ``winner`` column; see :class:`Vocabulary`. Never guessed.
    strong_weight : float, default 1.0
        Weight of a strong Arena-Hard verdict (``A>>B``); Arena-Hard itself uses 3.
    format : {"parquet", "jsonl", "json", "csv"}, optional
        Overrides the format implied by the file name.
    normalize_names : bool, default False
        Model names that differ only by case or surrounding spaces (``'gpt-4 '``,
        ``'GPT-4'``) raise by default, listing each group; with True each group is merged
        into its most frequent spelling and a ``DataWarning`` says which.

    Returns
    -------
    BattleLog

    Raises
    ------
    ValidationError
        Missing columns, unknown winner labels, empty or missing model names, names that
        differ only by case or spaces, a model battling itself, negative or NaN weights, an
        empty log, an unknown file format. Where another vocabulary or layout would read the
        log, the message names it.
    """
    kw: dict[str, Any] = dict(outcomes=outcomes, strong_weight=strong_weight,
                              normalize_names=normalize_names)
    if isinstance(source, BattleLog):
        return source
    if isinstance(source, pd.DataFrame):
        return BattleLog.from_frame(source, **kw)
    if isinstance(source, pa.Table):
        return BattleLog.from_arrow(source, **kw)
    if isinstance(source, (str, os.PathLike)):
        return BattleLog.from_arrow(_read_table(Path(source), format), **kw)
    if isinstance(source, Iterable) and not isinstance(source, (bytes, Mapping)):
        records = list(source)
        bad = [i for i, r in enumerate(records) if not isinstance(r, Mapping)]
        if bad:
            raise ValidationError(
                "a list of battles must hold one dict per battle; "
                + _show(np.asarray(bad), [type(records[i]).__name__ for i in bad[:_MAX_SHOWN]])
            )
        return BattleLog.from_frame(pd.DataFrame.from_records(records), **kw)
    raise ValidationError(
        "battles must be a path, a pandas DataFrame, a pyarrow Table, a list of dicts or a "
        f"BattleLog; got {type(source).__name__}"
    )


_FORMATS = ("parquet", "jsonl", "json", "csv")


def _read_table(path: Path, format: str | None) -> pa.Table:
    if not path.exists():
        raise ValidationError(f"battle log file not found: {str(path)!r}")
    if format is None:
        suffixes = [s.lower() for s in path.suffixes]
        if suffixes and suffixes[-1] in (".gz", ".bz2", ".zst", ".xz"):
            suffixes = suffixes[:-1]
        format = suffixes[-1].lstrip(".") if suffixes else ""
        if format == "pq":
            format = "parquet"
        if format == "ndjson":
            format = "jsonl"
    if format not in _FORMATS:
        raise ValidationError(
            f"cannot tell the format of {str(path)!r}: expected a name ending in .parquet, "
            f".jsonl, .json or .csv, or format= one of {list(_FORMATS)}; got {format!r}"
        )
    try:
        if format == "parquet":
            import pyarrow.parquet as pq

            schema = pq.read_schema(path)
            text = [f.name for f in schema if pa.types.is_string(f.type)
                    or pa.types.is_large_string(f.type)]
            # dictionary pages decode straight to codes: no per-row strings are built
            return pq.read_table(path, read_dictionary=text)
        if format == "jsonl":
            return pa.Table.from_pandas(
                pd.read_json(path, lines=True, dtype=False), preserve_index=False
            )
        if format == "csv":
            return pa.Table.from_pandas(
                pd.read_csv(path, dtype={"model_a": str, "model_b": str}, keep_default_na=True),
                preserve_index=False,
            )
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (ValueError, OSError, pa.ArrowException) as exc:
        raise ValidationError(f"could not read {str(path)!r} as {format}: {exc}") from exc
    if not isinstance(data, list):
        raise ValidationError(
            f"{str(path)!r}: a .json battle log must be a JSON list of battle records "
            f"(FastChat clean_battle format); got a JSON {type(data).__name__}"
        )
    return pa.Table.from_pandas(pd.DataFrame.from_records(data), preserve_index=False)
