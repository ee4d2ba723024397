"""An ``/v1/embeddings`` embedder that treats the server kindly.

A one-worker embedding server computes one batch at a time; requests it has not started
wait in its queue, and a request the client gave up on is usually *still computed*. A client
that sends 16 batches of 128 texts at once with a fixed 120 s timeout and retries on timeout
therefore re-sends work the server is still doing, and never finishes. This embedder:

- **adapts its concurrency** (additive increase, multiplicative decrease): it starts with
  one request in flight, adds one after each batch whose time per text stays within 1.5x of
  the fastest seen (the server keeps up), removes one when it grows (requests queue), and
  halves it on a timeout, 429 or 5xx;
- **scales the timeout with the batch**: ``timeout + timeout_per_text * len(batch)``,
  doubled for each retry of that batch;
- **never re-sends work that may still run**: after a timeout, the batch waits at least as
  long as the abandoned attempt ran (the server is presumed busy with it for that long)
  before it is sent again; ``Retry-After`` is honoured (up to ``max_backoff``); no two
  attempts of one batch are ever in flight together;
- truncates texts with the same rule as every other embedder input
  (:func:`~wizardarena.testset._ngrams.truncate_texts`: ``max_chars`` / ``max_tokens``).

Requests go through the endpoints layer (:meth:`wizardarena.endpoints.AsyncClient.embed_batch`:
httpx, bounded responses, its one retry loop, failures classified and worded as in the arena,
:mod:`wizardarena.endpoints.failures`); this module adds only the policy: the adaptive limit
on the requests in flight (a gate the layer enters around each attempt) and patient
timeouts. Fatal failures (401/403/404, an illegal header such as a key
with a newline inside, TLS, a bad URL ...) raise
:class:`~wizardarena.exceptions.EndpointError` at once, naming the likely fix; permanent ones
(400, 413, 422 ...) raise :class:`~wizardarena.exceptions.RequestRejectedError` at once (both
are :class:`~wizardarena.exceptions.HTTPStatusError`); timeouts, connection errors, 429 and
5xx are retried up to ``max_retries`` times per batch, then raise
:class:`~wizardarena.exceptions.ClientError`. The API key is stripped of surrounding
whitespace and scrubbed from every response and message
(:class:`~wizardarena.endpoints.scrub.Scrubber`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from wizardarena.endpoints import (
    AsyncClient,
    Client,
    FailureClass,
    TransientError,
    classify_error,
    run_sync,
    run_workers,
    stack_embeddings,
)
from wizardarena.exceptions import ClientError, ValidationError
from wizardarena.testset._ngrams import truncate_texts
from wizardarena.testset.embed import check_embeddings

__all__ = ["APIEmbedder", "AdaptiveLimit", "EmbedderStats", "SendTransport"]

Send = Callable[[list[str], float], Awaitable[np.ndarray]]


@dataclass
class EmbedderStats:
    """What an :class:`APIEmbedder` did in its last call.

    Attributes
    ----------
    requests : int
        HTTP attempts (retries included).
    timeouts, transient_errors : int
    max_in_flight : int
        Most requests in flight at once.
    concurrency : list of int
        The concurrency limit after each finished attempt (the adaptation trace).
    """

    requests: int = 0
    timeouts: int = 0
    transient_errors: int = 0
    max_in_flight: int = 0
    concurrency: list[int] = field(default_factory=list)


class AdaptiveLimit:
    """The adaptive limit on the requests in flight (AIMD), as a gate around each attempt.

    It starts at one request; after each attempt that succeeds it adds one while the time
    per text stays within 1.5x of the fastest seen, and removes one when it grows; a
    transient failure (a timeout, 429, 5xx ...) halves it. Attempts waiting for a free slot
    are served first come, first served (a retry queues behind the batches already waiting);
    each awaits its own future (no polling).

    Parameters
    ----------
    maximum : int
        Upper bound of the limit.
    stats : EmbedderStats
        Counters it updates.
    """

    def __init__(self, maximum: int, stats: EmbedderStats) -> None:
        self.maximum = float(maximum)
        self.limit = 1.0
        self.best = np.inf  # fastest seconds per text seen
        self.in_flight = 0
        self.stats = stats
        self._waiting: deque[asyncio.Future[None]] = deque()

    def gate(self, n_texts: int) -> Callable[[], Any]:
        """The gate of a batch of ``n_texts`` texts (for
        :meth:`~wizardarena.endpoints.AsyncClient.embed_batch`)."""
        return lambda: self._slot(n_texts)

    @asynccontextmanager
    async def _slot(self, n_texts: int) -> AsyncIterator[None]:
        if self._waiting or self.in_flight >= int(self.limit):
            turn = asyncio.get_running_loop().create_future()
            self._waiting.append(turn)
            try:
                await turn  # _release took the slot for it
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._release()  # the slot was handed over: pass it on
                else:
                    self._waiting.remove(turn)
                raise
        else:
            self.in_flight += 1
        st = self.stats
        st.requests += 1
        st.max_in_flight = max(st.max_in_flight, self.in_flight)
        start = time.monotonic()
        try:
            yield
        except TransientError as exc:
            if exc.failure.timed_out:
                st.timeouts += 1
            else:
                st.transient_errors += 1
            self.limit = max(1.0, self.limit / 2.0)
            st.concurrency.append(int(self.limit))
            raise
        else:
            per_text = (time.monotonic() - start) / max(1, n_texts)
            self.best = min(self.best, per_text)
            self.limit = (min(self.maximum, self.limit + 1.0) if per_text <= 1.5 * self.best
                          else max(1.0, self.limit - 1.0))
            st.concurrency.append(int(self.limit))
        finally:
            self._release()

    def _release(self) -> None:
        """Free a slot; hand the free slots to the attempts waiting longest."""
        self.in_flight -= 1
        while self._waiting and self.in_flight < int(self.limit):
            turn = self._waiting.popleft()
            if not turn.done():
                self.in_flight += 1
                turn.set_result(None)


class SendTransport(httpx.AsyncBaseTransport):
    """An httpx transport that answers ``/embeddings`` requests with a function
    ``async send(texts, timeout) -> ndarray`` (tests and simulations): the request still
    goes through the client, its retries and its limits. A ``TimeoutError`` of ``send``
    is a read timeout."""

    def __init__(self, send: Send) -> None:
        self.send = send

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        texts = json.loads(await request.aread())["input"]
        timeout = request.extensions.get("timeout", {}).get("read")
        try:
            rows = np.asarray(await self.send(texts, timeout), dtype=np.float64)
        except TimeoutError:
            raise httpx.ReadTimeout("the send function timed out", request=request) from None
        data = [{"index": i, "embedding": r.tolist()} for i, r in enumerate(rows)]
        return httpx.Response(200, json={"data": data}, request=request)


class APIEmbedder:
    """Embeddings from an OpenAI-compatible ``/v1/embeddings`` endpoint, adaptively.

    Parameters
    ----------
    client : str or wizardarena.endpoints.Client
        The API root (``"http://host:8000/v1"``), or a client whose ``base_url``,
        ``model`` and ``api_key_env`` are used.
    model : str, optional
        Embedding model name (default: the client's model; required for a URL).
    batch_size : int, default 32
        Texts per request.
    max_concurrency : int, default 4
        Upper bound of the adaptive concurrency (it starts at 1).
    timeout : float, default 30.0
        Seconds allowed to any request, plus ``timeout_per_text`` per text of its batch.
    timeout_per_text : float, default 1.0
    max_retries : int, default 6
        Retries per batch after timeouts, transport errors, 429 and 5xx.
    max_backoff : float, default 30.0
        Cap on one wait before a retry, ``Retry-After`` included (as in
        :class:`~wizardarena.endpoints.AsyncClient`).
    max_chars, max_tokens : int, optional
        Truncate every text before sending it (:func:`~wizardarena.testset._ngrams.truncate_texts`).
    api_key_env : str or None, default "OPENAI_API_KEY"
        Environment variable holding the API key (URL form only; surrounding whitespace is
        dropped).
    transport : httpx.AsyncBaseTransport, optional
        For tests or proxies.
    send : callable, optional
        ``async send(texts, timeout) -> ndarray`` answering the requests instead of a server
        (tests); its requests still go through the client, as HTTP would
        (:class:`SendTransport`).

    Attributes
    ----------
    stats : EmbedderStats
        Counters of the last call.
    """

    def __init__(
        self,
        client: Any,
        *,
        model: str | None = None,
        batch_size: int = 32,
        max_concurrency: int = 4,
        timeout: float = 30.0,
        timeout_per_text: float = 1.0,
        max_retries: int = 6,
        max_backoff: float = 30.0,
        max_chars: int | None = None,
        max_tokens: int | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        transport: httpx.AsyncBaseTransport | None = None,
        send: Send | None = None,
    ) -> None:
        if isinstance(client, str):
            base_url, key_env = client, api_key_env
        elif isinstance(client, Client):
            inner = client.async_client
            base_url, key_env = inner.base_url, inner.api_key_env
            model = model if model is not None else inner.model
        else:
            raise ValidationError(
                "client must be an API root URL (str) or a wizardarena.endpoints.Client; "
                f"got {type(client).__name__}"
            )
        if not base_url.startswith(("http://", "https://")):
            raise ValidationError(
                f"client must be an http(s) URL such as 'http://localhost:8000/v1'; "
                f"got {base_url!r}"
            )
        if send is None and not model:
            raise ValidationError("model must be given (the embedding model name)")
        for name, v in (("batch_size", batch_size), ("max_concurrency", max_concurrency)):
            if not isinstance(v, int) or v < 1:
                raise ValidationError(f"{name} must be an integer >= 1; got {v!r}")
        if not timeout > 0 or timeout_per_text < 0:
            raise ValidationError(
                f"timeout must be > 0 and timeout_per_text >= 0; got {timeout!r}, "
                f"{timeout_per_text!r}"
            )
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ValidationError(f"max_retries must be an integer >= 0; got {max_retries!r}")
        if not max_backoff >= 0:
            raise ValidationError(f"max_backoff must be >= 0; got {max_backoff!r}")
        truncate_texts([], max_chars=max_chars, max_tokens=max_tokens)  # validates
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.batch_size = batch_size
        self.max_concurrency = max_concurrency
        self.timeout = float(timeout)
        self.timeout_per_text = float(timeout_per_text)
        self.max_retries = max_retries
        self.max_chars = max_chars
        self.max_tokens = max_tokens
        self.max_backoff = float(max_backoff)
        # the layer's client: its one retry loop waits as the arena's does (Retry-After
        # capped at max_backoff, else backoff with jitter); no circuit breaker: the adaptive
        # limit backs off instead. A send function answers through a transport, so its
        # requests take the same path.
        self._client = AsyncClient(
            self.base_url, model=model or "unnamed-send-model", api_key_env=key_env,
            timeout=self.timeout, concurrency=max_concurrency, max_retries=max_retries,
            backoff=0.5, max_backoff=self.max_backoff, breaker_seconds=None,
            transport=SendTransport(send) if send is not None else transport)
        self.stats = EmbedderStats()

    def __repr__(self) -> str:
        return (f"APIEmbedder(model={self.model!r}, "
                f"base_url={self._client.scrub.url(self.base_url)!r})")

    def close(self) -> None:
        """Nothing to close (each call opens and closes its own connections)."""

    async def _embed(self, batches: list[list[str]]) -> list[np.ndarray]:
        self.stats = EmbedderStats()
        limit = AdaptiveLimit(self.max_concurrency, self.stats)
        client = self._client
        parts: list[np.ndarray | None] = [None] * len(batches)

        async def one(b: int) -> None:
            batch = batches[b]
            try:
                parts[b] = await client.embed_batch(
                    batch, timeout=self.timeout + self.timeout_per_text * len(batch),
                    gate=limit.gate(len(batch)), patient=True)
            except ClientError as exc:
                if classify_error(exc) is not FailureClass.TRANSIENT:
                    raise
                raise ClientError(
                    f"{client.embeddings_url}: a batch of {len(batch)} texts failed ({exc}); "
                    f"lower batch_size or raise timeout / timeout_per_text") from None

        try:
            # every batch waits for the adaptive limit, so all may be started at once
            await run_workers((one(b) for b in range(len(batches))), len(batches))
        finally:
            await client.aclose()
        return [p for p in parts if p is not None]

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; float32 (n, d), unit rows, in input order."""
        texts = truncate_texts(
            list(texts), max_chars=self.max_chars, max_tokens=self.max_tokens
        )
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str)][:5]
        if bad:
            raise ValidationError(f"texts must all be str; items {bad} are not")
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        batches = [texts[s : s + self.batch_size] for s in range(0, len(texts), self.batch_size)]
        parts = run_sync(self._embed(batches))
        return check_embeddings(stack_embeddings(parts, self._client.embeddings_url),
                                len(texts), repr(self))
