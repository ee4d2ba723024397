"""Statistical checks on a leaderboard, as results (for the CI gate) and as assertions (for
pytest), with failure messages a person can act on.

Every pairwise check goes through :meth:`Leaderboard.compare` (paired bootstrap replicates or
the sandwich) and decides on a probability:

* ``better``: pass when ``P(rating_a − rating_b > by) ≥ level``: the data must show it;
* ``not worse``: fail when ``P(rating_new − rating_old < −margin) ≥ level``: a regression
  gate fails on evidence of a regression larger than the margin, so a model that truly is
  not worse by more than the margin fails at most ``1 − level`` of the time (measured in
  ``benchmarks/bench_gate.py``); with too few battles it passes, and its message says which
  regression it could have detected;
* ``rank at most k``: the board's rank (``1 + number of models whose interval lies entirely
  above``) is at most ``k``;
* ``order``: every consecutive pair of the list passes ``better`` (an intersection-union
  test: the whole order is confirmed at ``level`` without a multiplicity correction).

"How many more battles would settle it" assumes that the standard error of a difference
shrinks as ``1/√battles`` when the log grows in the same design (same pairs, same battles per
prompt) and that the estimated difference stays where it is.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from wizardarena.exceptions import ValidationError
from wizardarena.leaderboard import Leaderboard, RatingDifference, check_level

__all__ = [
    "CheckResult",
    "assert_better",
    "assert_not_worse",
    "assert_order",
    "assert_rank_at_most",
    "check_better",
    "check_not_worse",
    "check_order",
    "check_rank_at_most",
    "format_points",
    "format_probability",
]

#: power at which the "detectable regression" of a not-worse check is quoted
POWER = 0.8


@dataclass(frozen=True, eq=False)
class CheckResult:
    """The outcome of one check.

    Attributes
    ----------
    check : str
        What was checked, e.g. ``"ours not worse than baseline (margin 10)"``.
    kind : str
        ``"better"``, ``"not-worse"``, ``"rank"`` or ``"order"``.
    passed : bool
    decided : bool
        False when the battles cannot answer (a rating that is not identified, no shared
        replicates); ``passed`` is then False.
    message : str
        The explanation, several lines: ratings, difference and its interval, probability,
        battles, and what more battles would do.
    comparisons : tuple of RatingDifference
        The pairwise comparisons behind the check.
    probability : float
        The probability the decision rests on (NaN for ``rank``).
    more_battles : int or None
        About how many more battles in the same design would settle a failing ``better`` or
        ``order`` check (None when more battles would not help or cannot be estimated).
    detectable : float or None
        ``not-worse`` only: the regression (Elo points below ``old``) this log detects with
        80% probability.
    """

    check: str
    kind: str
    passed: bool
    decided: bool
    message: str
    comparisons: tuple[RatingDifference, ...] = ()
    probability: float = float("nan")
    more_battles: int | None = None
    detectable: float | None = None


# ------------------------------------------------------------------------------ checks
def check_better(board: Leaderboard, a: str, b: str, *, level: float = 0.95,
                 by: float = 0.0) -> CheckResult:
    """Is ``a`` rated above ``b`` (by more than ``by`` Elo points) with probability ≥ level?

    ``by`` may be negative: ``check_better(board, new, old, by=-10)`` asks for evidence that
    ``new`` is not worse than ``old`` by more than 10 points (a non-inferiority test, stricter
    than :func:`check_not_worse`).
    """
    level = check_level(level)
    by = _number(by, "by")
    c = board.compare(a, b)
    what = f"{a} better than {b}" + (f" by more than {_pts(by)}" if by else "")
    p = c.prob_above(by)
    head = _header(board, c)
    if not c.determined:
        return CheckResult(what, "better", False, False, _undetermined(what, c, head), (c,), p)
    lines = [*head, f"  probability: P({a} − {b} > {_pts(by)}) = {_p(p)}, needs ≥ {level:g}",
             *_battles(c)]
    passed = p >= level
    more = None
    if not passed:
        bound = c.bound(level, "lower")
        more, text = _to_settle(board, c, bound=bound, threshold=by, level=level)
        lines.append(f"  to settle:   {text}")
        lines.insert(0, f"{a!r} is not rated above {b!r}"
                     + (f" by more than {_pts(by)}" if by else "")
                     + f" with {_pct(level)} confidence.")
    else:
        lines.insert(0, f"{a!r} is rated above {b!r}"
                     + (f" by more than {_pts(by)}" if by else "")
                     + f" with {_pct(level)} confidence.")
    return CheckResult(what, "better", passed, True, "\n".join(lines), (c,), p, more)


def check_not_worse(board: Leaderboard, new: str, old: str, *, margin: float = 0.0,
                    level: float = 0.95) -> CheckResult:
    """A one-sided regression gate: fail when the board shows, with probability ≥ ``level``,
    that ``new`` is rated below ``old`` by more than ``margin`` Elo points."""
    level = check_level(level)
    margin = _number(margin, "margin")
    if margin < 0:
        raise ValidationError(f"margin must be ≥ 0 Elo points; got {margin!r}")
    c = board.compare(new, old)
    what = f"{new} not worse than {old}" + (f" (margin {margin:g})" if margin else "")
    head = _header(board, c)
    if not c.determined:
        return CheckResult(what, "not-worse", False, False, _undetermined(what, c, head), (c,))
    p_worse = 1.0 - c.prob_above(-margin)
    upper = c.bound(level, "upper")
    z = float(ndtri(level))
    se = (upper - c.difference) / z if np.isfinite(upper) else c.se
    detect = margin + (z + float(ndtri(POWER))) * se if np.isfinite(se) else None
    lines = [*head,
             f"  probability: P({new} worse than {old} by more than {margin:g}) = "
             f"{_p(p_worse)}; the gate fails at ≥ {level:g}", *_battles(c)]
    passed = p_worse < level
    if passed:
        lines.insert(0, f"{new!r} is not shown to be worse than {old!r} by more than "
                        f"{margin:g} Elo points at {_pct(level)}.")
        if detect is not None:
            lines.append(f"  sensitivity: with this log the check detects a regression of "
                         f"{detect:.1f} Elo points or more {POWER:.0%} of the time")
    else:
        lines.insert(0, f"{new!r} is worse than {old!r} by more than {margin:g} Elo points, "
                        f"with {_pct(level)} confidence.")
        lines.append("  to settle:   this is settled by the data, not a lack of battles: more "
                     "battles in the same design would make the regression clearer")
    return CheckResult(what, "not-worse", passed, True, "\n".join(lines), (c,), p_worse,
                       detectable=detect)


def check_rank_at_most(board: Leaderboard, model: str, k: int) -> CheckResult:
    """Is the board's rank of ``model`` (``1 +`` the number of models whose interval lies
    entirely above its interval, LMSYS) at most ``k``?"""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValidationError(f"k must be a positive integer rank; got {k!r}")
    model = board._model(model)
    what = f"{model} rank ≤ {k}"
    t = board.table
    rank_value: Any = t.at[model, "rank"]
    label = board.info.interval_label
    if pd.isna(rank_value):
        why = str(t.at[model, "note"]) or "the board has no intervals (ci='none')"
        msg = f"{what} cannot be decided: {model!r} has no rank ({why})."
        return CheckResult(what, "rank", False, False, msg)
    rank = int(rank_value)
    row: Any = t.loc[model]
    up = float(row["upper"])
    above = t[(t["lower"] > up) & (t.index != model)]
    passed = rank <= k
    lines = [f"{model!r} has rank {rank} " + ("≤" if passed else ">") + f" {k} on the board "
             f"({label}; rating {_r(row['rating'])}, interval [{_r(row['lower'])}, {_r(up)}])."]
    comps = []
    if len(above):
        lines.append(f"  {len(above)} model(s) lie entirely above it (lower bound > "
                     f"{_r(up)}):")
        for other in above.index:
            c = board.compare(str(other), model)
            comps.append(c)
            lines.append(f"    {other}: rating {_r(c.rating_a)}, interval "
                         f"[{_r(t.at[other, 'lower'])}, {_r(t.at[other, 'upper'])}]; "
                         f"{other} − {model} = {_pts(c.difference)} "
                         f"[{_pts(c.lower)}, {_pts(c.upper)}], P = {_p(c.prob)}, "
                         f"{c.n_battles} battles between them")
    if not passed:
        lines.append("  to settle:   more battles separate models further; the rank improves "
                     "only if these differences are smaller than estimated")
    return CheckResult(what, "rank", passed, True, "\n".join(lines), tuple(comps))


def check_order(board: Leaderboard, models: Sequence[str], *,
                level: float = 0.95) -> CheckResult:
    """Is every model of ``models`` rated above the next one with probability ≥ ``level``?"""
    if isinstance(models, str) or len(models) < 2:
        raise ValidationError(f"models must be a list of at least two model names; got "
                              f"{models!r}")
    if len(set(models)) != len(models):
        raise ValidationError(f"models must not repeat a name; got {list(models)}")
    level = check_level(level)
    parts = [check_better(board, a, b, level=level) for a, b in itertools.pairwise(models)]
    what = " > ".join(models)
    passed = all(p.passed for p in parts)
    decided = all(p.decided for p in parts)
    bad = [p for p in parts if not p.passed]
    status = "confirmed" if passed else "not confirmed"
    lines = [f"order {what} {status} at {_pct(level)} ({len(parts) - len(bad)} of "
             f"{len(parts)} consecutive pairs):"]
    for p in parts:
        c = p.comparisons[0]
        mark = "ok  " if p.passed else "FAIL"
        lines.append(f"  {mark} {c.a} > {c.b}: {c.a} − {c.b} = {_pts(c.difference)} "
                     f"[{_pts(c.lower)}, {_pts(c.upper)}], P = {_p(c.prob)}")
    for p in bad:
        lines.append("")
        lines.extend("  " + line for line in p.message.splitlines())
    more = [p.more_battles for p in bad]
    most = max(x for x in more if x is not None) if bad and None not in more else None
    prob = min(p.probability for p in parts)
    return CheckResult(what, "order", passed, decided, "\n".join(lines),
                       tuple(c for p in parts for c in p.comparisons), prob, most)


# -------------------------------------------------------------------------- assertions
def assert_better(board: Leaderboard, a: str, b: str, level: float = 0.95, *,
                  by: float = 0.0) -> None:
    """Assert that ``a`` is rated above ``b`` with probability ≥ ``level`` (see
    :func:`check_better`); the AssertionError says what it would take to settle it."""
    __tracebackhide__ = True
    _raise(check_better(board, a, b, level=level, by=by))


def assert_not_worse(board: Leaderboard, new: str, old: str, *, margin: float = 0.0,
                     level: float = 0.95) -> None:
    """Assert that the board does not show ``new`` worse than ``old`` by more than
    ``margin`` at ``level`` (one-sided; see :func:`check_not_worse`)."""
    __tracebackhide__ = True
    _raise(check_not_worse(board, new, old, margin=margin, level=level))


def assert_rank_at_most(board: Leaderboard, model: str, k: int) -> None:
    """Assert that ``model``'s rank on the board is at most ``k`` (see
    :func:`check_rank_at_most`)."""
    __tracebackhide__ = True
    _raise(check_rank_at_most(board, model, k))


def assert_order(board: Leaderboard, models: Sequence[str], *, level: float = 0.95) -> None:
    """Assert that the board ranks ``models`` in this order, each above the next with
    probability ≥ ``level`` (see :func:`check_order`)."""
    __tracebackhide__ = True
    _raise(check_order(board, models, level=level))


def _raise(result: CheckResult) -> None:
    __tracebackhide__ = True
    if not result.passed:
        raise AssertionError(result.message)


# ----------------------------------------------------------------------------- helpers
def _header(board: Leaderboard, c: RatingDifference) -> list[str]:
    info = board.info
    return [f"  ratings:     {c.a} {_r(c.rating_a)}, {c.b} {_r(c.rating_b)} "
            f"({info.interval_label}; {info.n_battles:,} battles)",
            f"  difference:  {c.a} − {c.b} = {_pts(c.difference)}, {_pct(c.level)} interval "
            f"[{_pts(c.lower)}, {_pts(c.upper)}]"]


def _battles(c: RatingDifference) -> list[str]:
    lines = [f"  battles:     {c.n_battles:,} between {c.a} and {c.b}"]
    if c.note:
        lines.append(f"  note:        {c.note}")
    return lines


def _undetermined(what: str, c: RatingDifference, head: list[str]) -> str:
    if c.note:
        why = (f"the battles do not determine the difference ({c.note}); with "
               f"ci='{c.method}' there is no usable estimate"
               + ("; try ci='bootstrap'" if c.method == "sandwich" else ""))
    else:
        why = "no bootstrap replicate holds both models"
    return "\n".join([f"{what} cannot be decided: {why}.", *head, *_battles(c)])


def _to_settle(board: Leaderboard, c: RatingDifference, *, bound: float, threshold: float,
               level: float) -> tuple[int | None, str]:
    """More battles that would lift the one-sided lower bound above ``threshold``."""
    d = c.difference
    if not (np.isfinite(bound) and np.isfinite(d)):
        return None, ("cannot be estimated: a rating is infinite in some replicates (a model "
                      "won or lost every game there); add battles against varied opponents")
    if d <= threshold:
        return None, (f"the estimated difference ({_pts(d)}) is not above {_pts(threshold)}: "
                      "more battles would more likely confirm this than reverse it")
    factor = ((d - bound) / (d - threshold)) ** 2
    extra = max(0, math.ceil(board.info.n_battles * (factor - 1.0)))
    if c.n_battles:
        pair = max(0, math.ceil(c.n_battles * (factor - 1.0)))
        where = f"about {pair:,} of them between {c.a} and {c.b}"
    else:
        where = (f"{c.a} and {c.b} never met: they are compared through common opponents, "
                 "and battles between them would settle it sooner")
    return extra, (f"about {extra:,} more battles in the same design (the log × {factor:.2g}; "
                   f"{where}) would lift the one-sided {_pct(level)} lower bound (now "
                   f"{_pts(bound)}) above {_pts(threshold)}, if the difference stays at "
                   f"{_pts(d)} (assuming the standard error shrinks as 1/√battles)")


def _number(x: float, name: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must be a number of Elo points; got {x!r}") from None
    if not np.isfinite(v):
        raise ValidationError(f"{name} must be finite; got {x!r}")
    return v


def _r(x: object) -> str:
    v = float(x)  # type: ignore[arg-type]
    return f"{v:.1f}" if np.isfinite(v) else ("inf" if v > 0 else "-inf" if v < 0 else "nan")


def format_points(x: float) -> str:
    """A rating difference in Elo points for a message: signed, one decimal."""
    v = float(x)
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "+inf" if v > 0 else "-inf"
    return "0" if v == 0 else f"{v:+.1f}"


def format_probability(p: float) -> str:
    """A probability for a message: three decimals."""
    return "nan" if np.isnan(p) else f"{p:.3f}"


_pts, _p = format_points, format_probability


def _pct(level: float) -> str:
    return f"{100 * level:g}%"
