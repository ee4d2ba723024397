"""The battle log in memory: :class:`BattleLog`, validated and encoded to integer codes,
with its views, its counts and its writers."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import cast

import numpy as np
import pandas as pd
import pyarrow as pa

from wizardarena._io import atomic_write
from wizardarena.battles.checks import MAX_SHOWN, name_groups, required_columns, show_rows
from wizardarena.battles.counts import Counts, collapse, counts_from_keys
from wizardarena.battles.encoding import (
    column_to_arrow,
    label_outcomes,
    model_codes,
    numeric_outcomes,
)
from wizardarena.battles.schema import WINNER_LABELS, Vocabulary, vocabulary
from wizardarena.exceptions import ValidationError

__all__ = ["BattleLog"]


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
        vocab = vocabulary(outcomes)
        if not np.isfinite(strong_weight) or strong_weight <= 0:
            raise ValidationError(f"strong_weight must be a positive number; got {strong_weight!r}")
        names = table.column_names
        need = required_columns(names, vocab)
        if table.num_rows == 0:
            raise ValidationError("battle log is empty: at least one battle is needed")
        a_name, b_name = need[0], need[1]
        a, b, models = model_codes(table.column(a_name), table.column(b_name), (a_name, b_name))
        if normalize_names is not None:
            a, b, models = name_groups(models, a, b, (a_name, b_name),
                                                 normalize_names)
        same = np.flatnonzero(a == b)
        if same.size:
            raise ValidationError(
                f"a model cannot battle itself: {a_name} == {b_name} at "
                + show_rows(same, [models[a[r]] for r in same[:MAX_SHOWN]])
            )
        if vocab is Vocabulary.NUMERIC:
            outcome, weight = numeric_outcomes(table.column("winner")), None
        else:
            outcome, weight = label_outcomes(table.column("winner"), vocab, strong_weight)
        if "weight" in names:
            col = table.column("weight")
            if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
                raise ValidationError(f"column 'weight' must be numeric; got type {col.type}")
            w = np.asarray(col.to_numpy(zero_copy_only=False), dtype=float)
            bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
            if bad.size:
                raise ValidationError(
                    "column 'weight' must hold finite non-negative numbers; "
                    + show_rows(bad, w[bad[:MAX_SHOWN]].tolist())
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
        required_columns([str(c) for c in frame.columns], vocabulary(outcomes))
        arrays = {}
        for name in frame.columns:
            col = frame[name]
            if str(name) in ("model_a", "model_b", "left", "right") or (
                str(name) == "winner" and vocabulary(outcomes) is not Vocabulary.NUMERIC
            ):
                arrays[str(name)] = column_to_arrow(col, str(name))
            elif str(name) in ("winner", "weight"):
                try:
                    arrays[str(name)] = pa.array(col, from_pandas=True)
                except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                    raise ValidationError(f"column {name!r} must be numeric: {exc}") from exc
        table = pa.table(arrays) if arrays else pa.table({})
        log = cls.from_arrow(table, outcomes=outcomes, strong_weight=strong_weight,
                             normalize_names=normalize_names)
        drop = {"model_a", "model_b", "winner", "weight"}
        if vocabulary(outcomes) is Vocabulary.LEFT_RIGHT:
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
                    + show_rows(rows, [None] * min(rows.size, MAX_SHOWN))
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


