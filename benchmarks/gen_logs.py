"""Write the synthetic battle logs the ratings benchmark reads (Parquet, known truth).

Two logs, drawn by :func:`wizardarena.sim.battles.simulate_battles`:

``small``  1 000 000 battles × 20 models, 20 000 prompts
``large``  3 000 000 battles × 130 models, 60 000 prompts

Both have realistic, unbalanced pair frequencies (log-normal pair weights with σ = 1, times
a factor that favours pairs of similar strength, as an arena's sampler does; every pair
has positive weight so the comparison graph is connected), ties around 20 % of battles
(``tie_rate`` 0.35 between equal models), and a ``question_id`` column with a mild
per-prompt correlation (ρ = 0.3) so the prompt bootstrap has clusters to resample.

Columns: ``model_a``, ``model_b``, ``winner`` (FastChat labels), ``question_id``. The true
ratings go to ``<name>.truth.json`` beside each file.

Run ``python benchmarks/gen_logs.py`` (files land in ``benchmarks/_work/``, git-ignored);
existing files are kept unless ``--force``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wizardarena.sim.battles import simulate_battles

WORK = Path(__file__).resolve().parent / "_work"


@dataclass(frozen=True)
class LogSpec:
    """One synthetic log: name, size, models, prompts and seed."""

    name: str
    n_battles: int
    n_models: int
    n_prompts: int
    seed: int

    @property
    def path(self) -> Path:
        return WORK / f"{self.name}.parquet"

    @property
    def truth_path(self) -> Path:
        return WORK / f"{self.name}.truth.json"


SPECS: dict[str, LogSpec] = {
    "small": LogSpec("small", 1_000_000, 20, 20_000, seed=20),
    "large": LogSpec("large", 3_000_000, 130, 60_000, seed=130),
}


def true_ratings(n_models: int, rng: np.random.Generator) -> dict[str, float]:
    """Ratings ~ N(1000, 150²) rounded to 0.1, named ``model-000`` ...; shape (M,)."""
    r = np.round(rng.normal(1000.0, 150.0, size=n_models), 1)
    return {f"model-{k:03d}": float(v) for k, v in enumerate(r)}


def pair_weights(ratings: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unbalanced (M, M) pair weights: log-normal(σ=1) × (0.2 + exp(-|Δr|/200)), symmetric."""
    m = ratings.shape[0]
    w = rng.lognormal(0.0, 1.0, size=(m, m))
    w = np.triu(w, 1)
    w = w + w.T
    closeness = 0.2 + np.exp(-np.abs(ratings[:, None] - ratings[None, :]) / 200.0)
    out: np.ndarray = w * closeness
    np.fill_diagonal(out, 0.0)
    return out


def write_log(spec: LogSpec, *, force: bool = False) -> Path:
    """Draw the log of ``spec`` and write it (Parquet + truth JSON) atomically."""
    if spec.path.exists() and spec.truth_path.exists() and not force:
        return spec.path
    WORK.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    truth = true_ratings(spec.n_models, rng)
    weights = pair_weights(np.array(list(truth.values())), rng)
    frame = simulate_battles(
        truth, spec.n_battles, tie_rate=0.35, prompts=spec.n_prompts, prompt_effect=0.3,
        pair_weights=weights, rng=rng,
    )
    for target, writer in (
        (spec.path, lambda tmp: frame.to_parquet(tmp, index=False)),
        (spec.truth_path, lambda tmp: Path(tmp).write_text(json.dumps(truth, indent=1))),
    ):
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=WORK)
        os.close(fd)
        try:
            writer(tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return spec.path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"logs to write, of {list(SPECS)} (default: all)")
    parser.add_argument("--force", action="store_true", help="redraw existing files")
    args = parser.parse_args()
    unknown = [n for n in args.names if n not in SPECS]
    if unknown:
        parser.error(f"unknown log(s) {unknown}; expected some of {list(SPECS)}")
    for name in args.names or list(SPECS):
        t0 = time.perf_counter()
        path = write_log(SPECS[name], force=args.force)
        print(f"{name}: {path} ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
