"""The one attempt loop of the layer: transient failures retried with tenacity.

:func:`retry_transient` makes the first attempt without any retry machinery (the fast path)
and, when it fails with a :class:`TransientError`, retries it with tenacity, waiting as
:class:`RetryWait` says: ``Retry-After`` when the server gave one (capped at
``max_backoff``), else exponential backoff with full jitter, shortened by the circuit breaker
while connections fail. When the retries run out it raises :class:`RetriesExhausted`
holding the last failure; the client turns it into the public exception.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from wizardarena.endpoints.breaker import BreakerCap, CircuitBreaker
from wizardarena.endpoints.failures import Failure

__all__ = ["RetriesExhausted", "RetryWait", "TransientError", "retry_transient"]

T = TypeVar("T")


class TransientError(Exception):
    """A failure worth retrying.

    Parameters
    ----------
    failure : Failure
        The classified failure (its class is ``TRANSIENT``).
    url : str, default ""
        Where the attempt went (not redacted: for the final message, which redacts it).
    min_wait : float, default 0.0
        Seconds the next attempt must wait at least (set for a timed-out attempt of a
        patient request: as long as the abandoned attempt ran).
    """

    def __init__(self, failure: Failure, url: str = "", min_wait: float = 0.0) -> None:
        super().__init__(failure.message)
        self.failure = failure
        self.url = url
        self.min_wait = min_wait


class RetriesExhausted(Exception):
    """The retries of a request ran out: ``last`` is its last failure, after ``attempts``."""

    def __init__(self, last: TransientError, attempts: int) -> None:
        super().__init__(f"{last.failure.message} (after {attempts} attempt(s))")
        self.last = last
        self.attempts = attempts


class RetryWait:
    """tenacity wait: ``Retry-After`` when given, else exponential backoff with full jitter;
    shortened by the circuit breaker while connections fail; after a timed-out attempt of a
    patient request, as long as that attempt ran (:attr:`TransientError.min_wait`).

    Parameters
    ----------
    initial : float
        First backoff in seconds (doubles each retry, with jitter).
    maximum : float
        Cap on one wait, ``Retry-After`` included.
    breaker : CircuitBreaker or BreakerCap or None
        Shortens the waits while connections fail (``None``: never).
    """

    def __init__(self, initial: float, maximum: float,
                 breaker: CircuitBreaker | BreakerCap | None = None) -> None:
        self.initial = initial
        self.maximum = maximum
        self.breaker = breaker
        self._jitter = random.Random()  # private, unseeded: jitter only, never global state

    def delay(self, exc: BaseException | None, failures: int) -> float:
        """Seconds to wait after the ``failures``-th consecutive failure ``exc``."""
        if isinstance(exc, TransientError) and exc.min_wait > 0:
            return exc.min_wait
        if isinstance(exc, TransientError) and exc.failure.retry_after is not None:
            return float(min(exc.failure.retry_after, self.maximum))
        high = min(self.maximum, self.initial * 2 ** (failures - 1))
        delay = self._jitter.uniform(0.5 * high, high)
        return delay if self.breaker is None else self.breaker.cap_delay(delay)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        # the first failure happened before tenacity took over
        return self.delay(exc, state.attempt_number + 1)


async def retry_transient(
    attempt: Callable[[], Awaitable[T]],
    *,
    max_retries: int,
    wait: RetryWait,
    on_retry: Callable[[], None] | None = None,
) -> tuple[T, int]:
    """Await ``attempt()`` until it returns, retrying :class:`TransientError`.

    Parameters
    ----------
    attempt : callable
        Makes one attempt; raises :class:`TransientError` for a failure worth retrying
        (any other exception is raised at once).
    max_retries : int
        Retries after the first attempt.
    wait : RetryWait
        The wait before each retry.
    on_retry : callable, optional
        Called before each retry's wait (to count it).

    Returns
    -------
    (value, attempts)
        What ``attempt`` returned, and the attempts it took (1 = no retry).

    Raises
    ------
    RetriesExhausted
        Every attempt failed with a transient failure.
    """
    try:  # fast path: no retry machinery unless the first attempt fails
        return await attempt(), 1
    except TransientError as exc:
        last = exc
    attempts = 1
    if max_retries > 0:
        if on_retry is not None:
            on_retry()
        await asyncio.sleep(wait.delay(last, 1))
        retrying = AsyncRetrying(
            stop=stop_after_attempt(max_retries),
            wait=wait,
            retry=retry_if_exception_type(TransientError),
            reraise=True,
            before_sleep=None if on_retry is None else (lambda _state: on_retry()),
        )
        try:
            async for trial in retrying:
                with trial:
                    attempts += 1
                    try:
                        return await attempt(), attempts
                    except TransientError as exc:
                        last = exc
                        raise
        except TransientError:
            pass
    raise RetriesExhausted(last, attempts)
