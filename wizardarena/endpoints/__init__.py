"""The one OpenAI-compatible client layer: every call to an endpoint goes through it.

:mod:`~wizardarena.endpoints.client` (httpx transport, tenacity retries, load balancing over
several API roots, the sync bridge) and :mod:`~wizardarena.endpoints.failures` (the three
failure classes, the circuit breaker, key scrubbing). The arena, the API embedder and the
LLM difficulty scorers call endpoints through :class:`AsyncClient` / :class:`Client`.
"""

from wizardarena.endpoints.client import (
    AsyncClient,
    ChatResult,
    Client,
    ClientStats,
    check_base_urls,
    check_client_options,
    h2_available,
    run_sync,
    run_workers,
)

__all__ = [
    "AsyncClient",
    "ChatResult",
    "Client",
    "ClientStats",
    "check_base_urls",
    "check_client_options",
    "h2_available",
    "run_sync",
    "run_workers",
]
