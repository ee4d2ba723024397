"""From a battle log to a :class:`~wizardarena.ratings.result.RatingResult`: the one fit path.

Read top to bottom, every Bradley-Terry fit is:

1. **design** (:mod:`~wizardarena.ratings.design`): pairs, the optional feature block (style
   features, the first-slot position effect), the tie model; the log collapsed to categories;
2. **diagnosis**: models without a finite maximum-likelihood rating (undefeated, winless,
   disconnected) are named, warned about and marked; features that are determined by which
   models play are warned about;
3. **point fit** (:mod:`~wizardarena.ratings.solver`): one batched damped-Newton solve;
4. **intervals**: bootstrap replicates drawn by the one sampler module
   (:mod:`~wizardarena.ratings.sampling`) and solved by the same solver from the point fit,
   or the closed-form sandwich (:mod:`~wizardarena.ratings.sandwich`), or none;
5. **assembly** (:mod:`~wizardarena.ratings.result`): Elo scale, centring on the identified
   models or the anchor, quantiles, ranks, diagnostics.

Online Elo (``method="elo"``) is the order-dependent alternative; its replicates go through
the same assembler.

A log too large to hold arrives as a :class:`~wizardarena.battles.CountedLog` (its counts,
read batch by batch): step 1 starts from those counts instead of collapsing battles, and
everything after is the same code. Online Elo and style features need the battles and
refuse it.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from wizardarena._blas import single_threaded_blas
from wizardarena.battles import BattleLog, CountedLog, Outcome
from wizardarena.battles.checks import check_anchor, check_prompt_column
from wizardarena.exceptions import (
    ConvergenceError,
    ConvergenceWarning,
    DataWarning,
    Param,
    RidgeWarning,
    ValidationError,
)
from wizardarena.progress import ProgressCallback
from wizardarena.ratings.design import Categories, Design, Ties, build_design, diagnose
from wizardarena.ratings.elo import online_elo, online_elo_replicates
from wizardarena.ratings.features import AnswerSource, FeatureBlock, feature_block
from wizardarena.ratings.options import CI, Method, Point, RatingOptions, Unit
from wizardarena.ratings.position import PositionBias, position_stats
from wizardarena.ratings.result import (
    FitInfo,
    RatingResult,
    Scale,
    Uncertainty,
    assemble,
    pair_battles,
)
from wizardarena.ratings.sampling import run_chunks, sampler_for
from wizardarena.ratings.sandwich import sandwich_covariance
from wizardarena.ratings.solver import solve

__all__ = ["category_seed", "fit", "fit_log", "resolve_seed"]


def resolve_seed(rng: int | np.random.Generator | None
                 ) -> tuple[np.random.Generator, int | None]:
    """A generator and the integer seed to record (drawn from the OS when ``rng`` is None)."""
    if isinstance(rng, np.random.Generator):
        return rng, None
    if rng is None:
        entropy = np.random.SeedSequence().entropy
        seed = int(entropy) % (2**63)  # type: ignore[arg-type]
        return np.random.default_rng(seed), seed
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng)), int(rng)
    raise ValidationError(f"rng must be an int, a numpy Generator or None; got {rng!r}")


def fit(
    log: BattleLog | CountedLog,
    options: RatingOptions | None = None,
    *,
    features: FeatureBlock | None = None,
    rng: int | np.random.Generator | None = None,
    progress: ProgressCallback | None = None,
    stacklevel: int = 2,
) -> RatingResult:
    """Fit ratings and intervals on a validated :class:`BattleLog` (or the counts of one,
    :class:`CountedLog`) with ``options`` (default :class:`RatingOptions`); see
    :func:`wizardarena.rank`.

    ``features`` is the style block of the log (:func:`~wizardarena.ratings.features.
    feature_block`, built from ``options.style``). Runs with BLAS limited to one thread
    (multi-threaded OpenBLAS is several times slower on these small kernels).
    ``stacklevel`` makes warnings point at the caller's caller. ``progress`` gets a
    :class:`~wizardarena.progress.Progress` event (stage ``"bootstrap"``) after each chunk
    of Bradley-Terry bootstrap replicates.
    """
    opts = options if options is not None else RatingOptions()
    if not isinstance(opts, RatingOptions):
        raise ValidationError(
            f"options must be a RatingOptions; got {type(opts).__name__}")
    with single_threaded_blas():
        return _fit(log, opts, features=features, rng=rng, progress=progress,
                    stacklevel=stacklevel + 2)


def fit_log(
    log: BattleLog | CountedLog,
    options: RatingOptions | None = None,
    *,
    answers: AnswerSource | None = None,
    tokenizer: Callable[[str], int] | None = None,
    by: str | None = None,
    rng: int | np.random.Generator | None = None,
    progress: ProgressCallback | None = None,
    stacklevel: int = 2,
) -> RatingResult | dict[str, RatingResult]:
    """:func:`fit` of a log with its style features (``options.style``, from ``answers``
    or the log's columns) or split by a column (``by``: one result per value).

    Each value of ``by`` gets its own seed, derived from the seed and the value alone
    (:func:`category_seed`), so a category's intervals do not depend on which other
    categories exist. ``stacklevel`` as :func:`fit`'s.
    """
    opts = options if options is not None else RatingOptions()
    features = None
    if opts.styled:
        if by is not None:
            raise ValidationError("style= and by= cannot be combined; split the log first")
        if not isinstance(log, BattleLog):
            raise ValidationError(
                Param("style", repr(opts.style)), " needs every battle in memory, and a "
                "dataset is read batch by batch into counts: rank one file (or a DataFrame) "
                "instead")
        assert opts.style is not None and opts.style is not False  # styled
        features = feature_block(log, opts.style, answers=answers, tokenizer=tokenizer,
                                 standardize=opts.standardize, stacklevel=stacklevel + 1)
    if by is None:
        return fit(log, opts, features=features, rng=rng, progress=progress,
                   stacklevel=stacklevel + 1)
    if not isinstance(log, BattleLog):
        raise ValidationError(
            Param("by", repr(by)), " needs every battle in memory, and a dataset is read "
            "batch by batch into counts: rank one file (or a DataFrame) instead, e.g. each "
            "category's file on its own")
    col = log.column(by)
    if col.isna().any():
        rows = np.flatnonzero(col.isna().to_numpy())[:5].tolist()
        raise ValidationError(f"column {by!r} has missing values (rows {rows}); cannot split by it")
    gen, _ = resolve_seed(rng)
    base_seed = int(gen.integers(2**63))
    out: dict[str, RatingResult] = {}
    values = col.to_numpy()
    for value in sorted(set(values.tolist()), key=str):
        sub = log.subset(values == value)
        if sub.n_models < 2:
            raise ValidationError(
                f"{by}={value!r} has battles of fewer than two models; cannot rank it"
            )
        out[str(value)] = fit(sub, opts, rng=category_seed(base_seed, value), progress=progress,
                              stacklevel=stacklevel + 1)
    return out


def category_seed(seed: int, value: object) -> int:
    """The seed of one category of ``rank(by=...)``: a child of ``seed`` keyed by the value
    alone (CRC-32 of its text), so it does not depend on the other categories."""
    key = zlib.crc32(str(value).encode("utf-8"))
    state = np.random.SeedSequence(seed, spawn_key=(key,)).generate_state(2, np.uint64)
    return int((int(state[0]) << 1 ^ int(state[1])) % (2**63))


def _fit(log: BattleLog | CountedLog, o: RatingOptions, *, features: FeatureBlock | None,
         rng: int | np.random.Generator | None, progress: ProgressCallback | None,
         stacklevel: int) -> RatingResult:
    meth, ci_, unit_, tie_model = Method(o.method), CI(o.ci), Unit(o.unit), Ties(o.ties)
    point_ = o.point_estimate
    level, rounds, ridge, l2, tol, max_iter = o.level, o.rounds, o.ridge, o.l2, o.tol, o.max_iter
    position, cluster = o.position, o.cluster_column
    anchor_ = None if o.anchor is None else dict(o.anchor)
    check_anchor(log.models, anchor_)
    check_prompt_column(log.extra_columns, unit=unit_.value, ci=ci_.value, cluster=o.cluster)
    sc = Scale(factor=o.scale / np.log(o.base), init=float(o.init),
               anchor_idx=None if anchor_ is None else log.models.index(next(iter(anchor_))),
               anchor_value=0.0 if anchor_ is None else next(iter(anchor_.values())))
    gen, seed = resolve_seed(rng)
    if isinstance(log, CountedLog) and (meth is Method.ELO or features is not None):
        raise ValidationError(
            "online Elo and style control need every battle (their order, their answers), "
            "and a log read as counts (a dataset, batch by batch) has only its counts: rank "
            "one file (or a DataFrame), or use ", Param("method", "'bt'"), " without style")
    if meth is Method.ELO:
        assert isinstance(log, BattleLog)  # refused above
        return _fit_elo(log, ties=tie_model, ci=ci_, rounds=rounds, level=level,
                        anchor=anchor_, point=point_, k=o.k, scale=sc, base=o.base, gen=gen,
                        seed=seed, stacklevel=stacklevel + 1)
    # 1. design
    by_prompt = unit_ is Unit.PROMPT and ci_ is not CI.NONE
    block = _Features.of(features, position)
    make, record, pairs = _design_maker(log, tie_model, block, cluster if by_prompt else None)
    design, cats = make(block)
    if len(cats) == 0:
        raise ValidationError("ties='drop' leaves no battles: every battle is a tie")
    full = cats.full_stats()

    # 2. diagnosis
    ridge_models = diagnose(design, full, log.models)
    if ridge_models:
        shown = ", ".join(f"{mdl} ({why})" for mdl, why in list(ridge_models.items())[:10])
        warnings.warn(
            f"{len(ridge_models)} model(s) have no finite maximum-likelihood rating and are "
            f"held finite only by the ridge ({ridge:g}); their ratings and intervals are not "
            f"meaningful and they get no rank: {shown}",
            RidgeWarning, stacklevel=stacklevel,
        )
    position_note = ""
    if block.names:
        r2 = _confounding(design, full)
        if position and r2[-1] >= 1.0 - 1e-9:
            position_note = ("the order of presentation is determined by the models (e.g. "
                             "the same model is always shown first), so the first-slot "
                             "effect cannot be told apart from the ratings")
            warnings.warn(f"the first-slot effect is not identified: {position_note}; it is "
                          "left out of the fit and not reported", DataWarning,
                          stacklevel=stacklevel)
            block = block.without_position()
            design, cats = make(block)
            full = cats.full_stats()
            r2 = r2[:-1]
        bad = [name for name, v in zip(block.names, r2) if v >= 0.99]
        if bad:
            warnings.warn(
                f"feature(s) {bad} are (nearly) determined by which models play (R² ≥ 0.99 on "
                "the model identities), so their coefficients are confounded with the "
                "ratings; leave them out or add battles where they vary within a pair",
                DataWarning, stacklevel=stacklevel,
            )
    names = block.names
    identified = np.array([mdl not in ridge_models for mdl in log.models])

    # 3. point fit
    sol = solve(design, full, ridge=ridge, l2=l2, tol=tol, max_iter=max_iter)
    if not sol.converged[0]:
        raise ConvergenceError(
            f"the Bradley-Terry fit did not converge in {max_iter} Newton steps (relative "
            f"gradient {sol.gradient[0]:.3g} > tol={tol:g}); raise ",
            Param("max_iter", f"{max(2 * max_iter, 100)}"),
        )
    theta = sol.theta[0]

    # 4. intervals
    unc = Uncertainty()
    b_iter, b_conv = 0, 1.0
    if ci_ is CI.BOOTSTRAP:
        unc, b_iter, b_conv = _bootstrap(design, cats, theta, unit_, int(rounds), gen,
                                         ridge=ridge, l2=l2, tol=tol, max_iter=max_iter,
                                         progress=progress, stacklevel=stacklevel)
    elif ci_ is CI.SANDWICH:
        cov = sandwich_covariance(theta, design, cats, l2=l2, cluster=unit_ is Unit.PROMPT)
        unc = Uncertainty(covariance=cov)

    # 5. assembly
    info = FitInfo(
        method="bradley-terry" + ("+style" if block.style else "")
        + ("+position" if block.position else ""), ties=tie_model.value,
        ci=ci_.value, unit=unit_.value, rounds=int(rounds) if ci_ is CI.BOOTSTRAP else 0,
        level=float(level), seed=seed if ci_ is CI.BOOTSTRAP else None, anchor=anchor_,
        point=point_.value, n_iter=int(sol.n_iter[0]), converged=True,
        bootstrap_max_iter=b_iter, bootstrap_converged=b_conv, ridge=float(ridge),
        ridge_models=ridge_models, scale=float(o.scale), base=float(o.base),
        init=float(o.init),
        n_battles=log.n_battles, n_models=log.n_models,
        tie_param=float(np.exp(theta[-1])) if design.davidson else None,
        features=names, l2=float(l2) if names else 0.0,
        cluster=cluster if unit_ is Unit.PROMPT else None, gradient=float(sol.gradient[0]),
    )
    return assemble(
        models=log.models, record=record, theta=theta, identified=identified,
        notes=ridge_models, scale=sc, uncertainty=unc, level=level, point=point_.value,
        feature_names=names, feature_kinds=block.kinds, feature_center=block.center,
        feature_spread=block.spread, info=info,
        position=_position_bias(log, cluster, position, position_note, level),
        pairs=pairs, stacklevel=stacklevel,
    )


def _confounding(design: Design, full: Any) -> np.ndarray:
    """R² of each feature on the model identities (a weighted regression of ``x`` on
    ``e_i − e_j`` over the design rows, weights = battles): 1 means the feature is a
    function of which models play, and its coefficient is confounded with the ratings."""
    win, loss, tie = full
    n = (win + loss + (0 if tie is None else tie))[0]
    d = design.incidence[design.row_pair]  # (R, M): e_i − e_j per row
    wd = d.multiply(n[:, None]).tocsr()
    lap = (d.T @ wd).toarray()
    out = np.zeros(design.n_features)
    for c in range(design.n_features):
        x = design.x[:, c]
        a = np.linalg.lstsq(lap, wd.T @ x, rcond=None)[0]
        resid = x - d @ a
        total = float(np.sum(n * x * x))
        out[c] = 1.0 - float(np.sum(n * resid * resid)) / total if total > 0 else 1.0
    return out


@dataclass(frozen=True, eq=False)
class _Features:
    """The feature block of a fit: style features (per battle) and/or the position column."""

    style: FeatureBlock | None
    position: bool

    @classmethod
    def of(cls, style: FeatureBlock | None, position: bool) -> _Features:
        return cls(style if style is not None and style.names else None, position)

    def without_position(self) -> _Features:
        return _Features(self.style, False)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.style.names if self.style else ()) + (("position",) if self.position
                                                            else ())

    @property
    def kinds(self) -> tuple[str, ...]:
        return (self.style.kinds if self.style else ()) + (("position",) if self.position
                                                            else ())

    @property
    def center(self) -> np.ndarray:
        return np.r_[self.style.center if self.style else [], [0.0] * self.position]

    @property
    def spread(self) -> np.ndarray:
        return np.r_[self.style.spread if self.style else [], [1.0] * self.position]


def _design_maker(log: BattleLog | CountedLog, ties: Ties, block: _Features,
                  cluster: str | None
                  ) -> tuple[Callable[[_Features], tuple[Design, Categories]], pd.DataFrame,
                             pd.DataFrame]:
    """The builder of the design of a feature block, the models' records and the battles
    between each two models. Without
    per-battle (style) features the log is collapsed to counts first; the position column
    (``+1``: ``model_a`` was shown first) is the same for every battle, so it rides on the
    counts."""
    m = log.n_models
    if block.style is None:
        counts = log.counts(group=cluster)

        def from_counts(b: _Features) -> tuple[Design, Categories]:
            x = np.ones((len(counts), 1)) if b.position else None
            return build_design(m, counts.a, counts.b, counts.outcome, ties=ties,
                                weight=counts.weight, count=counts.count, x=x,
                                feature_names=b.names, group=counts.group,
                                n_groups=counts.n_groups)

        return (from_counts, counts.record(),
                pair_battles(log.models, counts.a, counts.b, counts.count))
    assert isinstance(log, BattleLog)  # style features are per battle (refused in _fit)
    group, n_groups = (None, 0) if cluster is None else log.group_codes(cluster)

    def from_battles(b: _Features) -> tuple[Design, Categories]:
        assert b.style is not None  # internal invariant
        x = b.style.x if not b.position else np.column_stack([b.style.x,
                                                              np.ones(log.n_battles)])
        return build_design(m, log.a, log.b, log.outcome, ties=ties, weight=log.weight, x=x,
                            feature_names=b.names, group=group, n_groups=n_groups)

    return from_battles, log.record(), pair_battles(log.models, log.a, log.b)


def _position_bias(log: BattleLog | CountedLog, cluster: str, fitted: bool, note: str,
                   level: float) -> PositionBias | None:
    """The position-bias report of a fit with ``position=True`` (None otherwise). From
    counts, the first-slot win rate only: consistency pairs up each prompt's verdicts."""
    if not fitted:
        return None
    if isinstance(log, CountedLog):
        c = log.data
        a_wins = int(c.count[c.outcome == Outcome.A].sum())
        decisive = a_wins + int(c.count[c.outcome == Outcome.B].sum())
        stats = PositionBias(a_wins / decisive if decisive else np.nan, np.nan, decisive, 0)
    else:
        stats = position_stats(log, prompt=cluster)
    return replace(stats, identified=not note, note=note, level=float(level))


def _bootstrap(design: Design, cats: Categories, theta: np.ndarray, unit: Unit, rounds: int,
               gen: np.random.Generator, *, ridge: float, l2: float, tol: float, max_iter: int,
               progress: ProgressCallback | None, stacklevel: int
               ) -> tuple[Uncertainty, int, float]:
    sampler = sampler_for(cats, unit.value)

    def work(stats: Any) -> tuple[np.ndarray, ...]:
        sol = solve(design, stats, init=theta, ridge=ridge, l2=l2, tol=tol, max_iter=max_iter)
        played, winless, undefeated = design.extremes(stats)
        return sol.theta, sol.n_iter, sol.converged, played, winless, undefeated

    parts = run_chunks(sampler, rounds, design.n_rows, gen, work, progress=progress)
    th = np.concatenate([p[0] for p in parts])
    it = np.concatenate([p[1] for p in parts])
    ok = np.concatenate([p[2] for p in parts])
    present = np.concatenate([p[3] for p in parts])
    winless = np.concatenate([p[4] for p in parts])
    undefeated = np.concatenate([p[5] for p in parts])
    if not ok.all():
        warnings.warn(
            f"{int((~ok).sum())} of {rounds} bootstrap fits did not converge in {max_iter} "
            "Newton steps; they are left out of the intervals (see the n_replicates column)",
            ConvergenceWarning, stacklevel=stacklevel,
        )
    return (Uncertainty(theta=th, present=present, ok=ok, winless=winless,
                        undefeated=undefeated), int(it.max()), float(ok.mean()))


def _fit_elo(log: BattleLog, *, ties: Ties, ci: CI, rounds: int, level: float,
             anchor: dict[str, float] | None, point: Point, k: float, scale: Scale,
             base: float, gen: np.random.Generator, seed: int | None,
             stacklevel: int) -> RatingResult:
    """Online Elo (its option combinations are checked by :class:`RatingOptions`)."""
    out = log.outcome
    is_tie = (out == Outcome.TIE) | (out == Outcome.TIE_BOTHBAD)
    keep = ~is_tie if ties is Ties.DROP else np.ones(log.n_battles, dtype=bool)
    if not keep.any():
        raise ValidationError("ties='drop' leaves no battles: every battle is a tie")
    sub = log if keep.all() else log.subset(keep)
    score = np.select([sub.outcome == Outcome.A, sub.outcome == Outcome.B], [1.0, 0.0], 0.5)
    m = sub.n_models
    kw: dict[str, Any] = dict(k=k, scale=scale.factor * np.log(base), base=base,
                              init=scale.init, weight=sub.weight)
    base_r = online_elo(sub.a, sub.b, score, m, **kw)
    to_nat = (base_r - scale.init) / scale.factor
    theta = np.zeros(log.n_models)
    pos = np.array([log.models.index(x) for x in sub.models])
    theta[pos] = to_nat
    unc = Uncertainty()
    if ci is CI.BOOTSTRAP:
        reps = online_elo_replicates(sub.a, sub.b, score, m, int(rounds), gen, **kw)
        th = np.zeros((int(rounds), log.n_models))
        th[:, pos] = (reps - scale.init) / scale.factor
        present = np.zeros((int(rounds), log.n_models), dtype=bool)
        present[:, pos] = True
        unc = Uncertainty(theta=th, present=present, ok=np.ones(int(rounds), dtype=bool))
    identified = np.isin(np.arange(log.n_models), pos)
    notes = {log.models[i]: "no battles left (all ties dropped)"
             for i in np.flatnonzero(~identified)}
    info = FitInfo(
        method="elo", ties=ties.value, ci=ci.value, unit="battle",
        rounds=int(rounds) if ci is CI.BOOTSTRAP else 0, level=float(level),
        seed=seed if ci is CI.BOOTSTRAP else None, anchor=anchor, point=point.value,
        n_iter=sub.n_battles, converged=True, bootstrap_max_iter=0, bootstrap_converged=1.0,
        ridge=0.0, ridge_models={}, scale=float(scale.factor * np.log(base)), base=float(base),
        init=float(scale.init), n_battles=log.n_battles, n_models=log.n_models, k=float(k),
    )
    return assemble(models=log.models, record=log.record(), theta=theta,
                    identified=identified, notes=notes, scale=scale, uncertainty=unc,
                    level=level, point=point.value, info=info,
                    pairs=pair_battles(log.models, log.a, log.b), stacklevel=stacklevel)
