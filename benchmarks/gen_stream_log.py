"""A partitioned battle log for the streamed-ratings benchmark (``bench_ray.py ratings``).

Writes ``--files`` Parquet files of ``--rows-per-file`` battles each into ``--out`` (default
``benchmarks/_work/battles_100m``, git-ignored): 20 models with known Bradley-Terry ratings
(1000 .. 1380 Elo, 20 apart), uniformly random ordered pairs, 10% ties, 10,000 prompts;
``model_a``, ``model_b``, ``winner`` and ``question_id`` as dictionary-encoded strings (as
a Parquet writer of real logs stores them), row groups of 262,144 rows. Each file is drawn
from its own seed (``--seed`` + file index), so the dataset is reproducible file by file.

Usage::

    python benchmarks/gen_stream_log.py                       # 100 x 1M = 100M battles
    python benchmarks/gen_stream_log.py --files 10 --out benchmarks/_work/battles_10m
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

WORK = Path(__file__).resolve().parent / "_work"
MODELS = [f"model-{k:02d}" for k in range(20)]
RATINGS = 1000.0 + 20.0 * np.arange(len(MODELS))
LABELS = ["model_a", "model_b", "tie"]
PROMPTS = [f"q{k:05d}" for k in range(10_000)]


def one_file(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    m = len(MODELS)
    a = rng.integers(m, size=rows)
    b = (a + rng.integers(1, m, size=rows)) % m
    p_a = 1.0 / (1.0 + 10.0 ** ((RATINGS[b] - RATINGS[a]) / 400.0))
    u = rng.random(rows)
    tie = rng.random(rows) < 0.1
    winner = np.where(tie, 2, np.where(u < p_a, 0, 1))
    q = rng.integers(len(PROMPTS), size=rows)

    def dictionary(codes: np.ndarray, values: list[str]) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)),
                                              pa.array(values))

    return pa.table({"model_a": dictionary(a, MODELS), "model_b": dictionary(b, MODELS),
                     "winner": dictionary(winner, LABELS),
                     "question_id": dictionary(q, PROMPTS)})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--rows-per-file", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(WORK / "battles_100m"))
    args = ap.parse_args()
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    t0 = time.perf_counter()
    for k in range(args.files):
        pq.write_table(one_file(args.rows_per_file, args.seed + k),
                       out / f"part-{k:03d}.parquet", row_group_size=262_144)
    size = sum(f.stat().st_size for f in out.glob("*.parquet"))
    (out / "_truth.json").write_text(json.dumps(dict(zip(MODELS, RATINGS.tolist()))))
    print(f"{args.files * args.rows_per_file:,} battles in {args.files} files, "
          f"{size / 2**20:.0f} MiB, {time.perf_counter() - t0:.0f} s -> {out}")


if __name__ == "__main__":
    main()
