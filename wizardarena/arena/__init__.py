"""The arena: judged pairwise battles over any OpenAI-compatible endpoint.

The endpoints are reached through :mod:`wizardarena.endpoints` (the one client layer).

Modules: :mod:`~wizardarena.arena.judges` (templates, verdict parsing, :class:`Judge`),
:mod:`~wizardarena.arena.pairing`, :mod:`~wizardarena.arena.store` (SQLite judgment store),
:mod:`~wizardarena.arena.answers` (prompt / answer loaders),
:mod:`~wizardarena.arena.generate` (answer generation), :mod:`~wizardarena.arena.judging`
(one judgment: request, verdict, outcome), :mod:`~wizardarena.arena.options`
(:class:`ArenaOptions`),
:mod:`~wizardarena.arena.result` (:class:`ArenaResult`), :mod:`~wizardarena.arena.actors`
(judge actors on Ray) and :mod:`~wizardarena.arena.runner` (:func:`run_arena`).
"""

from __future__ import annotations

from wizardarena.arena.answers import answers_frame, load_answers, load_prompts
from wizardarena.arena.generate import generate_answers
from wizardarena.arena.judges import Judge, Template, Verdict, Winner
from wizardarena.arena.options import ArenaOptions
from wizardarena.arena.result import ArenaResult
from wizardarena.arena.runner import Progress, arun_arena, run_arena
from wizardarena.arena.store import JudgmentStore
from wizardarena.endpoints import AsyncClient, ChatResult, Client

__all__ = [
    "ArenaOptions",
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
