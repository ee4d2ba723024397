"""Generating model answers through the same OpenAI-compatible client.

Multi-turn prompts are answered turn by turn (each turn sees the earlier answers). With a
store, every finished answer is committed at once and a rerun only asks for what is missing.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from wizardarena.arena.answers import normalize_prompts
from wizardarena.arena.client import AsyncClient, run_sync
from wizardarena.arena.store import JudgmentStore, open_store
from wizardarena.exceptions import ClientError, HTTPStatusError, ValidationError

__all__ = ["agenerate_answers", "generate_answers"]


async def agenerate_answers(
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
    store: str | os.PathLike[str] | JudgmentStore | None = None,
    progress: Callable[[int, int, int], None] | None = None,
) -> pd.DataFrame:
    """Async version of :func:`generate_answers`."""
    frame = normalize_prompts(prompts)
    st, owned = open_store(store) if store is not None else (None, False)
    done: dict[str, list[str]] = {}
    if st is not None:
        prev = st.answers(model)
        done = dict(zip(prev["question_id"], prev["turns"]))
    todo = [(q, t) for q, t in zip(frame.index, frame["turns"]) if q not in done]
    client = AsyncClient(base_url, model=model, api_key_env=api_key_env, timeout=timeout,
                         concurrency=concurrency, max_retries=max_retries)
    counters = {"done": 0, "errors": 0}
    errors: list[str] = []
    results: dict[str, tuple[list[str], int, int]] = {}

    async def one(qid: str, turns: tuple[str, ...]) -> None:
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
        except HTTPStatusError as exc:
            if 400 <= exc.status_code < 500 and exc.status_code != 429:
                raise
            counters["errors"] += 1
            errors.append(str(exc))
            return
        except ClientError as exc:
            counters["errors"] += 1
            errors.append(str(exc))
            return
        results[qid] = (outs, pt, ct)
        if st is not None:
            st.put_answer(model, qid, outs, prompt_tokens=pt, completion_tokens=ct,
                          tstamp=time.time())
        counters["done"] += 1
        if progress is not None:
            progress(counters["done"], len(todo), counters["errors"])

    try:
        queue = iter(todo)

        async def worker() -> None:
            for q, t in queue:
                await one(q, t)

        await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    finally:
        await client.aclose()
        if owned and st is not None:
            st.close()
    if counters["errors"]:
        raise ClientError(
            f"{counters['errors']} of {len(todo)} answers failed after retries "
            f"(answers that succeeded are {'stored; rerun to finish' if st else 'lost'}); "
            f"first error: {errors[0]}"
        )
    rows = []
    for q in frame.index:
        turns = list(done[q]) if q in done else results[q][0]
        rows.append({"model": model, "question_id": q, "turns": turns, "answer": turns[-1]})
    return pd.DataFrame(rows, columns=["model", "question_id", "turns", "answer"])


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
    store: str | os.PathLike[str] | JudgmentStore | None = None,
    progress: Callable[[int, int, int], None] | None = None,
) -> pd.DataFrame:
    """Ask a model to answer every prompt.

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
        Seconds per HTTP attempt.
    max_retries : int, default 6
    store : path or JudgmentStore, optional
        Keep answers durably; a rerun asks only for missing ones.
    progress : callable, optional
        ``progress(done, total, errors)`` after each answer.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, question_id, turns, answer``, in prompt order.

    Raises
    ------
    ClientError
        Some answers failed after retries (the others are kept in the store).
    """
    if not isinstance(model, str) or not model:
        raise ValidationError(f"model must be a non-empty str; got {model!r}")
    return run_sync(agenerate_answers(
        prompts, base_url=base_url, model=model, api_key_env=api_key_env, system=system,
        temperature=temperature, max_tokens=max_tokens, concurrency=concurrency,
        timeout=timeout, max_retries=max_retries, store=store, progress=progress,
    ))
