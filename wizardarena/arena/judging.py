"""One judgment, from request to outcome: the part of a run the local engine and Ray actors share.

:class:`MatchJudge` builds the judge's messages for a :class:`~wizardarena.arena.pairing.Match`,
asks the judge through an :class:`~wizardarena.endpoints.client.AsyncClient`, parses the verdict
and returns an :class:`Outcome`: what the run records (a verdict, a failed judgment with its
reason, or a request error). It touches no store and no counter, so the same code runs in
the driver's event loop (``engine="local"``) and inside the judge actors of
``engine="ray"`` (:mod:`wizardarena.ray.arena`), whose outcomes travel back to the driver;
the driver alone turns outcomes into store records (``runner._Run.apply``).

Failures follow :mod:`wizardarena.endpoints.failures` unchanged: a *fatal* one is raised (the
run stops); a *permanent* one becomes a ``REJECTED`` outcome (stored as a failed judgment);
a *transient* one whose retries ran out becomes an ``ERROR`` outcome (not stored: a rerun
asks again). An unparseable verdict is an ``UNPARSEABLE`` outcome (stored as failed).
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

from wizardarena.arena.judges import Judge, build_messages
from wizardarena.arena.pairing import Match
from wizardarena.arena.store import UNPARSEABLE, format_key
from wizardarena.endpoints import AsyncClient, FailureClass, classify_error
from wizardarena.exceptions import ClientError, JudgeParseError, RequestRejectedError

__all__ = ["MatchJudge", "Outcome", "OutcomeKind"]


class OutcomeKind(str, enum.Enum):
    """What one requested judgment came to."""

    OK = "ok"  #: a parsed verdict (stored)
    UNPARSEABLE = "unparseable"  #: the judge answered without a verdict (stored as failed)
    REJECTED = "rejected"  #: the endpoint rejected the request for good (stored as failed)
    ERROR = "error"  #: transient failures outlasted the retries (not stored)


@dataclass(frozen=True)
class Outcome:
    """The outcome of one judgment, before it is stored.

    Attributes
    ----------
    match : Match
    kind : OutcomeKind
    winner, verdict : str or None
        The parsed verdict (``OK`` only).
    score_a, score_b : float
        Scores of score templates (NaN otherwise).
    raw : str
        The judge's text (``OK`` and ``UNPARSEABLE``).
    error : str or None
        The parse error, the server's message (``REJECTED``) or the request error, which
        starts with the judgment's key (``ERROR``).
    reason : str or None
        Why a judgment failed: ``"unparseable verdict"``, ``"HTTP 400 ..."``.
    prompt_tokens, completion_tokens, attempts : int
    status : int or None
        HTTP status of a ``REJECTED`` request.
    url : str
        The (redacted) URL that rejected it.
    tstamp : float
        When the outcome was known (Unix time).
    """

    match: Match
    kind: OutcomeKind
    winner: str | None = None
    verdict: str | None = None
    score_a: float = math.nan
    score_b: float = math.nan
    raw: str = ""
    error: str | None = None
    reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 1
    status: int | None = None
    url: str = ""
    tstamp: float = 0.0

    @property
    def stored(self) -> bool:
        """Whether the outcome goes into the store (every kind but ``ERROR``)."""
        return self.kind is not OutcomeKind.ERROR


class MatchJudge:
    """Request, parse and classify one judgment (no store, no counters; see the module
    docstring).

    Parameters
    ----------
    judge : Judge
        Template and request parameters of the judge.
    client : AsyncClient
        The client the requests go through (its failure classes, breaker and scrubber).
    turns : mapping of question_id to tuple of str
        The user turns of every prompt.
    answers : mapping of model to (mapping of question_id to tuple of str)
        Every model's answers, turn by turn.
    """

    def __init__(self, judge: Judge, client: AsyncClient,
                 turns: Mapping[str, tuple[str, ...]],
                 answers: Mapping[str, Mapping[str, tuple[str, ...]]]) -> None:
        self.template = judge.template
        self.client = client
        self.turns = turns
        self.answers = answers
        self.params = {"temperature": judge.temperature, "max_tokens": judge.max_tokens,
                       **judge.extra_params}

    async def __call__(self, m: Match) -> Outcome:
        """The outcome of ``m``; fatal failures raise (the client's error)."""
        msgs = build_messages(self.template, self.turns[m.question_id],
                              self.answers[m.model_a][m.question_id],
                              self.answers[m.model_b][m.question_id], turn=m.turn)
        try:
            r = await self.client.chat(msgs, **self.params)
        except ClientError as exc:
            kind = classify_error(exc)
            if kind is FailureClass.FATAL:
                raise
            if kind is FailureClass.PERMANENT:
                assert isinstance(exc, RequestRejectedError)  # classify_error's contract
                return Outcome(m, OutcomeKind.REJECTED, error=exc.message, reason=exc.reason,
                               status=exc.status_code, url=exc.url, tstamp=time.time())
            key = format_key(m.question_id, m.model_a, m.model_b, m.game, m.turn)
            return Outcome(m, OutcomeKind.ERROR, error=f"{key}: {exc}", tstamp=time.time())
        pt, ct, attempts = r.prompt_tokens, r.completion_tokens, r.attempts
        try:
            v = self.template.parse(r.text)
        except JudgeParseError as exc:
            return Outcome(m, OutcomeKind.UNPARSEABLE, raw=r.text, error=str(exc),
                           reason=UNPARSEABLE, prompt_tokens=pt, completion_tokens=ct,
                           attempts=attempts, tstamp=time.time())
        return Outcome(m, OutcomeKind.OK, winner=v.winner.value, verdict=v.verdict,
                       score_a=v.score_a, score_b=v.score_b, raw=r.text, prompt_tokens=pt,
                       completion_tokens=ct, attempts=attempts, tstamp=time.time())
