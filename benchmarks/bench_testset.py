"""Test-set benchmarks: clustering quality on Arena-Hard v0.1, and speed at 100k / 1M prompts.

Usage::

    python benchmarks/bench_testset.py                 # quality + speed at 100k and 1M
    python benchmarks/bench_testset.py --quality       # quality only
    python benchmarks/bench_testset.py --speed 100000  # one speed run (in this process)
    python benchmarks/bench_testset.py --sizes 100000  # speed runs, each in a subprocess

Quality: our k-means clusters of Arena-Hard v0.1's 500 prompts (k = 250) against its 250
labelled topic clusters (NMI, ARI, and a random-partition baseline), and the number of
labelled clusters covered by the k-means recipe (1 per cluster, k = 250 and k = 125) versus
random subsets of the same size. Needs ``../shared/data/arena_hard`` (skipped otherwise).
The selection rules against each other: ``bench_testset_coverage.py``.
Sentence-transformers rows appear when the extra (and a local model) is available.

Speed: ``build_testset`` with its defaults (normalise, clean with exact/prefix/MinHash
dedup, TF-IDF + SVD + residual sketch embed, calibrated threshold, k-means with k = 500,
embedding near-dup removal, facility-location selection of 1,000 prompts, coverage report)
on N prompts made from the real Arena-Hard prompts (v0.1 + v2.0) resampled with edits
(5% exact copies, 5% light edits, the rest new combinations), or from the built-in
synthetic prompts when the shared data is absent. Each size runs in a fresh subprocess;
peak memory is that process's ``ru_maxrss``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "arena_hard"


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


# ----------------------------------------------------------------------------- data


def base_prompts() -> list[str]:
    texts: list[str] = []
    for name in ("v0.1_question.jsonl", "v2.0_question.jsonl"):
        path = DATA / name
        if path.exists():
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    rec = json.loads(line)
                    p = rec.get("prompt") or rec.get("turns", [{}])[0].get("content", "")
                    if p:
                        texts.append(p)
    if not texts:
        from wizardarena.testset.prompts import example_prompts

        texts = example_prompts()["text"].tolist()
    return texts


def make_prompts(n: int, seed: int = 0) -> list[str]:
    """N prompts: 90% new ones assembled from real lines and words, 5% copies, 5% edits.

    A new prompt is 3 random vocabulary words, then 1-3 random lines of the real prompts
    (each cut to at most 300 characters), then 4 more random words.
    """
    rng = np.random.default_rng(seed)
    base = base_prompts()
    lines = sorted({ln.strip()[:300] for p in base for ln in p.splitlines() if len(ln) > 20})
    vocab = sorted({w for p in base for w in p.split() if 2 < len(w) < 15 and w.isalpha()})
    n_copy = n // 20
    n_edit = n // 20
    n_new = n - n_copy - n_edit
    k_lines = rng.integers(1, 4, size=n_new)
    li = rng.integers(len(lines), size=(n_new, 3))
    wi = rng.integers(len(vocab), size=(n_new, 7))
    new = [
        " ".join(vocab[w] for w in wi[r, :3]) + ": "
        + " ".join(lines[x] for x in li[r, : k_lines[r]]) + " "
        + " ".join(vocab[w] for w in wi[r, 3:])
        for r in range(n_new)
    ]
    copies = [new[i].upper() for i in rng.integers(n_new, size=n_copy)]
    edits = []
    for i in rng.integers(n_new, size=n_edit):
        w = new[i].split()
        w[int(rng.integers(len(w)))] = "edited"
        edits.append(" ".join(w))
    out = new + copies + edits
    order = rng.permutation(len(out))
    return [out[i] for i in order]


# ----------------------------------------------------------------------------- speed


def speed_run(n: int) -> dict[str, float]:
    """One speed measurement in this process (call in a fresh subprocess)."""
    from wizardarena.progress import Progress
    from wizardarena.testset import build_testset

    t0 = time.perf_counter()
    frame = pd.DataFrame({"prompt": make_prompts(n)})  # the input, as a user would hold it
    t_data = time.perf_counter() - t0
    marks: dict[str, float] = {}

    peaks: dict[str, float] = {}

    def progress(event: Progress) -> None:
        stage = event.stage
        marks.setdefault(f"{stage}_start", time.perf_counter())
        if event.finished:
            marks[f"{stage}_end"] = time.perf_counter()
            peaks[stage] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t1 = time.perf_counter()
    ts = build_testset(frame, n_clusters=500, per_cluster=2, rng=0, progress=progress)
    total = time.perf_counter() - t1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stages = {}
    for s in ("load", "clean", "embed", "cluster", "near-duplicates", "diverse"):
        if f"{s}_start" in marks and f"{s}_end" in marks:
            stages[s] = marks[f"{s}_end"] - marks[f"{s}_start"]
    summary = ts.summary()
    return {
        "n": n,
        "data_gen_s": t_data,
        "total_s": total,
        **{f"{k}_s": v for k, v in stages.items()},
        "peak_rss_mib": peak,
        "peak_rss_mib_by_stage_end": peaks,
        "rss_before_mib": rss_before,
        "kept": int(summary["kept"]),
        "dropped": int(summary["dropped"]),
        "dropped_exact": int(summary["dropped_exact_duplicate"]),
        "dropped_prefix": int(summary["dropped_prefix_duplicate"]),
        "dropped_minhash": int(summary["dropped_near_duplicate_minhash"]),
        "dropped_embedding": int(summary["dropped_near_duplicate_embedding"]),
        "diverse": int(summary["diverse"]),
    }


def speed_table(sizes: list[int]) -> str:
    rows = []
    for n in sizes:
        proc = subprocess.run(
            [sys.executable, __file__, "--speed", str(n)],
            capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            rows.append(f"| {n:,} | failed: {proc.stderr.strip().splitlines()[-1:]} |")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(
            f"| {n:,} | {r['total_s']:.1f} | {r.get('clean_s', float('nan')):.1f} | "
            f"{r.get('embed_s', float('nan')):.1f} | {r.get('cluster_s', float('nan')):.1f} | "
            f"{r.get('near-duplicates_s', float('nan')):.1f} | {r['peak_rss_mib']:.0f} | "
            f"{r['dropped_exact']:,} / {r['dropped_prefix']:,} / {r['dropped_minhash']:,} / "
            f"{r['dropped_embedding']:,} | {r['diverse']:,} |"
        )
    head = (
        "| prompts | total s | clean s | embed s | k-means s | emb. near-dup s | peak RSS MiB "
        "| dropped exact / prefix / MinHash / embedding | diverse |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---|---:|"
    )
    return head + "\n" + "\n".join(rows)


# ----------------------------------------------------------------------------- quality


def quality_table() -> str:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
    from threadpoolctl import threadpool_limits

    from wizardarena.testset import TfidfEmbedder, build_testset, cluster_embeddings
    from wizardarena.testset.embedders import SentenceTransformerEmbedder

    path = DATA / "v0.1_question.jsonl"
    if not path.exists():
        return "(Arena-Hard data absent: quality benchmark skipped)"
    q = pd.read_json(path, lines=True, dtype=False)
    labels = q["cluster"].to_numpy()
    texts = q["prompt"].tolist()
    rng = np.random.default_rng(0)

    def rand_cov(m: int) -> tuple[float, float]:
        r = [len(set(labels[rng.choice(500, m, replace=False)])) for _ in range(1000)]
        return float(np.mean(r)), float(np.std(r))

    rand_part = [
        normalized_mutual_info_score(labels, rng.integers(250, size=500)) for _ in range(20)
    ]
    embedders: list[tuple[str, object]] = [
        ("tfidf (default: word 1-2 + char 4, 256-d)", None),
        ("tfidf word 1-gram only", TfidfEmbedder(word_ngrams=(1, 1), char_ngrams=None, rng=0)),
        ("tfidf char 3-5", TfidfEmbedder(word_ngrams=None, char_ngrams=(3, 5), rng=0)),
    ]
    st_model = os.environ.get("WIZARDARENA_ST_MODEL")
    if st_model:
        embedders.append((f"sentence-transformers {Path(st_model).name}",
                          SentenceTransformerEmbedder(st_model)))
    rows = []
    with threadpool_limits(1):
        for name, emb in embedders:
            t0 = time.perf_counter()
            try:
                vecs = (emb or TfidfEmbedder(rng=0))(texts)  # type: ignore[operator]
            except Exception as exc:
                rows.append(f"| {name} | failed: {exc} |")
                continue
            t_emb = time.perf_counter() - t0
            nmis, aris = [], []
            for seed in range(3):
                c = cluster_embeddings(vecs, 250, rng=seed)
                nmis.append(normalized_mutual_info_score(labels, c.labels))
                aris.append(adjusted_rand_score(labels, c.labels))
            covs = {}
            for k in (250, 125):
                for pick in ("random", "centroid"):
                    got = []
                    for seed in range(5):
                        ts = build_testset(
                            q, n_clusters=k, per_cluster=1, pick=pick, rng=seed,
                            embedder=vecs, cosine_threshold=None, diverse_method="kmeans",
                        )
                        got.append(ts.diverse["input_cluster"].nunique())
                    covs[(k, pick)] = float(np.mean(got))
            r250, s250 = rand_cov(250)
            r125, s125 = rand_cov(125)
            rows.append(
                f"| {name} | {np.mean(nmis):.3f} | {np.mean(aris):.3f} | "
                f"{covs[(250, 'random')]:.1f} / {covs[(250, 'centroid')]:.1f} | "
                f"{r250:.1f} ± {s250:.1f} | "
                f"{covs[(125, 'random')]:.1f} / {covs[(125, 'centroid')]:.1f} | "
                f"{r125:.1f} ± {s125:.1f} | {t_emb:.1f} |"
            )
    head = (
        "| embedding | NMI (k=250) | ARI (k=250) | coverage k=250, 250 picked (random / "
        "centroid pick) | random 250 (mean ± sd) | coverage k=125 (random / centroid) | "
        "random 125 | embed s |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    note = (
        f"\nRandom-partition baseline NMI (250 random labels): {np.mean(rand_part):.3f}. "
        "NMI/ARI are means over 3 k-means seeds; coverage means over 5 seeds; "
        "random coverage over 1000 draws."
    )
    return head + "\n" + "\n".join(rows) + note


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--speed", type=int, help="one speed run in this process (prints JSON)")
    ap.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    ap.add_argument("--quality", action="store_true", help="quality benchmark only")
    args = ap.parse_args()
    if args.speed:
        print(json.dumps(speed_run(args.speed)))
        return
    print(f"# bench_testset: {cpu_model()}, {os.cpu_count()} cores, "
          f"{datetime.date.today().isoformat()}\n")
    print("## Quality on Arena-Hard v0.1 (500 prompts, 250 labelled clusters)\n")
    print(quality_table())
    if not args.quality:
        print("\n## Speed: clean + embed + cluster + select (k = 500, 1,000 diverse)\n")
        print(speed_table(args.sizes))


if __name__ == "__main__":
    main()
