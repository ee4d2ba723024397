"""The Ray engine next to the local one: battles, test sets, battle logs (issue 13).

Every run is a fresh child process (its own Ray runtime when it needs one), side by side in
one invocation. This process samples the child from outside (``/proc``, every 0.2 s; Linux
only), between the child's start and end marks: memory is the peak of the summed PSS
(proportional set size, so the object store's shared pages count once) of the child and
every process it started (Ray's raylet, GCS, workers and actors); CPU is the summed user +
system time of the same processes ("driver": the child alone).

``battles``
    The simulated arena in a separate process (``SimArena(process=True)``) at ``--latency``
    (default 100 ms), 16 models, Arena-Hard template: the local engine at concurrency 64,
    then 1 and 2 Ray judge actors at concurrency 32 each. Reported: judgments/s over the
    whole call (actor start-up included) and steady (first to last judgment), CPU per
    judgment of the driver and of all processes, the Ray runtime's start-up time.
``testset``
    ``--n`` prompts (default 100,000; ``bench_testset.make_prompts``) in 8 JSONL files, the
    default pipeline (k = 500): local, then Ray with 1 and 2 CPUs. Checks that every run
    drops and selects the same prompts.
``ratings``
    A partitioned battle log (``gen_stream_log.py``, default
    ``benchmarks/_work/battles_100m``): ``rank(dir)`` streamed locally, then with
    ``engine="ray"``; and, on the first 10 files (10M battles), the in-memory path next to
    the streamed one.

Usage::

    python benchmarks/bench_ray.py battles [--n 20000]
    python benchmarks/bench_ray.py testset [--n 100000]
    python benchmarks/gen_stream_log.py && python benchmarks/bench_ray.py ratings
    python benchmarks/bench_ray.py store [--n 200000]

``store``
    The ceiling of the single writer: ``--n`` judgments (a 2,000-character raw reply each,
    the size of a judge's explanation) put one transaction each into a fresh
    :class:`~wizardarena.arena.store.JudgmentStore` (WAL, ``synchronous=NORMAL`` and
    ``FULL``), as the driver stores them; puts per second, into an empty store and into
    one that already holds ``--n`` rows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
TICK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------- measuring
def machine() -> str:
    cpu = subprocess.run("lscpu | sed -n 's/^Model name: *//p'", shell=True,
                         capture_output=True, text=True).stdout.strip()
    return f"{cpu}, {os.cpu_count()} cores, Python {sys.version.split()[0]}"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _kids(pid: int) -> list[int]:
    """Children of ``pid`` (``/proc/<pid>/task/<tid>/children``: no scan of ``/proc``)."""
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out += [int(x) for x in fh.read().split()]
    except OSError:
        pass
    return out


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += _kids(p)
    return out


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            f = fh.read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / TICK
    except (OSError, ValueError, IndexError):
        return 0.0


def pss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Sampler:
    """Samples the process tree of ``pid`` from outside: per-process CPU (the most seen,
    so processes that exit keep theirs) and the peak summed PSS while ``armed``."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        self.pid = pid
        self.every = every
        self.peak = 0
        self.armed = False
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def sample(self) -> dict[int, float]:
        pids = tree(self.pid)
        if self.armed:
            self.peak = max(self.peak, sum(pss_bytes(p) for p in pids))
        for p in pids:
            self.cpu[p] = max(self.cpu.get(p, 0.0), cpu_seconds(p))
        return dict(self.cpu)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def child(section: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Run ``section`` with ``payload`` in a fresh process, sampled from here between its
    ``@start`` and ``@end`` lines; its JSON result with ``peak_mib``, ``cpu_s`` (all
    processes) and ``driver_cpu_s`` (the child alone) added."""
    proc = subprocess.Popen([sys.executable, __file__, "--child", section,
                             json.dumps(payload)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    s = Sampler(proc.pid)
    before: dict[int, float] = {}
    after: dict[int, float] = {}
    last = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("@start"):
            s.armed = True
            before = s.sample()
        elif line.startswith("@end"):
            after = s.sample()
            s.armed = False
        elif line.strip():
            last = line
    err = proc.stderr.read() if proc.stderr is not None else ""
    proc.wait()
    s.stop()
    if proc.returncode:
        sys.stderr.write(err[-4000:])
        raise SystemExit(f"{section} child failed ({payload})")
    out = dict(json.loads(last))
    out["peak_mib"] = s.peak / 2**20
    out["cpu_s"] = sum(v - before.get(p, 0.0) for p, v in after.items())
    out["driver_cpu_s"] = after.get(proc.pid, 0.0) - before.get(proc.pid, 0.0)
    return out


def mark(what: str) -> None:
    print(f"@{what}", flush=True)


def start_ray(cpus: int) -> float:
    import ray

    t0 = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    return time.perf_counter() - t0


# ------------------------------------------------------------------------- battles
def battles_child(p: dict[str, Any]) -> dict[str, Any]:
    from wizardarena.arena.judges import Judge
    from wizardarena.arena.runner import run_arena

    sys.path.insert(0, str(HERE))
    from bench_arena import work  # the work list of the arena benchmark

    ray_start = start_ray(2) if p["engine"] == "ray" else 0.0
    n = p["n"]
    prompts, answers = work(n)
    judge = Judge(p["url"], p["judge"], template="arena-hard", api_key_env=None)
    marks: dict[str, float] = {}

    def progress(pr: Any) -> None:
        now = time.perf_counter()
        marks.setdefault("first", now)
        if pr.done == pr.total:  # the last judgment, before the actors are stopped
            marks["last"] = now
            mark("end")

    load0 = load()
    mark("start")
    t0 = time.perf_counter()
    r = run_arena(answers, prompts, judge, store=p["store"], concurrency=p["concurrency"],
                  load=False, progress=progress, engine=p["engine"], workers=p.get("workers"))
    wall = time.perf_counter() - t0
    done = r.n_ok + r.n_failed
    steady = (done - 1) / (marks["last"] - marks["first"])
    return {"engine": p["engine"], "workers": p.get("workers"),
            "concurrency": p["concurrency"], "n": done, "errors": r.n_errors, "wall": wall,
            "rate": done / wall, "steady": steady, "ray_start": ray_start,
            "load": f"{load0} -> {load()}"}


def battles(args: argparse.Namespace) -> None:
    from wizardarena.sim import SimArena

    runs = [("local", None, 64), ("ray", 1, 32), ("ray", 2, 32)]
    rows = []
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine()}; load {load()}")
    with SimArena({"unused": 1000.0}, rng=0, process=True, latency=args.latency) as sim, \
            tempfile.TemporaryDirectory() as tmp:
        for k, (engine, workers, conc) in enumerate(runs):
            rows.append(child("battles", {
                "engine": engine, "workers": workers, "concurrency": conc, "n": args.n,
                "url": sim.base_url, "judge": sim.judge_model,
                "store": str(Path(tmp) / f"s{k}.sqlite")}))
    print(f"\nlatency {1000 * args.latency:.0f} ms, {args.n:,} judgments a run\n")
    print("| engine | actors x concurrency | ideal /s | judgments/s (call) | steady /s | "
          "% of ideal (steady) | driver CPU ms/judgment | all processes CPU ms/judgment | "
          "peak PSS MiB | Ray start s | load (1, 5, 15 min) before -> after |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        r["driver_cpu_ms"] = 1000 * r["driver_cpu_s"] / r["n"]
        r["all_cpu_ms"] = 1000 * r["cpu_s"] / r["n"]
        lanes = r["concurrency"] * (r["workers"] or 1)
        ideal = lanes / args.latency
        shape = f"{r['workers']} x {r['concurrency']}" if r["workers"] else \
            f"1 process x {r['concurrency']}"
        print(f"| {r['engine']} | {shape} | {ideal:.0f} | {r['rate']:.0f} | "
              f"{r['steady']:.0f} | {100 * r['steady'] / ideal:.0f}% | "
              f"{r['driver_cpu_ms']:.3f} | {r['all_cpu_ms']:.3f} | {r['peak_mib']:.0f} | "
              f"{r['ray_start']:.1f} | {r['load']} |")
    local, one, two = rows
    print(f"\n2 actors / 1 actor: {two['rate'] / one['rate']:.2f}x (call), "
          f"{two['steady'] / one['steady']:.2f}x (steady); bar 1.8x")
    print(f"Ray overhead per judgment (all processes' CPU, 2 actors vs the local engine): "
          f"{two['all_cpu_ms'] - local['all_cpu_ms']:+.3f} ms")


# ------------------------------------------------------------------------- test sets
def testset_child(p: dict[str, Any]) -> dict[str, Any]:
    from wizardarena.testset.testset import build_testset

    ray_start = start_ray(p["workers"]) if p["engine"] == "ray" else 0.0
    stages: dict[str, float] = {}
    t_stage: dict[str, float] = {}

    def progress(event: Any) -> None:  # a wizardarena.Progress event
        stage, done, total = event.stage, event.done, event.total
        now = time.perf_counter()
        t_stage.setdefault(stage, now)
        if total and done >= total:
            stages[stage] = now - t_stage[stage]

    load0 = load()
    mark("start")
    t0 = time.perf_counter()
    ts = build_testset(p["dir"], n_clusters=500, per_cluster=2, rng=0,
                       engine=p["engine"], progress=progress,
                       **({"workers": p["workers"]} if p["engine"] == "ray" else {}))
    wall = time.perf_counter() - t0
    mark("end")
    digest = hashlib.sha256()
    for frame in (ts.mix, ts.dropped):
        digest.update("|".join(map(str, frame.index)).encode())
    digest.update("|".join(ts.dropped["reason"]).encode())
    return {"engine": p["engine"], "workers": p["workers"], "wall": wall,
            "ray_start": ray_start,
            "driver_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "stages": stages, "kept": len(ts.prompts),
            "dropped": len(ts.dropped), "digest": digest.hexdigest()[:12],
            "load": f"{load0} -> {load()}"}


def testset(args: argparse.Namespace) -> None:
    import json as _json

    sys.path.insert(0, str(HERE))
    from bench_testset import make_prompts

    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine()}; load {load()}")
    texts = make_prompts(args.n, seed=0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "prompts"
        d.mkdir()
        per = -(-len(texts) // 8)
        for k in range(8):
            with open(d / f"part-{k}.jsonl", "w", encoding="utf-8") as fh:
                for i in range(k * per, min(len(texts), (k + 1) * per)):
                    fh.write(_json.dumps({"id": f"u{i:07d}", "prompt": texts[i]}) + "\n")
        for engine, workers in (("local", 1), ("ray", 1), ("ray", 2)):
            rows.append(child("testset", {"engine": engine, "workers": workers,
                                          "dir": str(d)}))
    print(f"\n{args.n:,} prompts in 8 JSONL files, k = 500, default pipeline\n")
    print("| engine | workers (CPUs) | wall s | Ray start s | clean s | embed s | "
          "peak PSS MiB (all processes) | driver max RSS MiB | CPU s (all processes) | "
          "kept / dropped | result digest | load before -> after |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|")
    for r in rows:
        st = r["stages"]
        print(f"| {r['engine']} | {r['workers']} | {r['wall']:.1f} | {r['ray_start']:.1f} | "
              f"{st.get('clean', float('nan')):.1f} | {st.get('embed', float('nan')):.1f} | "
              f"{r['peak_mib']:.0f} | {r['driver_maxrss_mib']:.0f} | {r['cpu_s']:.0f} | "
              f"{r['kept']:,} / {r['dropped']:,} | {r['digest']} | {r['load']} |")
    same = len({r["digest"] for r in rows}) == 1
    print(f"\nsame drops and test set in every run: {same}")


# ------------------------------------------------------------------------- ratings
def ratings_child(p: dict[str, Any]) -> dict[str, Any]:
    import wizardarena as wa

    ray_start = start_ray(2) if p["engine"] == "ray" else 0.0
    source: Any = p["source"]
    load0 = load()
    mark("start")
    t0 = time.perf_counter()
    if p.get("in_memory"):
        import glob

        import pyarrow as pa
        import pyarrow.parquet as pq

        files = sorted(glob.glob(source))
        source = pa.concat_tables([pq.read_table(f, read_dictionary=[
            "model_a", "model_b", "winner", "question_id"]) for f in files])
    board = wa.rank(source, engine=p["engine"], unit=p["unit"], rng=0, rounds=1000)
    wall = time.perf_counter() - t0
    mark("end")
    return {"label": p["label"], "engine": p["engine"], "unit": p["unit"], "wall": wall,
            "ray_start": ray_start,
            "driver_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "n": board.info.n_battles,
            "table": board.table[["rating", "lower", "upper"]].round(6).to_json(),
            "load": f"{load0} -> {load()}"}


def ratings(args: argparse.Namespace) -> None:
    d = Path(args.dataset)
    if not d.is_dir():
        raise SystemExit(f"{d} missing: python benchmarks/gen_stream_log.py first")
    first10 = str(d / "part-00*.parquet")
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine()}; load {load()}")
    runs = [
        {"label": "10M, in memory", "source": first10, "engine": "local", "in_memory": True,
         "unit": "battle"},
        {"label": "10M, streamed", "source": first10, "engine": "local", "unit": "battle"},
        {"label": "100M, streamed", "source": str(d), "engine": "local", "unit": "battle"},
        {"label": "100M, streamed, prompt bootstrap", "source": str(d), "engine": "local",
         "unit": "prompt"},
        {"label": "100M, Ray Data (2 CPUs)", "source": str(d), "engine": "ray",
         "unit": "battle"},
    ]
    rows = [child("ratings", r) for r in runs]
    print("\n| log | engine | unit | battles | wall s | Ray start s | peak PSS MiB "
          "(all processes) | driver max RSS MiB | CPU s | load before -> after |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['label']} | {r['engine']} | {r['unit']} | {r['n']:,} | {r['wall']:.1f} | "
              f"{r['ray_start']:.1f} | {r['peak_mib']:.0f} | {r['driver_maxrss_mib']:.0f} | "
              f"{r['cpu_s']:.0f} | {r['load']} |")
    print(f"\n10M in memory == streamed: {rows[0]['table'] == rows[1]['table']}; "
          f"100M local == Ray: {rows[2]['table'] == rows[4]['table']}")


# ------------------------------------------------------------------------- store
def store(args: argparse.Namespace) -> None:
    from wizardarena.arena.store import JudgmentRecord, JudgmentStore

    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine()}; load {load()}")
    raw = "x" * 2000
    print("\n| synchronous | store rows before | puts | puts/s | ms per put |")
    print("|---|---:|---:|---:|---:|")
    for sync in ("NORMAL", "FULL"):
        with tempfile.TemporaryDirectory() as tmp, \
                JudgmentStore(Path(tmp) / "s.sqlite", synchronous=sync) as st:
            for phase in range(2):
                t0 = time.perf_counter()
                for i in range(args.n):
                    k = phase * args.n + i
                    st.put(JudgmentRecord(
                        f"q{k // 100:07d}", f"m{k % 10}", f"m{10 + k % 7}", k % 2, 1, "judge",
                        "template", "hash", None, True, "model_a", "[[A>B]]", float("nan"),
                        float("nan"), raw, None, 900, 300, 1, time.time()))
                dt = time.perf_counter() - t0
                print(f"| {sync} | {phase * args.n:,} | {args.n:,} | {args.n / dt:,.0f} | "
                      f"{1000 * dt / args.n:.3f} |")
    print(f"\nload after: {load()}")


# ------------------------------------------------------------------------- main
CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "battles": battles_child, "testset": testset_child, "ratings": ratings_child}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(CHILDREN[sys.argv[2]](json.loads(sys.argv[3]))))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="section", required=True)
    b = sub.add_parser("battles")
    b.add_argument("--n", type=int, default=20_000)
    b.add_argument("--latency", type=float, default=0.1)
    t = sub.add_parser("testset")
    t.add_argument("--n", type=int, default=100_000)
    r = sub.add_parser("ratings")
    r.add_argument("--dataset", default=str(WORK / "battles_100m"))
    s = sub.add_parser("store")
    s.add_argument("--n", type=int, default=200_000)
    args = ap.parse_args()
    {"battles": battles, "testset": testset, "ratings": ratings,
     "store": store}[args.section](args)


if __name__ == "__main__":
    main()
