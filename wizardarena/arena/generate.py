"""Generating model answers through the same OpenAI-compatible client.

Multi-turn prompts are answered turn by turn (each turn sees the earlier answers). Every
answer is kept the moment it arrives, so a failure never discards what succeeded:

- ``out="answers/m.jsonl"``: one JSON line ``{model, question_id, turns, answer}`` appended
  per answer (a single ``write`` of a whole line; a line cut short by a crash is dropped when
  the file is opened again);
- ``store="arena.sqlite"``: the answers table of the judgment store, one commit per answer.

A rerun with the same ``out`` and/or ``store`` asks only for the prompts that have no answer
yet. Failures follow :mod:`wizardarena.endpoints.failures`: a fatal one stops the run at once; a
request the endpoint rejects (e.g. a prompt longer than the model's context) or whose
retries run out leaves that prompt without an answer and the run goes on. At the end,
missing answers raise :class:`~wizardarena.exceptions.IncompleteAnswersError`, which counts
them by reason, names the first prompts and carries the answers that exist.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from wizardarena.arena.answers import normalize_prompts
from wizardarena.arena.store import JudgmentStore, open_store
from wizardarena.endpoints import (
    DEFAULT_MAX_RESPONSE_BYTES,
    AsyncClient,
    FailureClass,
    classify_error,
    run_sync,
    run_workers,
)
from wizardarena.exceptions import (
    ClientError,
    IncompleteAnswersError,
    RequestRejectedError,
    ValidationError,
)
from wizardarena.progress import Progress, ProgressCallback, ProgressOption, progress_callback

__all__ = ["AnswerFile", "AnswerRequest", "agenerate_answers", "generate_answers"]

COLUMNS = ["model", "question_id", "turns", "answer"]


class AnswerFile:
    """A JSONL answer file that grows one whole line per answer.

    Opening it drops a last line cut short by a crash (it was never a complete answer) and
    reads the answers of ``model`` already there.

    Parameters
    ----------
    path : str or os.PathLike
        Created with its directory when missing.
    model : str
        Records of other models in the file are kept and ignored.
    """

    def __init__(self, path: str | os.PathLike[str], model: str) -> None:
        self.path = Path(path)
        self.model = model
        self.done: dict[str, list[str]] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            self._load()
        except BaseException:
            os.close(self._fd)
            raise

    def _load(self) -> None:
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # an unfinished last line: cut it off
            os.ftruncate(self._fd, end)
            data = data[:end]
        for lineno, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                if rec.get("model") == self.model:
                    self.done[str(rec["question_id"])] = [str(t) for t in rec["turns"]]
            except (ValueError, KeyError, TypeError, AttributeError):
                raise ValidationError(
                    f"{self.path}: line {lineno} is not an answer record "
                    f"{{model, question_id, turns, answer}}; use another output file "
                    f"(out= / --out)") from None

    def append(self, question_id: str, turns: list[str]) -> None:
        """Write one answer as one line (one ``write`` call)."""
        rec = {"model": self.model, "question_id": question_id, "turns": turns,
               "answer": turns[-1] if turns else ""}
        data = (json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8")
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]
        self.done[question_id] = turns

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


@dataclass(frozen=True)
class AnswerRequest:
    """What :func:`generate_answers` asks for (see it for each field): built once from the
    keyword arguments of :func:`generate_answers` or :func:`agenerate_answers` and run by
    :meth:`run`, the one body of both."""

    base_url: str
    model: str
    api_key_env: str | None = "OPENAI_API_KEY"
    system: str | None = None
    temperature: float | None = 0.0
    max_tokens: int | None = None
    concurrency: int = 16
    timeout: float = 300.0
    max_retries: int = 6
    breaker_seconds: float | None = 10.0
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    store: str | os.PathLike[str] | JudgmentStore | None = None
    out: str | os.PathLike[str] | None = None
    progress: ProgressOption = True

    async def run(self, prompts: Any) -> pd.DataFrame:
        """The answers to ``prompts`` (see :func:`generate_answers`)."""
        model, system, temperature, max_tokens = (self.model, self.system, self.temperature,
                                                  self.max_tokens)
        concurrency, store, out = self.concurrency, self.store, self.out
        with progress_callback(self.progress) as report:
            if not isinstance(model, str) or not model:
                raise ValidationError(f"model must be a non-empty str; got {model!r}")
            frame = normalize_prompts(prompts)
            client = AsyncClient(self.base_url, model=model, api_key_env=self.api_key_env,
                                 timeout=self.timeout, concurrency=concurrency,
                                 max_retries=self.max_retries,
                                 breaker_seconds=self.breaker_seconds,
                                 max_response_bytes=self.max_response_bytes)
            # inputs are valid: only now create files
            st, owned = open_store(store) if store is not None else (None, False)
            sink: AnswerFile | None = None
            try:
                sink = AnswerFile(out, model) if out is not None else None
                done: dict[str, list[str]] = {}
                if st is not None:
                    prev = st.answers(model)
                    done.update(zip(prev["question_id"], (list(t) for t in prev["turns"])))
                if sink is not None:
                    for q, turns in done.items():  # answers only the store had
                        if q not in sink.done:
                            sink.append(q, turns)
                    if st is not None:
                        for q, turns in sink.done.items():  # answers only the file had
                            if q not in done:
                                st.put_answer(model, q, turns, tstamp=time.time())
                    done.update(sink.done)
                todo = [(q, t) for q, t in zip(frame.index, frame["turns"]) if q not in done]
                failures = await _answer_all(client, todo, done, model=model, system=system,
                                             temperature=temperature, max_tokens=max_tokens,
                                             concurrency=concurrency, store=st, sink=sink,
                                             progress=report)
            finally:
                await client.aclose()
                if sink is not None:
                    sink.close()
                if owned and st is not None:
                    st.close()
            rows = [{"model": model, "question_id": q, "turns": list(done[q]),
                     "answer": done[q][-1] if done[q] else ""} for q in frame.index if q in done]
            answers = pd.DataFrame(rows, columns=COLUMNS)
            if failures:
                raise _incomplete(failures, answers, len(frame), store, out)
            return answers


async def agenerate_answers(prompts: Any, **options: Any) -> pd.DataFrame:
    """Async version of :func:`generate_answers` (same keyword arguments, the fields of
    :class:`AnswerRequest`)."""
    return await AnswerRequest(**options).run(prompts)

async def _answer_all(
    client: AsyncClient, todo: list[tuple[str, tuple[str, ...]]],
    done: dict[str, list[str]], *, model: str, system: str | None,
    temperature: float | None, max_tokens: int | None, concurrency: int,
    store: JudgmentStore | None, sink: AnswerFile | None,
    progress: ProgressCallback | None,
) -> list[tuple[str, str, str]]:
    """Answer ``todo`` (filling ``done``); return the failures ``(question_id, reason,
    message)``. Fatal failures propagate at once."""
    failures: list[tuple[str, str, str]] = []
    finished = 0
    tokens = [0, 0]
    t0 = time.perf_counter()

    async def one(qid: str, turns: tuple[str, ...]) -> None:
        nonlocal finished
        msgs: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
        outs: list[str] = []
        pt = ct = 0
        try:
            for user in turns:
                msgs.append({"role": "user", "content": user})
                r = await client.chat(msgs, temperature=temperature, max_tokens=max_tokens)
                msgs.append({"role": "assistant", "content": r.text})
                outs.append(r.text)
                pt += r.prompt_tokens
                ct += r.completion_tokens
        except ClientError as exc:
            kind = classify_error(exc)
            if kind is FailureClass.FATAL:
                raise
            reason = exc.reason if isinstance(exc, RequestRejectedError) else \
                f"no answer after retries ({type(exc).__name__})"
            message = exc.message if isinstance(exc, RequestRejectedError) else str(exc)
            failures.append((qid, reason, message))
        else:
            if sink is not None:
                sink.append(qid, outs)
            if store is not None:
                store.put_answer(model, qid, outs, prompt_tokens=pt, completion_tokens=ct,
                                 tstamp=time.time())
            done[qid] = outs
            tokens[0] += pt
            tokens[1] += ct
        finished += 1
        if progress is not None:
            progress(Progress("answer", finished, len(todo), unit="answer",
                              ok=finished - len(failures), failed=len(failures),
                              prompt_tokens=tokens[0], completion_tokens=tokens[1],
                              elapsed=time.perf_counter() - t0))

    await run_workers((one(q, t) for q, t in todo), concurrency)
    return failures


def _incomplete(failures: list[tuple[str, str, str]], answers: pd.DataFrame, n: int,
                store: Any, out: Any) -> IncompleteAnswersError:
    frame = pd.DataFrame(failures, columns=["question_id", "reason", "message"])
    parts = []
    for reason, grp in frame.groupby("reason", sort=False):
        ids = ", ".join(map(str, grp["question_id"].head(3)))
        more = ", ..." if len(grp) > 3 else ""
        parts.append(f"{reason}: {len(grp)} ({ids}{more}; {grp['message'].iloc[0][:200]})")
    where = []
    if out is not None:
        where.append(f"in {out}")
    if store is not None:
        where.append(f"in the store {store}")
    kept = " and ".join(where) if where else "in the exception's .answers"
    return IncompleteAnswersError(
        f"{len(frame)} of {n} prompts have no answer — {'; '.join(parts)}. The {len(answers)} "
        f"answers are kept {kept}; a rerun asks only for the missing ones",
        answers=answers, failures=frame)


def generate_answers(
    prompts: Any,
    *,
    base_url: str,
    model: str,
    api_key_env: str | None = "OPENAI_API_KEY",
    system: str | None = None,
    temperature: float | None = 0.0,
    max_tokens: int | None = None,
    concurrency: int = 16,
    timeout: float = 300.0,
    max_retries: int = 6,
    breaker_seconds: float | None = 10.0,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    store: str | os.PathLike[str] | JudgmentStore | None = None,
    out: str | os.PathLike[str] | None = None,
    progress: ProgressOption = True,
) -> pd.DataFrame:
    """Ask a model to answer every prompt, keeping each answer as it arrives.

    Parameters
    ----------
    prompts : DataFrame, path, sequence or mapping
        See :func:`wizardarena.arena.answers.normalize_prompts`.
    base_url, model : str
        The endpoint (API root with ``/v1``) and the model name.
    api_key_env : str or None, default "OPENAI_API_KEY"
        Environment variable with the API key.
    system : str, optional
        System prompt.
    temperature : float or None, default 0.0
    max_tokens : int, optional
    concurrency : int, default 16
    timeout : float, default 300.0
        Seconds per HTTP attempt (CLI ``--timeout``).
    max_retries : int, default 6
        Retries of a transient failure (CLI ``--max-retries``).
    breaker_seconds : float or None, default 10.0
        Stop when no connection could be made for this long (CLI ``--breaker-seconds``).
    max_response_bytes : int, default 16777216 (16 MiB)
        Cap on one response body; a longer one is cut and retried as a transient failure
        (CLI ``--max-response-bytes``).
    store : path or JudgmentStore, optional
        Keep answers in the store's answers table.
    out : path, optional
        Append each answer to this JSONL file (see the module docstring).
    progress : bool or callable, default True
        A progress bar (``True``: ``tqdm.auto``, drawn in notebooks and on terminals, not
        in logs), none (``False``), or a callable called with a
        :class:`~wizardarena.progress.Progress` event (stage ``"answer"``, ``ok`` and
        ``failed`` prompts, tokens) after each prompt. Earlier versions took a callback
        ``(done, total, failures)``: read ``event.done``, ``event.total``,
        ``event.failed``.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, question_id, turns, answer``, in prompt order (answers kept from
        earlier runs included).

    Raises
    ------
    IncompleteAnswersError
        Some prompts got no answer; ``.answers`` holds the others (also in ``out`` /
        ``store``), ``.failures`` the reasons. A rerun asks only for the missing ones.
    EndpointError, EndpointUnreachableError
        The endpoint cannot serve the run (bad key, unknown model, unreachable ...); the
        answers received before are kept in ``out`` / ``store``.
    """
    return run_sync(AnswerRequest(
        base_url=base_url, model=model, api_key_env=api_key_env, system=system,
        temperature=temperature, max_tokens=max_tokens, concurrency=concurrency,
        timeout=timeout, max_retries=max_retries, breaker_seconds=breaker_seconds,
        max_response_bytes=max_response_bytes, store=store, out=out, progress=progress,
    ).run(prompts))
