"""API embedder against a slow one-worker embedding server: re-sent work and wall time.

Usage::

    python benchmarks/bench_api_embedder.py [--texts 2048] [--per-text 0.01]

The simulated server (``SimArena(..., embed_seconds_per_text=..., embed_workers=1)``)
computes one batch at a time and keeps computing a batch whose client gave up, like the
one-worker third-party server of issue 12. Compared, on the same texts:

- "fixed": the arena client's ``embed`` as the old ``APIEmbedder`` used it (batches of 128,
  16 requests in flight, a fixed timeout ``--timeout``, retried on timeout);
- "adaptive": :class:`wizardarena.testset.api_embedder.APIEmbedder` with its defaults
  except the same base ``timeout``.

Reported: wall time (or the failure), requests the server received, batches it received
more than once (re-sent work), and the server's total compute (what the re-sends cost it).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def run(n_texts: int, per_text: float, timeout: float) -> str:
    from wizardarena.endpoints import Client
    from wizardarena.sim.server import SimArena
    from wizardarena.testset.api_embedder import APIEmbedder

    texts = [f"prompt number {i} about topic {i % 37} with some words" for i in range(n_texts)]
    rows = []
    for name in ("fixed", "adaptive"):
        with SimArena({"m": 1000.0}, embed_seconds_per_text=per_text, embed_workers=1,
                      rng=0) as sim:
            t0 = time.perf_counter()
            try:
                if name == "fixed":
                    with Client(sim.base_url, api_key_env=None, concurrency=16,
                                timeout=timeout, max_retries=6) as client:
                        out = client.embed(texts, model="e", batch_size=128)
                else:
                    emb = APIEmbedder(sim.base_url, model="e", api_key_env=None,
                                      timeout=timeout)
                    out = emb(texts)
                status = f"ok, {out.shape[0]} vectors"
            except Exception as exc:  # report, do not hide
                status = f"failed: {type(exc).__name__}: {str(exc)[:80]}"
            wall = time.perf_counter() - t0
            st = sim.stats().for_model("e", route="embeddings")
            resent = int((st["requests"] > 1).sum())
            batch_size = 128 if name == "fixed" else 32
            compute = float(st["requests"].sum()) * batch_size * per_text
            rows.append(
                f"| {name} | {status} | {wall:.1f} | {int(st['requests'].sum())} | "
                f"{len(st)} | {resent} | {compute:.1f} |"
            )
    head = (
        f"{n_texts} texts, server: 1 worker, {per_text * 1000:.0f} ms per text "
        f"(useful work {n_texts * per_text:.1f} s), base timeout {timeout:.0f} s\n\n"
        "| client | result | wall s | requests | distinct batches | batches sent more than "
        "once | server compute s (approx.) |\n|---|---|---:|---:|---:|---:|---:|"
    )
    return head + "\n" + "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=2048)
    ap.add_argument("--per-text", type=float, default=0.01)
    ap.add_argument("--timeout", type=float, default=8.0)
    args = ap.parse_args()
    np.seterr(all="ignore")
    print(run(args.texts, args.per_text, args.timeout))


if __name__ == "__main__":
    main()
