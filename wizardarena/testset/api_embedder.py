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

Requests go through httpx; failures are classified and worded as in the arena's client
(:mod:`wizardarena.endpoints.failures`): fatal ones (401/403/404, an illegal header such as a key
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
import dataclasses
import json
import os
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from wizardarena.endpoints import (
    FailureClass,
    RequestContext,
    RetryWait,
    Scrubber,
    TransientError,
    classify_response,
    embedding_rows,
    error_for,
    run_sync,
    scrub_http_logs,
    stack_embeddings,
)
from wizardarena.endpoints.failures import classify_transport_error
from wizardarena.exceptions import ClientError, ValidationError
from wizardarena.testset._ngrams import truncate_texts
from wizardarena.testset.embed import check_embeddings

__all__ = ["APIEmbedder", "EmbedderStats"]

Send = Callable[[list[str], float], Awaitable[np.ndarray]]


class _Timeout(TimeoutError):
    """The request exceeded its timeout (a ``send`` function may raise any TimeoutError)."""


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
        ``async send(texts, timeout) -> ndarray`` replacing the HTTP request (tests).

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
        elif hasattr(client, "embed") and hasattr(client, "_async"):
            inner = client._async
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
        key = os.environ.get(key_env) if key_env else None
        self._key = key.strip() if key else None
        self._key_env = key_env
        self._scrub = Scrubber([self._key])
        scrub_http_logs(self._scrub)
        # the arena's retry wait: Retry-After capped at max_backoff, else exponential backoff
        # with jitter (no circuit breaker: the adaptive concurrency backs off instead)
        self._wait = RetryWait(0.5, self.max_backoff)
        self._transport = transport
        self._send = send
        self.stats = EmbedderStats()

    def __repr__(self) -> str:
        return f"APIEmbedder(model={self.model!r}, base_url={self._scrub.url(self.base_url)!r})"

    def close(self) -> None:
        """Nothing to close (each call opens and closes its own connections)."""

    # -- HTTP ------------------------------------------------------------------------------
    @property
    def _where(self) -> str:
        """The endpoint's URL for messages (redacted)."""
        return f"{self._scrub.url(self.base_url)}/embeddings"

    def _http_send(self, http: httpx.AsyncClient) -> Send:
        url = f"{self.base_url}/embeddings"
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        ctx = RequestContext("embeddings", self.model, self._key_env, key_sent=bool(self._key))
        scrub = self._scrub

        async def send(texts: list[str], timeout: float) -> np.ndarray:
            body = json.dumps({"model": self.model, "input": texts}).encode()
            try:
                r = await http.post(url, content=body, headers=headers, timeout=timeout)
            except httpx.TimeoutException:
                raise _Timeout() from None
            except httpx.HTTPError as exc:
                # the arena's classifier: a bad URL, an illegal header (a newline in the
                # key), TLS or proxy trouble are fatal; connection errors are retried
                lost = classify_transport_error(exc, ctx)
                lost = dataclasses.replace(lost, message=scrub(lost.message))
                if lost.kind is FailureClass.TRANSIENT:
                    raise TransientError(lost, url) from None
                raise error_for(lost, self._where) from None
            content = scrub.bytes(r.content) if scrub else r.content
            # ... and what is retried (429, 5xx, a 200 with an error object ...) and what
            # is not (400, 401, 404 ...)
            data, failure = classify_response(r.status_code, content, r.headers, ctx)
            if failure is not None:
                if failure.kind is FailureClass.TRANSIENT:
                    failure = dataclasses.replace(
                        failure, message=f"{failure.reason}: {failure.message}")
                    raise TransientError(failure, url)
                raise error_for(failure, self._where)
            return embedding_rows(data, len(texts), self._where, scrub)

        return send

    # -- scheduling ------------------------------------------------------------------------
    async def _run(self, batches: list[list[str]], send: Send) -> list[np.ndarray]:
        stats = EmbedderStats()
        self.stats = stats
        results: list[np.ndarray | None] = [None] * len(batches)
        # (batch index, attempt, not before, timeout)
        ready: deque[tuple[int, int, float, float]] = deque(
            (b, 0, 0.0, self.timeout + self.timeout_per_text * len(batches[b]))
            for b in range(len(batches))
        )
        running: dict[asyncio.Task[np.ndarray], tuple[int, int, float, float]] = {}
        limit = 1.0
        best = np.inf  # fastest seconds per text seen
        loop = asyncio.get_running_loop()
        try:
            while ready or running:
                now = loop.time()
                launched = True
                while launched and len(running) < int(limit):
                    launched = False
                    for _ in range(len(ready)):
                        b, attempt, not_before, tmo = ready[0]
                        if not_before <= now:
                            ready.popleft()
                            task = asyncio.ensure_future(send(batches[b], tmo))
                            running[task] = (b, attempt, now, tmo)
                            stats.requests += 1
                            launched = True
                            break
                        ready.rotate(-1)
                stats.max_in_flight = max(stats.max_in_flight, len(running))
                wait_for = None
                if ready:
                    wait_for = max(0.0, min(r[2] for r in ready) - loop.time())
                if not running:
                    await asyncio.sleep(wait_for or 0.0)
                    continue
                done, _ = await asyncio.wait(
                    running, timeout=wait_for, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    b, attempt, started, tmo = running.pop(task)
                    elapsed = loop.time() - started
                    exc = task.exception()
                    if exc is None:
                        results[b] = task.result()
                        per_text = elapsed / max(1, len(batches[b]))
                        best = min(best, per_text)
                        if per_text <= 1.5 * best:
                            limit = min(float(self.max_concurrency), limit + 1.0)
                        else:
                            limit = max(1.0, limit - 1.0)
                    elif isinstance(exc, (TimeoutError, asyncio.TimeoutError, TransientError)):
                        timed_out = not isinstance(exc, TransientError)
                        if attempt >= self.max_retries:
                            what = "timed out" if timed_out else str(exc)
                            raise ClientError(self._scrub(
                                f"{self._where}: a batch of {len(batches[b])} "
                                f"texts failed {attempt + 1} times (last: {what}); lower "
                                "batch_size or raise timeout / timeout_per_text"
                            ))
                        limit = max(1.0, limit / 2.0)
                        if timed_out:
                            stats.timeouts += 1
                            # the server may still be computing the abandoned attempt for
                            # about as long as we waited: do not send it again before
                            ready.append((b, attempt + 1, loop.time() + elapsed, 2.0 * tmo))
                        else:
                            stats.transient_errors += 1
                            delay = self._wait.delay(exc, attempt + 1)
                            ready.append((b, attempt + 1, loop.time() + delay, tmo))
                    else:
                        raise exc
                    stats.concurrency.append(int(limit))
        finally:
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)
        return [r for r in results if r is not None]

    async def _embed(self, batches: list[list[str]]) -> list[np.ndarray]:
        if self._send is not None:
            return await self._run(batches, self._send)
        limits = httpx.Limits(max_connections=self.max_concurrency)
        async with httpx.AsyncClient(transport=self._transport, limits=limits) as http:
            return await self._run(batches, self._http_send(http))

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
        return check_embeddings(stack_embeddings(parts, self._where), len(texts), repr(self))
