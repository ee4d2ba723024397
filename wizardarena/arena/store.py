"""The durable judgment store: one SQLite database in WAL mode.

A judgment is keyed by (question_id, model_a, model_b, game, turn, judge, template_hash),
``model_a`` being the model shown first. Each judgment is committed as soon as it is known,
so a crash or ``kill -9`` loses at most the calls in flight (WAL with ``synchronous=NORMAL``
survives a process crash; pass ``synchronous="FULL"`` to survive power loss too). A stored
judgment is never rewritten: inserting it again is a no-op, except that a *failed* judgment
may be replaced by a successful one when the caller asks for it.

A failed judgment is either an unparseable verdict (``reason`` ``"unparseable verdict"``,
the judge's text in ``raw``) or a request the endpoint rejected for good (``reason`` such as
``"HTTP 400 context_length_exceeded"``, the server's message in ``error``).

Exports: :meth:`JudgmentStore.battles` (the battle-log DataFrame: failed judgments are not in
it), :meth:`JudgmentStore.failed` (with the raw judge text and the reason),
:meth:`JudgmentStore.failure_summary` (counts by reason with the first keys), and
:meth:`JudgmentStore.export_parquet` (atomic: temp file in the same directory, then rename).
The store holds no secret: the client scrubs API keys from every text before it gets here,
even when a server echoes them.

Only one process writes a store (the driver of a run); schema version 1 stores (without the
``reason`` column) are upgraded in place when opened.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from wizardarena._io import atomic_write
from wizardarena.battles.schema import WINNER_LABELS
from wizardarena.exceptions import StoreError, ValidationError

__all__ = [
    "BATTLE_COLUMNS",
    "UNPARSEABLE",
    "JudgmentRecord",
    "JudgmentStore",
    "failure_summary",
    "format_key",
    "open_store",
]

SCHEMA_VERSION = "2"

#: reason of a failed judgment whose verdict did not parse
UNPARSEABLE = "unparseable verdict"

#: columns of the exported battle log, in order (``category`` only when prompts have one)
BATTLE_COLUMNS: tuple[str, ...] = (
    "question_id", "model_a", "model_b", "winner", "game", "turn", "judge", "template",
    "template_hash", "category", "verdict", "score_a", "score_b", "tstamp",
)

_KEY = ("question_id", "model_a", "model_b", "game", "turn", "judge", "template_hash")

#: the canonical winner labels as an SQL list
_WINNER_SQL = ", ".join(f"'{w}'" for w in WINNER_LABELS)

_DDL = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS judgments (
    question_id TEXT NOT NULL,
    model_a TEXT NOT NULL,
    model_b TEXT NOT NULL,
    game INTEGER NOT NULL,
    turn INTEGER NOT NULL,
    judge TEXT NOT NULL,
    template_hash TEXT NOT NULL,
    template TEXT NOT NULL,
    category TEXT,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    winner TEXT CHECK (winner IS NULL OR winner IN
        ({_WINNER_SQL})),
    verdict TEXT,
    score_a REAL,
    score_b REAL,
    raw TEXT,
    error TEXT,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 1,
    tstamp REAL NOT NULL,
    reason TEXT,
    PRIMARY KEY (question_id, model_a, model_b, game, turn, judge, template_hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS answers (
    model TEXT NOT NULL,
    question_id TEXT NOT NULL,
    turns TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    tstamp REAL NOT NULL,
    PRIMARY KEY (model, question_id)
) WITHOUT ROWID;
"""

_INSERT = f"""
INSERT INTO judgments ({", ".join([*_KEY, "template", "category", "status", "winner", "verdict",
    "score_a", "score_b", "raw", "error", "prompt_tokens", "completion_tokens", "attempts",
    "tstamp", "reason"])})
VALUES ({", ".join(["?"] * 21)})
ON CONFLICT ({", ".join(_KEY)}) DO UPDATE SET
    status = excluded.status, winner = excluded.winner, verdict = excluded.verdict,
    score_a = excluded.score_a, score_b = excluded.score_b, raw = excluded.raw,
    error = excluded.error, prompt_tokens = excluded.prompt_tokens,
    completion_tokens = excluded.completion_tokens, attempts = excluded.attempts,
    tstamp = excluded.tstamp, reason = excluded.reason
WHERE judgments.status = 'failed' AND excluded.status = 'ok' AND ?
"""


@dataclass(frozen=True)
class JudgmentRecord:
    """One judgment as stored (``winner`` is None for a failed one, ``reason`` says why)."""

    question_id: str
    model_a: str
    model_b: str
    game: int
    turn: int
    judge: str
    template: str
    template_hash: str
    category: str | None
    ok: bool
    winner: str | None
    verdict: str | None
    score_a: float
    score_b: float
    raw: str
    error: str | None
    prompt_tokens: int
    completion_tokens: int
    attempts: int
    tstamp: float
    reason: str | None = None


def _nan_to_none(x: float) -> float | None:
    return None if x is None or math.isnan(x) else float(x)


class JudgmentStore:
    """SQLite judgment store (see the module docstring).

    Parameters
    ----------
    path : str or os.PathLike
        The database file (created with its directory if missing).
    synchronous : {"NORMAL", "FULL"}, default "NORMAL"
        SQLite durability level (NORMAL survives process crashes, FULL also power loss).
    """

    def __init__(self, path: str | os.PathLike[str], *, synchronous: str = "NORMAL") -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValidationError(f"synchronous must be 'NORMAL' or 'FULL'; got {synchronous!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(_DDL)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            elif row[0] == "1":  # version 1 had no reason column: add it
                self._db.execute("BEGIN IMMEDIATE")
                cols = {r[1] for r in self._db.execute("PRAGMA table_info(judgments)")}
                if "reason" not in cols:
                    self._db.execute("ALTER TABLE judgments ADD COLUMN reason TEXT")
                self._db.execute("UPDATE judgments SET reason = ? WHERE status = 'failed' "
                                 "AND reason IS NULL", (UNPARSEABLE,))
                self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema'",
                                 (SCHEMA_VERSION,))
                self._db.execute("COMMIT")
            elif row[0] != SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: judgment store schema {row[0]!r}, expected {SCHEMA_VERSION!r}"
                )
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a usable judgment store: {exc}") from None

    def __repr__(self) -> str:
        return f"JudgmentStore({str(self.path)!r})"

    def close(self) -> None:
        """Close the database (idempotent)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None  # type: ignore[assignment]

    def __enter__(self) -> JudgmentStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        if self._db is None:
            raise StoreError(f"{self.path}: the store is closed")
        try:
            return self._db.execute(sql, params)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: {exc}") from None

    # -- judgments ----------------------------------------------------------------------
    def put(self, rec: JudgmentRecord, *, replace_failed: bool = False) -> bool:
        """Store one judgment and commit; return True if something was written.

        An existing judgment with the same key is kept (nothing is written twice), except a
        failed one when ``replace_failed`` and ``rec`` is successful.
        """
        params = (
            rec.question_id, rec.model_a, rec.model_b, int(rec.game), int(rec.turn), rec.judge,
            rec.template_hash, rec.template, rec.category, "ok" if rec.ok else "failed",
            rec.winner, rec.verdict, _nan_to_none(rec.score_a), _nan_to_none(rec.score_b),
            rec.raw, rec.error, int(rec.prompt_tokens), int(rec.completion_tokens),
            int(rec.attempts), float(rec.tstamp),
            None if rec.ok else (rec.reason or UNPARSEABLE), int(bool(replace_failed)),
        )
        with self._lock:
            cur = self._exec(_INSERT, params)  # autocommit: one durable transaction
            return cur.rowcount > 0

    def existing(
        self, judge: str, template_hash: str, *, include_failed: bool = True
    ) -> set[tuple[str, str, str, int, int]]:
        """Keys ``(question_id, model_a, model_b, game, turn)`` already stored for a judge."""
        sql = ("SELECT question_id, model_a, model_b, game, turn FROM judgments "
               "WHERE judge = ? AND template_hash = ?")
        if not include_failed:
            sql += " AND status = 'ok'"
        with self._lock:
            rows = self._exec(sql, (judge, template_hash)).fetchall()
        return {(str(q), str(a), str(b), int(g), int(t)) for q, a, b, g, t in rows}

    def count(self, *, status: str | None = None) -> int:
        """Number of stored judgments (optionally only ``"ok"`` or ``"failed"``)."""
        with self._lock:
            if status is None:
                return int(self._exec("SELECT COUNT(*) FROM judgments").fetchone()[0])
            return int(self._exec("SELECT COUNT(*) FROM judgments WHERE status = ?",
                                  (status,)).fetchone()[0])

    def _frame(self, status: str, judge: str | None, template_hash: str | None,
               columns: Iterable[str]) -> pd.DataFrame:
        cols = list(columns)
        sql = f"SELECT {', '.join(cols)} FROM judgments WHERE status = ?"
        params: list[Any] = [status]
        if judge is not None:
            sql += " AND judge = ?"
            params.append(judge)
        if template_hash is not None:
            sql += " AND template_hash = ?"
            params.append(template_hash)
        sql += " ORDER BY tstamp, question_id, model_a, model_b, game, turn"
        with self._lock:
            rows = self._exec(sql, params).fetchall()
        frame = pd.DataFrame.from_records(rows, columns=cols)
        for c in ("game", "turn", "prompt_tokens", "completion_tokens", "attempts"):
            if c in frame:
                frame[c] = frame[c].astype("int64")
        for c in ("score_a", "score_b", "tstamp"):
            if c in frame:
                frame[c] = pd.to_numeric(frame[c]).astype("float64")
        return frame

    def battles(
        self, *, judge: str | None = None, template_hash: str | None = None
    ) -> pd.DataFrame:
        """The battle log: successful judgments, columns :data:`BATTLE_COLUMNS`.

        ``category`` is present only when at least one judgment has one. Ordered by time.
        """
        frame = self._frame("ok", judge, template_hash, BATTLE_COLUMNS)
        if frame["category"].isna().all():
            frame = frame.drop(columns="category")
        return frame.reset_index(drop=True)

    def failed(
        self, *, judge: str | None = None, template_hash: str | None = None
    ) -> pd.DataFrame:
        """Failed judgments: the judge's raw text, the error and its ``reason``."""
        cols = ["question_id", "model_a", "model_b", "game", "turn", "judge", "template",
                "template_hash", "reason", "raw", "error", "tstamp"]
        return self._frame("failed", judge, template_hash, cols).reset_index(drop=True)

    def failure_summary(
        self, *, judge: str | None = None, template_hash: str | None = None, first: int = 3
    ) -> pd.DataFrame:
        """Failed judgments counted by reason, most frequent first.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``reason``; columns ``count`` and ``first_keys`` (the first ``first``
            keys as ``"question_id model_a vs model_b (game g, turn t)"``) and ``message``
            (the first error message).
        """
        return failure_summary(self.failed(judge=judge, template_hash=template_hash),
                               first=first)

    def usage(self) -> dict[str, int]:
        """Total judge tokens stored: ``prompt_tokens``, ``completion_tokens``."""
        with self._lock:
            pt, ct = self._exec(
                "SELECT COALESCE(SUM(prompt_tokens),0), COALESCE(SUM(completion_tokens),0) "
                "FROM judgments").fetchone()
        return {"prompt_tokens": int(pt), "completion_tokens": int(ct)}

    def export_parquet(
        self, path: str | os.PathLike[str], *, judge: str | None = None,
        template_hash: str | None = None,
    ) -> int:
        """Write the battle log to Parquet atomically; return the number of rows."""
        frame = self.battles(judge=judge, template_hash=template_hash)
        atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))
        return len(frame)

    # -- answers ------------------------------------------------------------------------
    def put_answer(self, model: str, question_id: str, turns: Sequence[str], *,
                   prompt_tokens: int = 0, completion_tokens: int = 0,
                   tstamp: float = 0.0) -> bool:
        """Store one model answer (all its turns); an existing answer is kept."""
        with self._lock:
            cur = self._exec(
                "INSERT OR IGNORE INTO answers VALUES (?, ?, ?, ?, ?, ?)",
                (model, question_id, json.dumps(list(turns), ensure_ascii=False),
                 int(prompt_tokens), int(completion_tokens), float(tstamp)),
            )
            return cur.rowcount > 0

    def answers(self, model: str | None = None) -> pd.DataFrame:
        """Stored answers: columns ``model, question_id, turns`` (list of str), ``answer``
        (last turn), ``prompt_tokens, completion_tokens, tstamp``."""
        sql = "SELECT model, question_id, turns, prompt_tokens, completion_tokens, tstamp " \
              "FROM answers"
        params: tuple[Any, ...] = ()
        if model is not None:
            sql += " WHERE model = ?"
            params = (model,)
        with self._lock:
            rows = self._exec(sql + " ORDER BY model, question_id", params).fetchall()
        frame = pd.DataFrame.from_records(
            rows, columns=["model", "question_id", "turns", "prompt_tokens",
                           "completion_tokens", "tstamp"])
        frame["turns"] = [json.loads(t) for t in frame["turns"]]
        frame.insert(3, "answer", [t[-1] if t else "" for t in frame["turns"]])
        return frame


def format_key(question_id: str, model_a: str, model_b: str, game: int, turn: int) -> str:
    """A judgment key as people read it: ``"q07 m-a vs m-b (game 0, turn 1)"``."""
    return f"{question_id} {model_a} vs {model_b} (game {int(game)}, turn {int(turn)})"


def failure_summary(failed: pd.DataFrame, *, first: int = 3) -> pd.DataFrame:
    """Count failed judgments (a :meth:`JudgmentStore.failed` frame) by reason."""
    cols = ["count", "first_keys", "message"]
    if len(failed) == 0:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="reason", dtype=object))
    rows = {}
    for reason, grp in failed.groupby("reason", sort=False):
        keys = [format_key(*k) for k in grp[["question_id", "model_a", "model_b", "game",
                                             "turn"]].head(first).itertuples(index=False)]
        msg = next((str(m) for m in grp["error"] if isinstance(m, str) and m), "")
        rows[reason] = {"count": len(grp), "first_keys": keys, "message": msg}
    out = pd.DataFrame.from_dict(rows, orient="index", columns=cols)
    out.index.name = "reason"
    return out.sort_values("count", ascending=False, kind="stable")


def open_store(store: str | os.PathLike[str] | JudgmentStore) -> tuple[JudgmentStore, bool]:
    """Return ``(store, owned)``: open a path (owned, to close) or pass a store through."""
    if isinstance(store, JudgmentStore):
        return store, False
    if isinstance(store, (str, os.PathLike)):
        return JudgmentStore(store), True
    raise ValidationError(
        f"store must be a path to a SQLite file or a JudgmentStore; got {type(store).__name__}"
    )
