"""The API roots of a client and their connection pools, and which one a request goes to.

A client holds one :class:`Endpoint` per API root (one, usually; several servers of the same
model, such as a few vLLM replicas, are spread over). Each endpoint owns its routes (URLs
parsed once), its circuit breaker and its connection pools: the client's ``concurrency``
connections are spread over several httpx clients of at most :data:`POOL_SHARD` connections
each, because httpcore's pool scans all its connections on every request event (about
13 ms of CPU per request at 64 connections in one pool, 0.9 ms in pools of 8;
``benchmarks/RESULTS.md``). A request goes to the endpoint with the fewest requests in
flight among those answering (:func:`choose_endpoint`); one that refuses connections gets no
requests but a probe now and then.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping, Sequence

import httpx

from wizardarena.endpoints.breaker import CircuitBreaker

__all__ = [
    "CONNECT_TIMEOUT",
    "POOL_SHARD",
    "ROUTES",
    "Endpoint",
    "choose_endpoint",
    "close_pools",
    "open_pools",
]

#: the routes of an OpenAI-compatible API root the client calls
ROUTES = ("chat/completions", "embeddings")
#: connections per httpx client (see the module docstring)
POOL_SHARD = 8
#: upper bound of the connect timeout (seconds): a connection takes milliseconds or never
CONNECT_TIMEOUT = 10.0


class Endpoint:
    """One API root of a client: its routes (parsed once: httpx would parse a str URL again
    on every request), its circuit breaker and its connection pools."""

    def __init__(self, base_url: str, breaker_seconds: float | None) -> None:
        self.base_url = base_url
        self.urls = {r: httpx.URL(f"{base_url}/{r}") for r in ROUTES}
        self.breaker = CircuitBreaker(breaker_seconds)
        self.pools: list[httpx.AsyncClient] = []
        self.free: asyncio.Queue[int] | None = None  # pool index of each free connection slot
        self.next_probe = 0.0  # while connections fail: no request before this time

    @property
    def healthy(self) -> bool:
        """No failed connection since the last response."""
        return self.breaker.failures == 0


def open_pools(endpoints: Sequence[Endpoint], *, concurrency: int, http2: bool,
               headers: Mapping[str, str], transport: httpx.AsyncBaseTransport | None,
               timeout: float) -> None:
    """Give every endpoint its connection pools and ``concurrency`` free slots."""
    shards = 1 if transport is not None else math.ceil(concurrency / POOL_SHARD)
    per = math.ceil(concurrency / shards)
    # one TLS context for all shards (each would load the CA bundle, ~40 ms), made as httpx
    # makes it: certifi, or SSL_CERT_FILE / SSL_CERT_DIR (trust_env)
    tls = httpx.create_ssl_context(verify=True, trust_env=True) if transport is None else True
    # every endpoint can take all the requests in flight (when the others are down); httpx
    # opens connections only when they are used
    for ep in endpoints:
        ep.pools = [
            httpx.AsyncClient(
                http2=http2, trust_env=True, follow_redirects=False, verify=tls,
                limits=httpx.Limits(max_connections=per, max_keepalive_connections=per),
                timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)),
                headers=dict(headers), transport=transport,
            )
            for _ in range(shards)
        ]
        ep.free = asyncio.Queue()
        for k in range(concurrency):
            ep.free.put_nowait(k % shards)


async def close_pools(endpoints: Sequence[Endpoint]) -> None:
    """Close every endpoint's connection pools."""
    for ep in endpoints:
        pools, ep.pools, ep.free = ep.pools, [], None
        for pool in pools:
            await pool.aclose()


def choose_endpoint(endpoints: Sequence[Endpoint]) -> Endpoint | None:
    """The endpoint of the next request: among those answering (and those due for a probe),
    the one with the fewest requests in flight; None when every breaker has opened."""
    live = [e for e in endpoints if e.breaker.error is None]
    if not live:
        return None
    now = time.monotonic()
    ready = [e for e in live if e.healthy or now >= e.next_probe] or live
    ep = max(ready, key=lambda e: e.free.qsize() if e.free is not None else 0)
    if not ep.healthy:  # a probe: the next one no sooner than the backoff allows
        ep.next_probe = now + min(5.0, 0.25 * 2.0 ** min(ep.breaker.failures, 5))
    return ep
