"""The arena: judged pairwise battles over any OpenAI-compatible endpoint.

Modules: :mod:`~wizardarena.arena.judges` (templates, verdict parsing, :class:`Judge`),
:mod:`~wizardarena.arena.pairing`, :mod:`~wizardarena.arena.store` (SQLite judgment store),
:mod:`~wizardarena.arena.answers` (prompt / answer loaders),
:mod:`~wizardarena.arena.generate` (answer generation),
and :mod:`~wizardarena.arena.runner` (:func:`run_arena`). Endpoints are called through
the one client layer, :mod:`wizardarena.endpoints` (httpx client, retries, failure classes,
circuit breaker, key scrubbing).
"""

from __future__ import annotations

from wizardarena.arena.answers import answers_frame, load_answers, load_prompts
from wizardarena.arena.generate import generate_answers
from wizardarena.arena.judges import Judge, Template, Verdict, Winner
from wizardarena.arena.runner import ArenaResult, Progress, arun_arena, run_arena
from wizardarena.arena.store import JudgmentStore
from wizardarena.endpoints import AsyncClient, ChatResult, Client

__all__ = [
    "ArenaResult",
    "AsyncClient",
    "ChatResult",
    "Client",
    "Judge",
    "JudgmentStore",
    "Progress",
    "Template",
    "Verdict",
    "Winner",
    "answers_frame",
    "arun_arena",
    "generate_answers",
    "load_answers",
    "load_prompts",
    "run_arena",
]
