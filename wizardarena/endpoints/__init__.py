"""The one OpenAI-compatible client layer: every call to an endpoint goes through it.

By concern: :mod:`~wizardarena.endpoints.client` (:class:`AsyncClient`: httpx transport,
load balancing over several API roots, chat, embeddings, bounded responses, counters),
:mod:`~wizardarena.endpoints.retry` (the one attempt loop, tenacity, and its wait policy),
:mod:`~wizardarena.endpoints.failures` (the three failure classes),
:mod:`~wizardarena.endpoints.breaker` (the circuit breaker),
:mod:`~wizardarena.endpoints.scrub` (key scrubbing), :mod:`~wizardarena.endpoints.sync` (the
one sync bridge, and :class:`Client` on it), :mod:`~wizardarena.endpoints.workers` (a
bounded pool of coroutines), :mod:`~wizardarena.endpoints.options` (the options shared with
the judge and answer generation) and :mod:`~wizardarena.endpoints.embeddings` (decoding
embeddings). The arena, the API embedder and the LLM difficulty scorers call endpoints
through :class:`AsyncClient` / :class:`Client`.
"""

from wizardarena.endpoints.breaker import CircuitBreaker
from wizardarena.endpoints.client import AsyncClient
from wizardarena.endpoints.embeddings import embedding_rows, stack_embeddings
from wizardarena.endpoints.failures import (
    Failure,
    FailureClass,
    RequestContext,
    classify_error,
    classify_response,
    error_for,
)
from wizardarena.endpoints.options import (
    DEFAULT_MAX_RESPONSE_BYTES,
    check_base_urls,
    check_client_options,
    h2_available,
)
from wizardarena.endpoints.results import ChatResult, ClientStats
from wizardarena.endpoints.retry import RetriesExhausted, RetryWait, TransientError
from wizardarena.endpoints.scrub import Scrubber, scrub_http_logs
from wizardarena.endpoints.sync import Client, LoopThread, run_sync
from wizardarena.endpoints.workers import run_workers

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "AsyncClient",
    "ChatResult",
    "CircuitBreaker",
    "Client",
    "ClientStats",
    "Failure",
    "FailureClass",
    "LoopThread",
    "RequestContext",
    "RetriesExhausted",
    "RetryWait",
    "Scrubber",
    "TransientError",
    "check_base_urls",
    "check_client_options",
    "classify_error",
    "classify_response",
    "embedding_rows",
    "error_for",
    "h2_available",
    "run_sync",
    "run_workers",
    "scrub_http_logs",
    "stack_embeddings",
]
