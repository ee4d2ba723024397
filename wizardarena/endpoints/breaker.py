"""The circuit breaker: stop a run whose endpoint cannot be reached.

Connection failures feed a :class:`CircuitBreaker`: when every connection attempt failed,
with no response in between, for ``breaker_seconds`` (default 10 s), the run stops with
:class:`~wizardarena.exceptions.EndpointUnreachableError` instead of retrying each request
on its own. :class:`BreakerCap` does the same for a client with several endpoints.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from wizardarena.exceptions import EndpointUnreachableError

__all__ = ["BreakerCap", "CircuitBreaker"]


class CircuitBreaker:
    """Stop a run whose endpoint cannot be reached.

    The breaker opens when connection attempts have failed, with no HTTP response of any kind
    in between, for at least ``seconds`` and at least ``min_failures`` times. While a failing
    streak is on, retry waits are shortened (:meth:`cap_delay`) so that an attempt is made
    when the window ends: a dead endpoint stops the run after about ``seconds``, not after
    every request has used up its retries. Once open, every request fails at once with the
    same :class:`~wizardarena.exceptions.EndpointUnreachableError`.

    Parameters
    ----------
    seconds : float or None, default 10.0
        Length of the failing streak that opens the breaker; ``None`` or 0 disables it.
    min_failures : int, default 3
        Fewest failed attempts in the streak.
    clock : callable, default time.monotonic
    """

    def __init__(self, seconds: float | None = 10.0, *, min_failures: int = 3,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = float(seconds) if seconds else 0.0
        self.min_failures = int(min_failures)
        self._clock = clock
        self._since: float | None = None
        self.failures = 0
        self.error: EndpointUnreachableError | None = None

    @property
    def enabled(self) -> bool:
        return self.seconds > 0

    @property
    def streak_seconds(self) -> float:
        """Seconds since the first failure of the current streak (0 if none)."""
        return 0.0 if self._since is None else self._clock() - self._since

    def check(self) -> None:
        """Raise the breaker's error if it is open."""
        if self.error is not None:
            raise self.error

    def record_response(self) -> None:
        """Any HTTP response (even an error status) proves the endpoint is reachable."""
        self._since = None
        self.failures = 0

    def record_failure(self) -> bool:
        """Count one failed connection attempt; return True if the breaker must open now."""
        now = self._clock()
        if self._since is None:
            self._since = now
        self.failures += 1
        return (self.enabled and self.error is None and self.failures >= self.min_failures
                and now - self._since >= self.seconds)

    def trip(self, error: EndpointUnreachableError) -> EndpointUnreachableError:
        """Open the breaker with ``error`` (kept: the first one wins); return the error."""
        if self.error is None:
            self.error = error
        return self.error

    def cap_delay(self, delay: float) -> float:
        """Shorten a retry wait so the next attempt falls just after the window ends."""
        if not self.enabled or self._since is None:
            return delay
        left = self._since + self.seconds - self._clock()
        return max(0.0, min(delay, left + 0.05))


class BreakerCap:
    """Retry waits of a client with several endpoints: shortened (as one breaker does) only
    while every endpoint still in use fails to connect.

    Parameters
    ----------
    breakers : sequence of CircuitBreaker
        The breakers of the client's endpoints.
    """

    def __init__(self, breakers: Sequence[CircuitBreaker]) -> None:
        self.breakers = breakers

    def cap_delay(self, delay: float) -> float:
        """Shorten a retry wait as the breakers of the endpoints still in use allow."""
        live = [b for b in self.breakers if b.error is None]
        if not live or any(b.failures == 0 for b in live):
            return delay
        return min(b.cap_delay(delay) for b in live)
