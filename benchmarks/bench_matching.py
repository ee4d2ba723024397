"""Model-name matching on real public name lists, against correspondences written by hand.

Run: ``python benchmarks/bench_matching.py [--baseline-commit 6a834fc]``

For each list in ``tests/data/names/`` (our names from a public benchmark in
``../shared/data``, the LMSYS history at a date, and the correspondences a person found by
eye), prints how many correspondences each matcher finds (recall), how many pairs it takes
that the person did not (wrong matches), and what it reports instead of taking
(ambiguous / taken / plausible). Matchers:

* ``exact+case``: identical names, or equal ignoring case and spaces (the obvious baseline);
* ``commit <sha>``: ``match_models`` as of that commit (with ``--baseline-commit``; its
  ambiguity errors are settled the way a user would, one round at a time, by aliasing each
  named model to None), to measure the change;
* ``rules``: ``match_models`` of this checkout, ``ambiguous="report"``.

Recall is also given with a bootstrap standard deviation over the hand-written pairs (1000
resamples, seeds 0..999), and for the pairs that need more than exact/case ("hard").
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from wizardarena.agreement import load_reference, match_models
from wizardarena.exceptions import ReferenceMatchError

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "tests"))

from bench_agreement import cpu_model  # noqa: E402
from test_agreement_matching import LISTS, _ours, _truth  # noqa: E402

Matcher = Callable[[list[str], object], dict[str, str]]


def reference_names(name: str) -> object:
    ref = load_reference(DATA / "lmsys/elo_history_alltime.csv", date=name.rsplit("_", 1)[1])
    return ref.models if "_keys_" in name else ref.names()


def exact_case(names: list[str], reference: object) -> dict[str, str]:
    index: dict[str, list[str]] = {}
    items = reference.items() if isinstance(reference, dict) else [(k, ()) for k in reference]
    for key, others in items:
        for n in (key, *others):
            index.setdefault(str(n).strip().casefold(), []).append(str(key))
    out = {}
    for m in names:
        cands = sorted(set(index.get(m.strip().casefold(), [])))
        if len(cands) == 1:
            out[m] = cands[0]
    taken: dict[str, int] = {}
    for v in out.values():
        taken[v] = taken.get(v, 0) + 1
    return {k: v for k, v in out.items() if taken[v] == 1}


def from_commit(sha: str) -> Matcher:
    """``match_models`` as of a commit; ambiguities settled one round at a time."""
    code = subprocess.run(["git", "-C", str(ROOT), "show", f"{sha}:wizardarena/agreement/"
                           "matching.py"], capture_output=True, text=True, check=True).stdout
    path = Path(f"/tmp/_matching_{sha}.py")
    path.write_text(code)
    spec = importlib.util.spec_from_file_location(f"_matching_{sha}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)

    def run(names: list[str], reference: object) -> dict[str, str]:
        aliases: dict[str, None] = {}
        while True:
            try:
                return dict(module.match_models(names, reference, aliases=aliases).mapping)
            except ReferenceMatchError as exc:
                msg = str(exc)
                if msg.startswith("models "):  # several of ours match one reference model
                    listed = re.search(r"models \[(.*?)\]", msg)
                    names_ = re.findall(r"'([^']*)'", listed.group(1)) if listed else []
                else:  # "model 'X' matches several reference models"
                    names_ = re.findall(r"'([^']*)'", msg)[:1]
                if not names_:
                    raise
                aliases.update(dict.fromkeys(names_))

    return run


def rules(names: list[str], reference: object) -> dict[str, str]:
    return match_models(names, reference, ambiguous="report").mapping  # type: ignore[arg-type]


def bootstrap_sd(hits: np.ndarray, rounds: int = 1000) -> float:
    means = [np.random.default_rng(seed).choice(hits, size=hits.size).mean()
             for seed in range(rounds)]
    return float(np.std(means))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--baseline-commit", default=None,
                   help="also measure match_models as of this commit (e.g. 6a834fc)")
    args = p.parse_args(argv)
    if not DATA.is_dir():
        print(f"needs {DATA}", file=sys.stderr)
        return 1
    matchers: dict[str, Matcher] = {"exact+case": exact_case}
    if args.baseline_commit:
        matchers[f"commit {args.baseline_commit}"] = from_commit(args.baseline_commit)
    matchers["rules"] = rules
    lists = LISTS
    hits: dict[str, list[int]] = {m: [] for m in matchers}
    hard_hits: dict[str, list[int]] = {m: [] for m in matchers}
    wrong_total = dict.fromkeys(matchers, 0)
    rows = []
    for name in lists:
        names, (_, expected) = _ours(name, DATA), _truth(name)
        reference = reference_names(name)
        easy = exact_case(names, reference)
        row = [name, str(len(names)), str(len(expected))]
        for label, matcher in matchers.items():
            t0 = time.perf_counter()
            got = matcher(names, reference)
            dt = time.perf_counter() - t0
            found = [int(got.get(m) == r) for m, r in expected.items()]
            hard = [f for (m, r), f in zip(expected.items(), found) if easy.get(m) != r]
            wrong = sum(1 for m, r in got.items() if expected.get(m) != r)
            hits[label] += found
            hard_hits[label] += hard
            wrong_total[label] += wrong
            row.append(f"{sum(found)} ({sum(found) / len(found):.1%}), {wrong} wrong, "
                       f"{dt * 1e3:.0f} ms")
        m = match_models(names, reference, ambiguous="report")  # type: ignore[arg-type]
        left = m.unmatched[m.unmatched["side"] == "ours"]["how"].value_counts()
        row.append(", ".join(f"{k} {v}" for k, v in left.items() if k != "none"))
        rows.append(row)
    head = ["list", "our names", "hand-found pairs", *matchers, "reported, not taken (rules)"]
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"CPU: {cpu_model()}; load: {load}")
    print()
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] * len(head)) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    print("| matcher | recall, all pairs (± bootstrap sd) | recall, pairs needing more than "
          "exact/case | wrong matches |")
    print("|---|---|---|---|")
    for label in matchers:
        a, h = np.array(hits[label]), np.array(hard_hits[label])
        print(f"| {label} | {a.sum()}/{a.size} = {a.mean():.1%} ± {bootstrap_sd(a):.1%} | "
              f"{h.sum()}/{h.size} = {h.mean():.1%} ± {bootstrap_sd(h):.1%} | "
              f"{wrong_total[label]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
