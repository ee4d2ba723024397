"""Fault injection of the simulated arena: what goes wrong, how often, and the bad responses.

Transport faults are drawn per (request key, attempt number), so a retry eventually
succeeds; verdict faults per request key, so a retried judge request gets the same bad text.
One uniform decides each: the kinds share [0, 1) in the order of :data:`TRANSPORT_FAULTS`
(of :data:`VERDICT_FAULTS`), each with the width of its rate.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, fields

from wizardarena.exceptions import ValidationError
from wizardarena.sim import errors
from wizardarena.sim.http import DROP, Replies, Response, Streamed, raw_response

__all__ = ["TRANSPORT_FAULTS", "VERDICT_FAULTS", "Faults", "transport_fault", "verdict_fault"]

#: the transport faults, by the name they are counted under (rate ``rate_<kind>``), in the
#: order they share the unit interval; ``slow`` only delays the answer
TRANSPORT_FAULTS: tuple[str, ...] = ("429", "500", "timeout", "malformed", "error_200",
                                     "no_choices", "huge_body", "endless_body", "slow")
#: the verdict faults of the judge, likewise
VERDICT_FAULTS: tuple[str, ...] = ("empty_verdict", "unparseable")

#: the text of an unparseable verdict
UNPARSEABLE = "Both answers have merits and I cannot decide between them."


@dataclass(frozen=True)
class Faults:
    """Fault injection rates (each a probability in [0, 1]).

    Transport faults (drawn per request key and attempt, so retries eventually succeed):
    ``rate_429`` (with ``Retry-After: retry_after``), ``rate_500``, ``rate_timeout`` (hang
    ``hang_seconds`` then drop the connection), ``rate_malformed`` (200 with broken JSON),
    ``rate_error_200`` (200 whose body is only an ``error`` object, as some gateways send),
    ``rate_no_choices`` (200 with an empty ``choices`` list), ``rate_slow`` (answer after an
    extra ``slow_seconds``), ``rate_huge_body`` (a 200 whose body, streamed, is
    ``huge_body_bytes`` long: an answer far larger than any reply), ``rate_endless_body`` (a
    200 whose chunked body never ends, until the client hangs up). Their sum must be <= 1.

    Verdict faults (judge only, drawn per request key, so a retry gets the same text):
    ``rate_empty_verdict`` (empty content) and ``rate_unparseable`` (text without a verdict).
    """

    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_timeout: float = 0.0
    rate_malformed: float = 0.0
    rate_error_200: float = 0.0
    rate_no_choices: float = 0.0
    rate_slow: float = 0.0
    rate_huge_body: float = 0.0
    rate_endless_body: float = 0.0
    rate_empty_verdict: float = 0.0
    rate_unparseable: float = 0.0
    retry_after: float = 0.01
    hang_seconds: float = 0.2
    slow_seconds: float = 0.2
    huge_body_bytes: int = 256 << 20

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name.startswith("rate_") and not (0.0 <= v <= 1.0):
                raise ValidationError(f"Faults.{f.name} must be in [0, 1]; got {v!r}")
        if not isinstance(self.huge_body_bytes, int) or self.huge_body_bytes < 64:
            raise ValidationError(f"Faults.huge_body_bytes must be an integer >= 64; got "
                                  f"{self.huge_body_bytes!r}")
        total = sum(getattr(self, f"rate_{kind}") for kind in TRANSPORT_FAULTS)
        if total > 1.0:
            raise ValidationError(f"transport fault rates must sum to <= 1; got {total}")
        if self.rate_empty_verdict + self.rate_unparseable > 1.0:
            raise ValidationError("rate_empty_verdict + rate_unparseable must be <= 1")

    def draw(self, kinds: tuple[str, ...], u: float) -> str | None:
        """The fault among ``kinds`` that the uniform ``u`` falls on, or None (no fault)."""
        edge = 0.0
        for kind in kinds:
            edge += getattr(self, f"rate_{kind}")
            if u < edge:
                return kind
        return None


async def transport_fault(faults: Faults, u: float, replies: Replies, *, dialect: str,
                          auth: str, model: str, key: str) -> Response | None:
    """The transport fault that ``u`` draws, counted and made, for the request ``key``.

    Returns
    -------
    bytes, Streamed or None
        The fault's response (:data:`~wizardarena.sim.http.DROP` after ``hang_seconds``: the
        server hangs up); None to answer the request (no fault, or after a slow delay).
    """
    kind = faults.draw(TRANSPORT_FAULTS, u)
    if kind is None:
        return None
    replies.count(kind)
    if kind == "429":
        return replies.respond(*errors.rate_limited(dialect), auth,
                               f"Retry-After: {faults.retry_after}\r\n")
    if kind == "500":
        return replies.respond(*errors.server_error(dialect), auth)
    if kind == "timeout":
        await asyncio.sleep(faults.hang_seconds)
        return DROP
    if kind == "malformed":
        return raw_response(200, replies.echo(
            '{"choices": [{"message": {"content": "trunc', auth).encode())
    if kind == "error_200":
        return replies.respond(200, errors.error_in_200(), auth)
    if kind == "no_choices":
        return replies.respond(200, errors.no_choices(replies.echo(model, auth), key), auth)
    if kind == "huge_body":
        return Streamed(faults.huge_body_bytes)
    if kind == "endless_body":
        return Streamed(None)
    await asyncio.sleep(faults.slow_seconds)  # slow
    return None


def verdict_fault(faults: Faults, u: float) -> tuple[str, str] | None:
    """The verdict fault that ``u`` draws, as (kind, the judge's text), or None."""
    kind = faults.draw(VERDICT_FAULTS, u)
    if kind is None:
        return None
    return kind, "" if kind == "empty_verdict" else UNPARSEABLE
