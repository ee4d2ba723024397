"""Peak memory of a ``run_arena`` against a judge answering every request with a huge body.

Run in its own process (peak RSS is per process)::

    python benchmarks/rss_huge_bodies.py huge 209715200     # a 200 MiB body, Content-Length
    python benchmarks/rss_huge_bodies.py endless 0          # a chunked body that never ends

Prints one JSON line: the peak RSS (MB) of this process before the run (imports, server
started) and after it, the run's counts and its seconds.
The server runs in a separate process (``SimArena(process=True)``), so only the client's
memory is measured.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from wizardarena.arena.judges import Judge
from wizardarena.arena.runner import run_arena
from wizardarena.sim import Faults, SimArena

MODELS = {"m-a": 1200.0, "m-b": 1100.0}
PROMPTS = [{"question_id": f"q{i}", "prompt": f"Question {i}."} for i in range(8)]


def peak_rss_mb() -> float:
    """Peak RSS of this process in MB: ``VmHWM`` of ``/proc/self/status`` on Linux (the
    peak of this program; ``ru_maxrss`` keeps the peak of the parent across ``fork`` +
    ``exec``, so a child of a large pytest process would report the parent's size), else
    ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(kind: str, size: int, concurrency: int = 32) -> dict[str, float]:
    faults = (Faults(rate_huge_body=1.0, huge_body_bytes=size) if kind == "huge"
              else Faults(rate_endless_body=1.0))
    answers = {m: {p["question_id"]: f"Answer of {m}." for p in PROMPTS} for m in MODELS}
    with SimArena(MODELS, faults=faults, rng=0, process=True) as sim, \
            tempfile.TemporaryDirectory() as tmp:
        before_mb = peak_rss_mb()
        judge = Judge(sim.base_url, sim.judge_model, api_key_env=None, max_retries=1,
                      timeout=60.0)
        t0 = time.perf_counter()
        r = run_arena(answers, PROMPTS, judge, store=Path(tmp) / "s.sqlite",
                      concurrency=concurrency, progress=False)
        seconds = time.perf_counter() - t0
    rss_mb = peak_rss_mb()
    return {"peak_rss_mb": round(rss_mb, 1), "rss_before_run_mb": round(before_mb, 1),
            "n_ok": r.n_ok, "n_errors": r.n_errors, "seconds": round(seconds, 2)}


if __name__ == "__main__":
    args = sys.argv[1:]
    print(json.dumps(main(args[0], int(args[1]), *(int(a) for a in args[2:]))))
