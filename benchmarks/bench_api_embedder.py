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

``--cpu`` compares client CPU instead, against a CPU-bound one-worker server in its own
process (``embed_cpu=True, process=True``; ``SimStats.cpu_seconds`` is its compute):
the APIEmbedder of this tree, the one of another tree (``--before PATH``, e.g. a worktree
of an older commit: run with that tree on ``PYTHONPATH``) and a plain sequential loop (one
httpx request at a time, the same batch size). Each client runs in a child process, whose
process time around the call is the client CPU; mean and sd over ``--reps``::

    python benchmarks/bench_api_embedder.py --cpu --texts 1024 --before /work/wt-before
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()


def run(n_texts: int, per_text: float, timeout: float) -> str:
    from wizardarena.endpoints import Client
    from wizardarena.sim import SimArena
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


def texts_of(n: int) -> list[str]:
    """The benchmark's texts (prompt-like, of varied length)."""
    return [f"prompt number {i} about topic {i % 37} with some words " * (1 + i % 4)
            for i in range(n)]


def child(kind: str, url: str, n: int, batch: int) -> None:
    """One client run in this process; prints wall and client CPU seconds (JSON)."""
    texts = texts_of(n)
    if kind == "plain":
        import httpx

        t0, c0 = time.perf_counter(), time.process_time()
        rows = 0
        with httpx.Client(timeout=600) as c:
            for s in range(0, n, batch):
                r = c.post(f"{url}/embeddings", json={"model": "e", "input": texts[s:s + batch]})
                r.raise_for_status()
                rows += len(np.asarray([d["embedding"] for d in r.json()["data"]]))
    else:
        from wizardarena.testset.api_embedder import APIEmbedder

        emb = APIEmbedder(url, model="e", api_key_env=None, batch_size=batch, timeout=600)
        t0, c0 = time.perf_counter(), time.process_time()
        rows = len(emb(texts))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert rows == n, rows
    print(json.dumps({"wall": wall, "cpu": cpu}))


def run_cpu(n: int, per_text: float, per_request: float, contention: float, batch: int,
            reps: int, before: str | None) -> str:
    """Client CPU and wall time of the embedders against a CPU-bound one-worker server."""
    from wizardarena.sim.server import SimArena

    kinds = {"APIEmbedder (this tree)": ("api", str(HERE.parents[1]))}
    if before:
        kinds["APIEmbedder (--before)"] = ("api", before)
    kinds["plain sequential loop"] = ("plain", str(HERE.parents[1]))
    got: dict[str, list[tuple[float, float, float]]] = {k: [] for k in kinds}
    with SimArena({"m": 1000.0}, embed_seconds_per_text=per_text,
                  embed_seconds_per_request=per_request, embed_contention=contention,
                  embed_cpu=True, embed_workers=1, process=True, rng=0) as sim:
        for _ in range(reps):
            for name, (kind, tree) in kinds.items():
                env = {**os.environ, "PYTHONPATH": tree}
                server0 = sim.stats().cpu_seconds
                out = subprocess.run(
                    [sys.executable, str(HERE), "--child", kind, sim.base_url, str(n),
                     str(batch)], env=env, capture_output=True, text=True, check=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                got[name].append((r["wall"], r["cpu"], sim.stats().cpu_seconds - server0))

    def ms(xs: list[float]) -> str:
        sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
        return f"{statistics.mean(xs):.2f} ± {sd:.2f}"

    plain_wall = statistics.mean(w for w, _, _ in got["plain sequential loop"])
    lines = [f"{n} texts, batches of {batch}; server: 1 worker, CPU-bound, {per_request * 1e3:g} "
             f"ms per request + {per_text * 1e3:g} ms per text, contention {contention:g}; "
             f"{reps} repetitions (mean ± sd)", "",
             "| client | wall s | client CPU s | server CPU s | client CPU / server CPU | "
             "wall / plain loop |", "|---|---:|---:|---:|---:|---:|"]
    for name, rows in got.items():
        wall, cpu, server = ([r[i] for r in rows] for i in range(3))
        lines.append(f"| {name} | {ms(wall)} | {ms(cpu)} | {ms(server)} | "
                     f"{100 * statistics.mean(cpu) / statistics.mean(server):.1f}% | "
                     f"{statistics.mean(wall) / plain_wall:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=2048)
    ap.add_argument("--per-text", type=float, default=0.01)
    ap.add_argument("--timeout", type=float, default=8.0)
    ap.add_argument("--cpu", action="store_true", help="compare client CPU (see above)")
    ap.add_argument("--per-request", type=float, default=0.02)
    ap.add_argument("--contention", type=float, default=0.1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--before", default=None, help="another tree's APIEmbedder to compare")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    np.seterr(all="ignore")
    if args.child:
        kind, url, n, batch = args.child
        child(kind, url, int(n), int(batch))
    elif args.cpu:
        print(run_cpu(args.texts, args.per_text, args.per_request, args.contention,
                      args.batch, args.reps, args.before))
    else:
        print(run(args.texts, args.per_text, args.timeout))


if __name__ == "__main__":
    main()
