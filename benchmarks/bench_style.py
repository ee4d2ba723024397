"""Benchmark: style-controlled Bradley-Terry with bootstrap, wizardarena vs arena-rank.

    python benchmarks/bench_style.py                      # 1M battles x 20 models x 4 features
    python benchmarks/bench_style.py --battles 100000 --rounds 200

Data: :func:`wizardarena.sim.simulate_style_battles` (a judge that rewards length and bold
text), seeded. wizardarena: ``wizardarena.rank(log, style=True, ...)`` (the one rating
engine) with ``rounds`` bootstrap replicates (battle resampling). Exactness: a few
replicates are drawn again through the engine's sampler and solved from zero to the
round-off floor (``tol=0``); their ratings are compared with the warm-started bootstrap
solves. arena-rank: its
``ContextualBradleyTerry`` (JAX, L-BFGS) with the sandwich CIs and with its bootstrap
(one L-BFGS fit per replicate, its ``fit_single_bootstrap_sample`` called in a loop: its
own ``multiprocessing`` pool deadlocks after JAX starts) at ``--ar-rounds`` replicates.

arena-rank pins numpy==2.3.3, so it lives in its own virtualenv (``--ar-python``, default
``/work/venv-arena-rank/bin/python``: ``python -m venv ... && pip install arena-rank
pyarrow``); this script runs it there in a subprocess on the same data (a temporary Parquet
file). Both sides get the same penalty: arena-rank's ``reg`` on its mean loss equals
wizardarena's ``l2 = reg · N``, and both z-score the features.

Prints a markdown table. Timings are wall-clock on whatever machine runs it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _models(m: int) -> dict[str, dict[str, float]]:
    rng = np.random.default_rng(123)
    skills = np.linspace(900, 1300, m)
    return {f"model-{i:02d}": {"skill": float(skills[i]),
                               "verbosity": float(rng.uniform(-1, 1.5)),
                               "markdown": float(rng.uniform(0, 1))} for i in range(m)}


def _worker(data: str, out: str, reg: float, rounds: int) -> None:  # runs in arena-rank's venv
    import pandas as pd
    from arena_rank.models.contextual_bradley_terry import ContextualBradleyTerry
    from arena_rank.utils.data_utils import ContextualPairDataset

    df = pd.read_parquet(data)
    feats = [c for c in df.columns if c.startswith("f_")]
    t0 = time.perf_counter()
    ds = ContextualPairDataset.from_pandas(df, feats, reweighted=False,
                                           normalize_features=True)
    t_data = time.perf_counter() - t0
    model = ContextualBradleyTerry(len(ds.competitors), len(feats), reg=reg)
    t0 = time.perf_counter()
    res = model.compute_ratings_and_cis(ds, ci_method="sandwich")
    t_sandwich = time.perf_counter() - t0
    result = {
        "competitors": list(ds.competitors), "ratings": np.asarray(res["ratings"]).tolist(),
        "coeffs": np.asarray(res["coeffs"]).tolist(),
        "lower": np.asarray(res["rating_lower"]).tolist(),
        "upper": np.asarray(res["rating_upper"]).tolist(),
        "t_data": t_data, "t_fit_sandwich": t_sandwich,
    }
    if rounds > 0:
        # arena-rank's own per-replicate function, called in a loop: its
        # compute_ratings_and_cis(ci_method="bootstrap") forks a multiprocessing pool after
        # JAX has started threads, which deadlocked here (workers idle at 0% CPU)
        import jax
        from arena_rank.models.contextual_bradley_terry import fit_single_bootstrap_sample

        keys = jax.random.split(jax.random.PRNGKey(0), rounds)
        t0 = time.perf_counter()
        reps = [np.asarray(fit_single_bootstrap_sample(k, model, ds)["ratings"]) for k in keys]
        result["t_bootstrap"] = time.perf_counter() - t0
        result["boot_ratings"] = np.stack(reps).tolist()
    Path(out).write_text(json.dumps(result))


def _exactness(log: Any, l2: float, k: int) -> float:
    """Max |Elo| difference between warm-started bootstrap solves (the engine's path, default
    tolerance) and solves from zero to the round-off floor, on ``k`` replicates."""
    from wizardarena.battles import read_battles
    from wizardarena.ratings.design import Ties, build_design
    from wizardarena.ratings.features import feature_block
    from wizardarena.ratings.sampling import BattleSampler
    from wizardarena.ratings.solver import solve

    battles = read_battles(log)
    fb = feature_block(battles, True, standardize="zscore")
    design, cats = build_design(battles.n_models, battles.a, battles.b, battles.outcome,
                                ties=Ties.HALF, x=fb.x, feature_names=fb.names)
    full = solve(design, cats.full_stats(), l2=l2)
    stats = BattleSampler(cats)(np.random.default_rng(123), k)
    warm = solve(design, stats, init=full.theta[0], l2=l2)
    cold = solve(design, stats, l2=l2, tol=0.0, max_iter=200)
    m = design.n_models
    assert warm.converged.all() and cold.converged.all()
    return float(np.max(np.abs(warm.theta[:, :m] - cold.theta[:, :m])) * 400 / np.log(10))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--battles", type=int, default=1_000_000)
    p.add_argument("--models", type=int, default=20)
    p.add_argument("--rounds", type=int, default=1000)
    p.add_argument("--ar-rounds", type=int, default=10,
                   help="arena-rank bootstrap replicates (each is a full L-BFGS fit)")
    p.add_argument("--reg", type=float, default=1.0, help="arena-rank reg (mean-loss scale)")
    p.add_argument("--ar-python", default="/work/venv-arena-rank/bin/python")
    p.add_argument("--skip-arena-rank", action="store_true")
    p.add_argument("--check", type=int, default=4,
                   help="replicates re-solved from zero to check exactness")
    p.add_argument("--arena-rank-worker", nargs=4, metavar=("DATA", "OUT", "REG", "ROUNDS"),
                   help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.arena_rank_worker:
        d, o, r, n = args.arena_rank_worker
        _worker(d, o, float(r), int(n))
        return 0

    import resource

    import pandas as pd

    from wizardarena.api import rank
    from wizardarena.ratings.style_features import STYLE_FEATURES, normalized_difference
    from wizardarena.sim import simulate_style_battles

    def fit_style(log: pd.DataFrame, **kw: object) -> Any:
        return rank(log, style=True, **kw)  # type: ignore[arg-type]

    models = _models(args.models)
    t0 = time.perf_counter()
    log = simulate_style_battles(models, args.battles, style_bias={"tokens": 1.5, "bold": 0.5},
                                 rng=0)
    t_sim = time.perf_counter() - t0
    n = len(log)
    l2 = args.reg * n
    rows = []

    t0 = time.perf_counter()
    point = fit_style(log, standardize="zscore", l2=l2, ci="none")
    t_point = time.perf_counter() - t0
    rows.append(("wizardarena rank(style=True), point fit (no CI)", t_point, point.info.n_iter))
    t0 = time.perf_counter()
    sw = fit_style(log, standardize="zscore", l2=l2, ci="sandwich")
    rows.append(("wizardarena rank(style=True), fit + sandwich CI", time.perf_counter() - t0,
                 sw.info.n_iter))
    t0 = time.perf_counter()
    boot = fit_style(log, standardize="zscore", l2=l2, rounds=args.rounds, rng=0)
    t_boot = time.perf_counter() - t0
    rows.append((f"wizardarena rank(style=True), {args.rounds} bootstrap rounds", t_boot,
                 boot.info.bootstrap_max_iter))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    exact = _exactness(log, l2, args.check)

    ar: dict[str, object] | None = None
    if not args.skip_arena_rank and Path(args.ar_python).exists():
        with tempfile.TemporaryDirectory() as tmp:
            frame = log[["model_a", "model_b", "winner"]].copy()
            for f in STYLE_FEATURES:
                frame[f"f_{f}"] = normalized_difference(log[f"{f}_a"], log[f"{f}_b"])
            data, out = Path(tmp) / "data.parquet", Path(tmp) / "out.json"
            frame.to_parquet(data)
            t0 = time.perf_counter()
            subprocess.run([args.ar_python, __file__, "--arena-rank-worker", str(data), str(out),
                            str(args.reg), str(args.ar_rounds)], check=True)
            t_total = time.perf_counter() - t0
            ar = json.loads(out.read_text())
        assert ar is not None
        rows.append(("arena-rank ContextualBradleyTerry, fit + sandwich CI",
                     float(ar["t_fit_sandwich"]), None))  # type: ignore[arg-type]
        if "t_bootstrap" in ar:
            rows.append((f"arena-rank bootstrap, {args.ar_rounds} rounds (its "
                         "fit_single_bootstrap_sample in a loop, 1 process)",
                         float(ar["t_bootstrap"]), None))  # type: ignore[arg-type]
        rows.append(("arena-rank subprocess total (JAX start, data, fits)", t_total, None))

    print(f"## Style control: {n:,} battles x {args.models} models x 4 features "
          f"(simulation {t_sim:.1f} s; peak RSS {peak:.0f} MiB)\n")
    print("| what | seconds | Newton iterations (max) |")
    print("|:---|---:|---:|")
    for name, sec, it in rows:
        print(f"| {name} | {sec:.1f} | {'' if it is None else it} |")
    if ar is not None and "t_bootstrap" in ar:
        per = float(ar["t_bootstrap"]) / args.ar_rounds  # type: ignore[arg-type]
        print(f"\narena-rank bootstrap: {per:.1f} s per replicate measured over "
              f"{args.ar_rounds}; {args.rounds} replicates would take about "
              f"{per * args.rounds / 60:.0f} min at that rate (extrapolated, not measured).")
    print(f"\nExact replicate fits: {args.check} replicates re-solved from zero to the round-off "
          f"floor differ from the warm-started bootstrap solves by at most {exact:.2e} Elo.")
    coef = boot.style
    print("\n| feature | wizardarena coef [95% CI] | arena-rank coef |")
    print("|:---|---:|---:|")
    for k, f in enumerate(coef.index):
        arc = "" if ar is None else f"{ar['coeffs'][k]:.4f}"  # type: ignore[index]
        print(f"| {f} | {coef.loc[f, 'coef']:.4f} [{coef.loc[f, 'lower']:.4f}, "
              f"{coef.loc[f, 'upper']:.4f}] | {arc} |")
    if ar is not None:
        ours = point.ratings
        theirs = pd.Series(ar["ratings"], index=ar["competitors"])  # type: ignore[arg-type]
        theirs = theirs - theirs.mean() + ours.mean()
        gap = (ours - theirs[ours.index]).abs()
        w_ours = (boot.table["upper"] - boot.table["lower"]).mean()
        lo = pd.Series(ar["lower"], index=ar["competitors"])  # type: ignore[arg-type]
        hi = pd.Series(ar["upper"], index=ar["competitors"])  # type: ignore[arg-type]
        print(f"\nPoint ratings, wizardarena vs arena-rank (same penalty): max |difference| = "
              f"{gap.max():.4f} Elo; mean CI width: wizardarena bootstrap {w_ours:.2f} Elo, "
              f"arena-rank sandwich {(hi - lo).mean():.2f} Elo.")
        cmax = np.max(np.abs(coef["coef"].to_numpy() - np.asarray(ar["coeffs"])))  # type: ignore[arg-type]
        print(f"Coefficients: max |difference| = {cmax:.2e}.")
    truth = pd.Series({k: v["skill"] for k, v in models.items()})
    from scipy.stats import spearmanr

    print(f"\nSpearman(true skill, style-controlled rating) = "
          f"{spearmanr(truth[boot.table.index], boot.table['rating']).statistic:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
