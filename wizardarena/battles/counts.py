"""A battle log collapsed to counts: the sufficient statistics every fit works on.

:class:`Counts` holds each unique ``(group, model_a, model_b, outcome, weight)`` row once with
its number of battles; :class:`CountedLog` is a log known by its counts only (one read batch
by batch); :func:`collapse` and :func:`counts_from_keys` are the one collapse and the one key
decoder every reader uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from wizardarena.battles.schema import CORE_COLUMNS, Outcome
from wizardarena.exceptions import ValidationError

__all__ = ["CountedLog", "Counts", "collapse", "counts_from_keys"]


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
    (:func:`wizardarena.battles.streams.read_counts`). The Bradley-Terry fits that work on
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


