"""Reference readers: every LMSYS format, snapshot choice by date, HTTP over loopback."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

import wizardarena as wa
from wizardarena.agreement import Reference, fetch_reference, load_reference
from wizardarena.exceptions import ReferenceFetchError, ReferenceMatchError, ValidationError

HISTORY = """key,Model,rating,License,Organization,date
gpt-4,GPT-4,1200,Proprietary,OpenAI,20230508
claude-1,Claude-1,1150,Proprietary,Anthropic,20230508
gpt-4,GPT-4,1210,Proprietary,OpenAI,20230620
claude-1,Claude-1,1160,Proprietary,Anthropic,20230620
yi-34b-chat,Yi-34B-Chat,1100,Yi,01 AI,20230620
yi-34b-chat,Yi-34B-Chat,1100,Yi,01 AI,20230620
gpt-4,GPT-4,1190,Proprietary,OpenAI,20230801
vicuna-13b,Vicuna-13B,1050,Llama 2,LMSYS,20230801
"""

TABLE_2023 = """Model,MT-bench (score),Arena Elo rating,MMLU,License,Link
GPT-4,8.99,1206,0.864,Proprietary,https://openai.com
WizardLM-30B,7.01,-,0.587,Non-commercial,https://huggingface.co
Claude-1,7.90,1166,0.770,Proprietary,https://anthropic.com
"""


def _catalog() -> pd.DataFrame:
    rows = []
    for board in ("leaderboard-text", "leaderboard-text-style-control"):
        for date, commit, shift in (("2025-03-07", "aaa111", 0), ("2025-04-04", "bbb222", 5)):
            for cat in ("full", "coding"):
                for model, r in (("m1", 1300), ("m2", 1250), ("m3", 1200)):
                    rr = r + shift + (10 if cat == "coding" else 0)
                    rows.append((board, date, commit, cat, model, rr, rr - 8, rr + 8))
    return pd.DataFrame(rows, columns=["board", "commit_date", "commit", "category", "model",
                                       "rating", "rating_q025", "rating_q975"])


# ----------------------------------------------------------------------------- history
def test_history_snapshot_at_or_before(tmp_path: Path) -> None:
    p = tmp_path / "alltime.csv"
    p.write_text(HISTORY)
    ref = load_reference(p, date="2023-07-16")
    assert ref.date == "2023-06-20" and ref.requested_date == "2023-07-16"
    assert ref.models == ["gpt-4", "claude-1", "yi-34b-chat"]
    assert not ref.has_intervals and ref.level is None
    assert any("2023-06-20 used" in n for n in ref.notes)
    assert any("duplicate" in n and "yi-34b-chat" in n for n in ref.notes)
    assert ref.names()["gpt-4"] == ("GPT-4",)
    assert "snapshot 2023-06-20 (requested 2023-07-16)" in ref.describe()
    assert load_reference(p).date == "2023-08-01"  # latest by default
    assert load_reference(p, date="20230508").ratings["gpt-4"] == 1200


def test_history_errors(tmp_path: Path) -> None:
    p = tmp_path / "alltime.csv"
    p.write_text(HISTORY)
    with pytest.raises(ReferenceMatchError, match="starts on 2023-05-08"):
        load_reference(p, date="2023-01-01")
    with pytest.raises(ReferenceMatchError, match="category='coding' is not in"):
        load_reference(p, category="coding")
    with pytest.raises(ValidationError, match="date must be"):
        load_reference(p, date="July 2023")
    bad = tmp_path / "conflict.csv"
    bad.write_text(HISTORY.replace("yi-34b-chat,Yi-34B-Chat,1100,Yi,01 AI,20230620\n", "", 1)
                   + "yi-34b-chat,Yi-34B-Chat,1101,Yi,01 AI,20230620\n")
    with pytest.raises(ValidationError, match="twice on 2023-06-20 with different ratings"):
        load_reference(bad, date="2023-06-20")


# ----------------------------------------------------------------------------- catalog
def test_catalog_board_category_date(tmp_path: Path) -> None:
    p = tmp_path / "snapshots.csv.gz"
    p.write_bytes(gzip.compress(_catalog().to_csv(index=False).encode()))
    ref = load_reference(p, date="2025-03-20", category="coding")
    assert (ref.date, ref.category, ref.board, ref.snapshot) == (
        "2025-03-07", "coding", "leaderboard-text", "aaa111")
    assert ref.has_intervals and ref.level == 0.95
    assert ref.table.loc["m1", ["rating", "lower", "upper"]].tolist() == [1310, 1302, 1318]
    latest = load_reference(p, board="leaderboard-text-style-control")
    assert latest.date == "2025-04-04" and latest.ratings["m1"] == 1305
    with pytest.raises(ReferenceMatchError, match="available"):
        load_reference(p, category="math")
    with pytest.raises(ReferenceMatchError, match="board='nope' is not in"):
        load_reference(p, board="nope")


def test_catalog_same_day_snapshots(tmp_path: Path) -> None:
    df = _catalog()
    twin = df[df["commit"] == "bbb222"].assign(commit="ccc333")
    p = tmp_path / "snap.csv"
    pd.concat([df, twin]).to_csv(p, index=False)
    ref = load_reference(p)  # identical tables on the same day: fine, and said so
    assert any("identical snapshots" in n for n in ref.notes)
    twin = twin.assign(rating=twin["rating"] + 1, rating_q975=twin["rating_q975"] + 1)
    pd.concat([df, twin]).to_csv(p, index=False)
    with pytest.raises(ReferenceMatchError, match="pass commit="):
        load_reference(p)
    assert load_reference(p, commit="ccc").ratings["m1"] == 1306
    with pytest.raises(ReferenceMatchError, match="after date"):
        load_reference(p, commit="ccc", date="2025-03-10")


def test_catalog_json_mapping() -> None:
    data = {"full": {"a": {"rating": 1300.0, "rating_q025": 1290.0, "rating_q975": 1310.0},
                     "b": {"rating": 1200.0, "rating_q025": 1190.0, "rating_q975": 1215.0}}}
    ref = load_reference(data)
    assert ref.format == "arena-catalog-json" and ref.has_intervals
    with pytest.raises(ReferenceMatchError, match="category='coding' is not in"):
        load_reference(data, category="coding")


# ----------------------------------------------------------------------------- other formats
def test_2023_table_excludes_unrated(tmp_path: Path) -> None:
    p = tmp_path / "leaderboard_table_20230802.csv"
    p.write_text(TABLE_2023)
    ref = load_reference(p)
    assert ref.models == ["GPT-4", "Claude-1"]
    assert ref.excluded == ("WizardLM-30B",)
    assert ref.date == "2023-08-02" and ref.snapshot == p.name
    with pytest.raises(ReferenceMatchError, match="after the requested date"):
        load_reference(p, date="2023-07-01")
    p.write_text(TABLE_2023.replace(",-,", ",n/a,"))
    with pytest.raises(ValidationError, match="numbers or '-'"):
        load_reference(p)


def test_generic_table_validation() -> None:
    ok = pd.DataFrame({"model": ["a", "b"], "rating": [2.0, 1.0], "lower": [1.5, 0.5],
                       "upper": [2.5, 1.5]})
    ref = load_reference(ok)
    assert ref.format == "generic" and ref.has_intervals and ref.level is None
    with pytest.raises(ValidationError, match="every model or none"):
        load_reference(ok.assign(lower=[1.5, np.nan]))
    with pytest.raises(ValidationError, match="lower <= rating <= upper"):
        load_reference(ok.assign(lower=[2.1, 0.5]))
    with pytest.raises(ValidationError, match="duplicated"):
        load_reference(ok.assign(model=["a", "a"]))
    with pytest.raises(ValidationError, match="finite"):
        load_reference(ok.assign(rating=["x", 1.0]))
    with pytest.raises(ReferenceMatchError, match="cannot tell the reference format"):
        load_reference(pd.DataFrame({"name": ["a"], "score": [1.0]}))


def test_any_table_through_a_column_mapping(tmp_path: Path) -> None:
    table = pd.DataFrame({"Model": ["a", "b", "c"], "score": [80.0, 60.0, 40.0],
                          "lo": [78.0, 57.0, 39.0], "hi": [83.0, 62.0, 44.0],
                          "se": [1.0, 2.0, 0.5], "Name": ["A", "B", "C"]})
    # today: "cannot tell the reference format"; now named columns read any table
    ref = load_reference(table, columns={"model": "Model", "rating": "score"})
    assert ref.models == ["a", "b", "c"] and not ref.has_intervals
    ref = load_reference(table, columns={"model": "Model", "rating": "score", "lower": "lo",
                                         "upper": "hi", "display_name": "Name"})
    assert ref.has_intervals and ref.table.loc["b", "upper"] == 62.0
    assert ref.names()["a"] == ("A",)
    ref = load_reference(table, columns={"model": "Model", "rating": "score", "se": "se"})
    assert ref.level == 0.95
    assert ref.table.loc["b", "lower"] == pytest.approx(60.0 - 1.959964 * 2.0, abs=1e-5)
    path = tmp_path / "board.csv"
    table.to_csv(path, index=False)
    assert load_reference(path, columns={"model": "Model", "rating": "score"}).models[0] == "a"
    with pytest.raises(ValidationError, match=r"does not have: \{'rating': 'Score'\}"):
        load_reference(table, columns={"model": "Model", "rating": "Score"})
    with pytest.raises(ValidationError, match="unknown"):
        load_reference(table, columns={"model": "Model", "rating": "score", "elo": "x"})
    with pytest.raises(ValidationError, match="both 'lower' and 'upper'"):
        load_reference(table, columns={"model": "Model", "rating": "score", "lower": "lo"})
    with pytest.raises(ValidationError, match="must name the 'rating' column"):
        load_reference(table, columns={"model": "Model"})
    with pytest.raises(ValidationError, match="cannot be combined"):
        load_reference(table, columns={"model": "Model", "rating": "score"},
                       format="lmsys-history")
    # the format error says how to name the columns, in the caller's terms
    with pytest.raises(ReferenceMatchError) as info:
        load_reference(table)
    assert "columns={'model': 'Model', 'rating': 'score'}" in str(info.value)
    assert "--ref-columns model=Model,rating=score" in info.value.render(
        {"columns": "--ref-columns"})


def test_leaderboard_as_reference() -> None:
    log = wa.simulate_battles({"a": 1100, "b": 1000, "c": 900}, 1500, rng=1)
    board = wa.rank(log, rounds=50, rng=1)
    ref = load_reference(board)
    assert isinstance(ref, Reference) and ref.format == "leaderboard"
    assert ref.has_intervals and ref.level == 0.95
    assert ref.models == board.models


# ----------------------------------------------------------------------------- real data
def test_real_lmsys_files(shared_data: Path) -> None:
    lm = shared_data / "lmsys"
    ref = load_reference(lm / "elo_history_alltime.csv", date="2024-07-16")
    assert ref.date == "2024-07-16" and len(ref.table) > 100
    assert any("yi-34b-chat" in n for n in ref.notes)  # the upstream duplicate row
    cat = load_reference(lm / "arena_catalog_leaderboard_snapshots.csv.gz", date="2025-05-06",
                         category="coding")
    assert cat.has_intervals and cat.date == "2025-05-06" and cat.category == "coding"
    with pytest.raises(ReferenceMatchError, match="pass commit="):
        load_reference(lm / "arena_catalog_leaderboard_snapshots.csv.gz", date="2025-05-27")
    t = load_reference(lm / "leaderboard_table_20231220.csv")
    assert t.date == "2023-12-20" and "GPT-4-Turbo" in t.models and t.excluded


def test_arena_hard_leaderboard_as_published(shared_data: Path) -> None:
    ref = load_reference(shared_data / "arena_hard" / "arena_hard_leaderboard_20240731.csv")
    assert ref.format == "arena-hard" and ref.date == "2024-07-31"
    assert len(ref.table) == 60 and ref.has_intervals and ref.level == 0.95
    top = ref.table.iloc[0]
    assert ref.models[0] == "gpt-4-turbo-2024-04-09"
    assert (top["rating"], top["lower"], top["upper"]) == (82.63, 80.75, 84.6)
    with pytest.raises(ReferenceMatchError, match="dated 2024-07-31, after"):
        load_reference(shared_data / "arena_hard" / "arena_hard_leaderboard_20240731.csv",
                       date="2024-06-01")


def test_alpaca_eval_leaderboards_as_published(shared_data: Path) -> None:
    v2 = load_reference(
        shared_data / "alpaca_eval" / "weighted_alpaca_eval_gpt4_turbo_leaderboard.csv")
    assert v2.format == "alpaca-eval" and len(v2.table) == 223
    raw = pd.read_csv(
        shared_data / "alpaca_eval" / "weighted_alpaca_eval_gpt4_turbo_leaderboard.csv",
        index_col=0)
    assert v2.ratings["gpt-4o-2024-05-13"] == raw.at[
        "gpt-4o-2024-05-13", "length_controlled_winrate"]
    assert not v2.has_intervals  # lc_standard_error is missing for most models
    assert any("length-controlled" in n for n in v2.notes)
    assert any("missing for 175 of 223" in n for n in v2.notes)
    v1 = load_reference(shared_data / "alpaca_eval" / "alpaca_eval_gpt4_leaderboard.csv")
    assert v1.format == "alpaca-eval" and len(v1.table) == 102 and v1.level == 0.95
    row = v1.table.loc["gpt4"]
    assert row["upper"] - row["rating"] == pytest.approx(1.959964 * 0.716281, abs=1e-5)
    assert any("win rate" in n for n in v1.notes)
    # any other column is one mapping away
    wr = load_reference(
        shared_data / "alpaca_eval" / "weighted_alpaca_eval_gpt4_turbo_leaderboard.csv",
        columns={"model": "Unnamed: 0", "rating": "win_rate", "se": "standard_error"})
    assert wr.has_intervals and wr.ratings["gpt4_1106_preview"] == pytest.approx(50.0)


# ----------------------------------------------------------------------------- HTTP
class _Handler(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[str, bytes]]] = {}

    def do_GET(self) -> None:
        if self.path not in self.routes:
            self.send_response(404)
            self.end_headers()
            return
        ctype, body = self.routes[self.path]
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    data = {"full": {"m1": {"rating": 1300.0, "rating_q975": 1310.0, "rating_q025": 1290.0},
                     "m2": {"rating": 1250.0, "rating_q975": 1262.0, "rating_q025": 1240.0}},
            "coding": {"m1": {"rating": 1280.0, "rating_q975": 1300.0, "rating_q025": 1260.0}}}
    _Handler.routes = {
        "/data/leaderboard-text.json": ("application/json", json.dumps(data).encode()),
        "/hist.csv.gz": ("application/gzip", gzip.compress(HISTORY.encode())),
        "/broken": ("text/plain", b"\x00\x01not a table"),
    }
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_fetch_over_loopback(server: str) -> None:
    ref = fetch_reference(f"{server}/data/leaderboard-text.json")
    assert ref.format == "arena-catalog-json" and ref.models == ["m1", "m2"]
    assert ref.source.endswith("leaderboard-text.json") and ref.has_intervals
    assert fetch_reference(f"{server}/data/leaderboard-text.json",
                           category="coding").ratings["m1"] == 1280.0
    hist = fetch_reference(f"{server}/hist.csv.gz", date="2023-06-30")
    assert hist.date == "2023-06-20"


def test_fetch_errors(server: str) -> None:
    with pytest.raises(ReferenceFetchError, match="HTTP 404") as info:
        fetch_reference(f"{server}/missing.json")
    assert info.value.status_code == 404 and info.value.url.endswith("/missing.json")
    # a body that is not a board is not a network failure
    with pytest.raises(ReferenceMatchError) as bad:
        fetch_reference(f"{server}/broken")
    assert not isinstance(bad.value, ReferenceFetchError)
    port = server.rsplit(":", 1)[1]
    with pytest.raises(ReferenceFetchError, match=r"could not fetch.*ConnectError") as down:
        fetch_reference(f"http://127.0.0.1:{int(port) + 1}/x.json", timeout=2.0)
    assert down.value.status_code is None
    assert isinstance(down.value, ReferenceMatchError)  # old handlers still catch it
