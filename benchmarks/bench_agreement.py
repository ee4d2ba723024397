"""Agreement worked example on llmfao (GPT-4 judge vs human crowd vs LMSYS) and timings.

Run: ``python benchmarks/bench_agreement.py [--figures docs/img] [--report out.html]``

Prints markdown tables: every metric for each comparison, the name matches, and how long
``agreement()`` takes. Needs ``../shared/data`` (llmfao + lmsys); the timing part also runs
without it on simulated boards.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import wizardarena as wa
from wizardarena.agreement import METRICS, AgreementReport, agreement, load_reference

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

#: llmfao display name -> LMSYS display name (used by both the history and the 2023 table)
ALIASES = {
    "Vicuna v1.5 (13B)": "Vicuna-13B",
    "Open-Assistant Pythia SFT-4 (12B)": "OpenAssistant-Pythia-12B",
    "Vicuna-FastChat-T5 (3B)": "FastChat-T5-3B",
    "PaLM 2 Bison": "PaLM-Chat-Bison-001",
}
ROUNDS = 1000
SEED = 0


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def metrics_table(reports: dict[str, AgreementReport]) -> str:
    rows = []
    for metric in METRICS:
        cells = []
        for rep in reports.values():
            s = rep.summary.loc[metric]
            if not np.isfinite(s["value"]):
                cells.append("n/a")
                continue
            cell = f"{s['value']:.3f}"
            if np.isfinite(s["lower"]):
                cell += f" [{s['lower']:.3f}, {s['upper']:.3f}]"
            cells.append(cell)
        rows.append(f"| {metric} | " + " | ".join(cells) + " |")
    n = "| matched models | " + " | ".join(str(len(r.models)) for r in reports.values()) + " |"
    head = "| metric | " + " | ".join(reports) + " |"
    sep = "|---|" + "---|" * len(reports)
    return "\n".join([head, sep, *rows, n])


def worked_example(figures: Path | None, report_path: Path | None) -> None:
    d = DATA / "llmfao"
    t0 = time.perf_counter()
    crowd = wa.rank(d / "crowd-comparisons.csv", outcomes="left-right", rounds=ROUNDS, rng=SEED)
    gpt4 = wa.rank(d / "gpt4-comparisons.csv", outcomes="left-right", rounds=ROUNDS, rng=SEED)
    t_rank = time.perf_counter() - t0
    assert isinstance(crowd, wa.Leaderboard) and isinstance(gpt4, wa.Leaderboard)
    hist = load_reference(DATA / "lmsys" / "elo_history_alltime.csv", date="2023-10-02")
    table = load_reference(DATA / "lmsys" / "leaderboard_table_20231002.csv")

    t0 = time.perf_counter()
    reports = {
        "GPT-4 judge vs crowd": agreement(gpt4, crowd, title="GPT-4 judge vs human crowd (llmfao)",
                                          labels=("GPT-4 judge", "human crowd")),
    }
    t_one = time.perf_counter() - t0
    reports["crowd vs LMSYS history"] = agreement(crowd, hist, aliases=ALIASES)
    reports["GPT-4 vs LMSYS history"] = agreement(gpt4, hist, aliases=ALIASES)
    reports["crowd vs LMSYS table"] = agreement(crowd, table, aliases=ALIASES,
                                                labels=("human crowd", "LMSYS 2023-10-02"))
    reports["GPT-4 vs LMSYS table"] = agreement(gpt4, table, aliases=ALIASES,
                                                title="GPT-4 judge (llmfao) vs LMSYS 2023-10-02",
                                                labels=("GPT-4 judge", "LMSYS 2023-10-02"))
    order_only = {
        name: agreement(board, ref, aliases=ALIASES, reference_order_only=True)
        for name, board, ref in (
            ("crowd vs LMSYS table", crowd, table),
            ("GPT-4 vs LMSYS table", gpt4, table),
        )
    }

    print(f"## Worked example: llmfao ({ROUNDS} bootstrap rounds, seed {SEED})\n")
    print(f"crowd board: {len(crowd)} models, {crowd.info.n_battles} battles; "
          f"GPT-4 board: {len(gpt4)} models, {gpt4.info.n_battles} battles\n")
    print(f"- {hist.describe()}\n- {table.describe()} (excluded unrated: "
          f"{len(table.excluded)})\n")
    print(metrics_table(reports))
    print("\nagreement_ci with the reference order taken as certain (reference_order_only=True):")
    for name, rep in order_only.items():
        s = rep.summary.loc["agreement_ci"]
        c = rep.summary.loc["consistency"]
        print(f"- {name}: agreement_ci {s['value']:.3f} over {int(s['n'])} pairs; "
              f"consistency {c['value']:.3f}")
    jc = reports["GPT-4 judge vs crowd"]
    counts = jc.pairs["verdict"].value_counts(dropna=False).to_dict()
    print(f"\nGPT-4 judge vs crowd verdicts: +1 {counts.get(1, 0)}, 0 {counts.get(0, 0)}, "
          f"-1 {counts.get(-1, 0)}, not separated by the crowd "
          f"{int(jc.pairs['verdict'].isna().sum())}")
    contra = jc.pairs[jc.pairs["verdict"] == -1]
    top = pd.concat([contra["model_a"], contra["model_b"]]).value_counts().head(3)
    print("most frequent in contradicting pairs: "
          + ", ".join(f"{m} ({c})" for m, c in top.items()))
    worst = str(top.index[0])
    print(f"{worst}: GPT-4 judge rank {jc.models.loc[worst, 'rank']} "
          f"({jc.models.loc[worst, 'rating']:.0f}), crowd rank {jc.models.loc[worst, 'ref_rank']} "
          f"({jc.models.loc[worst, 'ref_rating']:.0f})")
    print("\n### Name matches, crowd vs LMSYS history\n")
    rep = reports["crowd vs LMSYS history"]
    print(rep.models[["reference", "how", "rating", "ref_rating", "rank", "ref_rank"]]
          .round(1).to_markdown() if _has_tabulate() else rep.models.round(1).to_string())
    print(f"\nours unmatched: {int((rep.unmatched['side'] == 'ours').sum())}; reference models "
          f"not in ours: {int((rep.unmatched['side'] == 'reference').sum())}")
    contra = rep.pairs[rep.pairs["verdict"] == -1]
    print(f"\nrank of 'Claude v1' ours/LMSYS: {rep.models.loc['Claude v1', 'rank']}/"
          f"{rep.models.loc['Claude v1', 'ref_rank']}; contradicting pairs: {len(contra)}")
    print(f"\n### Timing\n\n| step | seconds |\n|---|---:|\n| rank() x2 ({ROUNDS} rounds) | "
          f"{t_rank:.2f} |\n| agreement(), 59 models, {ROUNDS} replicates | {t_one:.3f} |")

    if figures is not None:
        figures.mkdir(parents=True, exist_ok=True)
        from matplotlib.figure import Figure

        def save(name: str, draw: object, size: tuple[float, float]) -> None:
            fig = Figure(figsize=size, layout="constrained")
            draw(ax=fig.subplots())  # type: ignore[operator]
            fig.savefig(figures / name, dpi=80)

        save("agreement_gpt4_vs_crowd.png", reports["GPT-4 judge vs crowd"].plot, (7.5, 6.5))
        save("agreement_crowd_vs_lmsys.png", reports["crowd vs LMSYS table"].plot, (6.4, 5.2))
        save("agreement_gpt4_vs_lmsys.png", reports["GPT-4 vs LMSYS table"].plot, (6.4, 5.2))
        save("agreement_pairs_gpt4_vs_crowd.png", reports["GPT-4 judge vs crowd"].plot_pairs,
             (9.5, 8.5))
        save("leaderboard_llmfao_crowd.png", crowd.plot, (7.0, 11.0))
        print(f"\nfigures written to {figures}")
    if report_path is not None:
        reports["GPT-4 vs LMSYS table"].to_file(report_path)
        print(f"report written to {report_path}")


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def timing() -> None:
    print("\n### agreement() on simulated boards (1000 bootstrap rounds)\n")
    print("| models | pairs | agreement() s | to_html() s |\n|---:|---:|---:|---:|")
    for m in (20, 60, 130):
        gen = np.random.default_rng(m)
        truth = {f"m{k:03d}": float(r) for k, r in enumerate(gen.normal(1000, 120, m))}
        log = wa.simulate_battles(truth, 400 * m, rng=gen)
        board = wa.rank(log, rounds=1000, rng=gen)
        assert isinstance(board, wa.Leaderboard)
        ref = load_reference(pd.DataFrame({"model": list(truth), "rating": list(truth.values()),
                                           "lower": [v - 15 for v in truth.values()],
                                           "upper": [v + 15 for v in truth.values()]}))
        t0 = time.perf_counter()
        rep = agreement(board, ref)
        t1 = time.perf_counter()
        rep.to_html()
        t2 = time.perf_counter()
        print(f"| {m} | {m * (m - 1) // 2} | {t1 - t0:.3f} | {t2 - t1:.2f} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--figures", type=Path, default=None, help="write PNG figures here")
    ap.add_argument("--report", type=Path, default=None, help="write an HTML report here")
    args = ap.parse_args()
    print(f"machine: {cpu_model()}, {platform.python_version()}, date "
          f"{time.strftime('%Y-%m-%d')}\n")
    if DATA.is_dir():
        worked_example(args.figures, args.report)
    else:
        print(f"{DATA} absent: worked example skipped", file=sys.stderr)
    timing()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
