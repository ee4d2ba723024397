"""OpenAI-compatible HTTP client (httpx, async) with retries, a circuit breaker and usage.

Stable API (used by the arena runner, answer generation and test-set construction)::

    from wizardarena.endpoints import AsyncClient, Client, ChatResult

    async with AsyncClient("http://127.0.0.1:8000/v1", model="judge",
                           api_key_env="OPENAI_API_KEY", concurrency=16) as c:
        r: ChatResult = await c.chat([{"role": "user", "content": "hi"}])
        r.text, r.prompt_tokens, r.completion_tokens
        X = await c.embed(["a text", "another"])        # np.ndarray, shape (n, d), float64

    with Client("http://127.0.0.1:8000/v1", model="judge") as c:   # sync, notebook-safe
        c.chat(messages).text
        c.chat_many([messages1, messages2])                        # concurrent, ordered
        c.embed(texts)                                             # (n, d)

Behaviour
---------
- ``base_url`` is the API root including ``/v1``; requests go to ``{base_url}/chat/completions``
  and ``{base_url}/embeddings``.
- Transport: httpx's own (httpcore), with ``trust_env=True`` as httpx does by default, so
  ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY``, ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` and
  ``.netrc`` apply; HTTP/2 when the ``h2`` package is installed
  (``pip install 'wizardarena[h2]'``) and the server offers it (``https`` only). Redirects are
  not followed (a redirect means a wrong ``base_url``).
- The API key is read once from the environment variable named by ``api_key_env`` (nothing is
  sent if it is unset; surrounding whitespace is dropped). It is never logged or part of
  ``repr``, and it (with any ``Authorization``-like header value) is scrubbed from every
  response body, every answer or verdict text and every error message, even when a server
  echoes it (:class:`~wizardarena.endpoints.scrub.Scrubber`).
- Failures are classified by :mod:`wizardarena.endpoints.failures`: transient ones (429 honouring
  ``Retry-After``, 408/409/425, 5xx, connection errors, resets, timeouts, truncated JSON, a
  200 with an ``error`` object or without ``choices``) are retried with exponential backoff and
  jitter (tenacity); when retries run out the last error is raised
  (:class:`~wizardarena.exceptions.HTTPStatusError` for a status,
  :class:`~wizardarena.exceptions.ClientError` otherwise). Permanent ones (400, 413, 422 ...)
  raise :class:`~wizardarena.exceptions.RequestRejectedError` at once; fatal ones (401/403,
  404 model or path, an HTML page ...) raise :class:`~wizardarena.exceptions.EndpointError`
  at once, naming the likely fix.
- A circuit breaker (``breaker_seconds``, default 10 s) shared by every request of the client
  raises :class:`~wizardarena.exceptions.EndpointUnreachableError` when no connection could be
  made for that long, instead of letting each request use up its retries.
- ``base_url`` may be a list of API roots serving the same model (several vLLM servers,
  say); ``concurrency`` bounds the requests in flight. Where a request goes, and how the
  connections are pooled, is :mod:`~wizardarena.endpoints.pools`: the endpoint with the
  fewest requests in flight among those answering, each with its own circuit breaker (the
  run stops with :class:`~wizardarena.exceptions.EndpointUnreachableError` only when every
  endpoint is unreachable). Installing ``sniffio`` (part of the ``h2`` extra) saves httpcore
  failing imports (0.3-0.4 ms a request).
- Responses are bounded: each body is read streamed up to ``max_response_bytes`` (default
  16 MiB, :data:`~wizardarena.endpoints.options.DEFAULT_MAX_RESPONSE_BYTES`); a longer or
  endless one is cut there, its connection closed, and the attempt is a transient failure
  (``"response over 16 MiB"``), retried by the one retry loop
  (:mod:`~wizardarena.endpoints.retry`).
- :class:`Client`, the synchronous facade, lives in :mod:`~wizardarena.endpoints.sync`
  beside the loop thread it runs on.
- :attr:`AsyncClient.stats` counts attempts, retries, failures and tokens.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import httpx
import numpy as np

from wizardarena.endpoints.breaker import BreakerCap
from wizardarena.endpoints.embeddings import embedding_rows, stack_embeddings
from wizardarena.endpoints.failures import (
    Failure,
    FailureClass,
    RequestContext,
    classify_response,
    classify_transport_error,
    error_for,
)
from wizardarena.endpoints.options import (
    DEFAULT_MAX_RESPONSE_BYTES,
    check_base_urls,
    check_client_options,
    format_bytes,
    h2_available,
)
from wizardarena.endpoints.pools import (
    CONNECT_TIMEOUT,
    Endpoint,
    choose_endpoint,
    close_pools,
    open_pools,
)
from wizardarena.endpoints.results import ChatResult, ClientStats, usage_count
from wizardarena.endpoints.retry import (
    RetriesExhausted,
    RetryWait,
    TransientError,
    retry_transient,
)
from wizardarena.endpoints.scrub import Scrubber, scrub_http_logs
from wizardarena.exceptions import (
    ClientError,
    EndpointUnreachableError,
    HTTPStatusError,
    ValidationError,
)

__all__ = [
    "AsyncClient",
    "ChatResult",
    "ClientStats",
]

T = TypeVar("T")

Message = Mapping[str, Any]

#: entered around each HTTP attempt of a request (see :meth:`AsyncClient.embed_batch`)
Gate = Callable[[], AbstractAsyncContextManager[Any]]


class AsyncClient:
    """Async client for an OpenAI-compatible endpoint.

    Parameters
    ----------
    base_url : str or sequence of str
        API root including the version, e.g. ``"http://localhost:8000/v1"``; or several API
        roots serving the same model, between which requests are spread (see the module
        docstring).
    model : str, optional
        Default model name for requests (each call may override it).
    api_key_env : str or None, default "OPENAI_API_KEY"
        Name of the environment variable holding the API key; ``None`` sends no key.
    timeout : float, default 120.0
        Seconds for one HTTP attempt (read, write, pool; connecting gets at most 10 s).
    concurrency : int, default 16
        Maximum number of requests in flight.
    max_retries : int, default 6
        Retries after the first attempt on transient failures.
    backoff : float, default 0.5
        First backoff in seconds (doubles each retry, with jitter).
    max_backoff : float, default 30.0
        Cap on one wait, ``Retry-After`` included.
    breaker_seconds : float or None, default 10.0
        Stop with :class:`~wizardarena.exceptions.EndpointUnreachableError` when every
        connection attempt failed for this long (see
        :class:`~wizardarena.endpoints.failures.CircuitBreaker`); ``None`` or 0 disables it.
    headers : mapping, optional
        Extra HTTP headers (``Authorization``-like values are scrubbed like the key).
    http2 : bool or None, default None
        Offer HTTP/2 (``None``: when the ``h2`` package is installed).
    transport : httpx.AsyncBaseTransport, optional
        Replace httpx's default transport (e.g. :class:`httpx.MockTransport` in tests);
        proxies from the environment then no longer apply.
    max_response_bytes : int, default 16777216 (16 MiB)
        Cap on one response body: a longer (or endless) body is cut there, its connection
        closed, and the attempt counts as a transient failure (retried; see
        :data:`~wizardarena.endpoints.options.DEFAULT_MAX_RESPONSE_BYTES`).
    """

    def __init__(
        self,
        base_url: str | Sequence[str],
        *,
        model: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout: float = 120.0,
        concurrency: int = 16,
        max_retries: int = 6,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        breaker_seconds: float | None = 10.0,
        headers: Mapping[str, str] | None = None,
        http2: bool | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        check_client_options(timeout=timeout, max_retries=max_retries,
                             breaker_seconds=breaker_seconds,
                             max_response_bytes=max_response_bytes)
        roots = check_base_urls(base_url)
        if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
            raise ValidationError(f"concurrency must be an integer >= 1; got {concurrency!r}")
        #: every API root; ``base_url`` is the first (the only one, usually)
        self.base_urls = roots
        self.base_url = roots[0]
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = float(timeout)
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.breaker_seconds = float(breaker_seconds) if breaker_seconds else 0.0
        self.max_response_bytes = max_response_bytes
        self.http2 = h2_available() if http2 is None else bool(http2)
        self.stats = ClientStats()
        key = os.environ.get(api_key_env) if api_key_env else None
        key = key.strip() if key else None
        self._headers = {"Content-Type": "application/json", **dict(headers or {})}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._key_sent = any(k.lower() in ("authorization", "api-key", "x-api-key")
                             for k in self._headers)
        self.scrub = Scrubber([key], headers=self._headers)
        scrub_http_logs(self.scrub)
        self._endpoints = [Endpoint(u, breaker_seconds) for u in roots]
        #: the circuit breaker of the first endpoint (of the only one, usually)
        self.breaker = self._endpoints[0].breaker
        self._transport = transport
        self._open_pools = False
        # with several endpoints: bounds the requests in flight over all of them
        self._slots: asyncio.Semaphore | None = None
        self._wait = RetryWait(self.backoff, self.max_backoff, self.breaker if len(roots) == 1
                               else BreakerCap([e.breaker for e in self._endpoints]))

    def __repr__(self) -> str:
        urls = (self.scrub.url(self.base_url) if len(self.base_urls) == 1
                else [self.scrub.url(u) for u in self.base_urls])
        return (
            f"AsyncClient(base_url={urls!r}, model={self.model!r}, "
            f"api_key_env={self.api_key_env!r}, concurrency={self.concurrency})"
        )

    # -- plumbing -----------------------------------------------------------------------
    def _open(self) -> None:
        if self._open_pools:
            return
        open_pools(self._endpoints, concurrency=self.concurrency, http2=self.http2,
                   headers=self._headers, transport=self._transport, timeout=self.timeout)
        if len(self._endpoints) > 1:
            self._slots = asyncio.Semaphore(self.concurrency)
        self._open_pools = True

    async def aclose(self) -> None:
        """Close the connection pools."""
        self._open_pools, self._slots = False, None
        await close_pools(self._endpoints)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _context(self, route: str, model: str | None) -> RequestContext:
        return RequestContext(route, model, self.api_key_env, self._key_sent)

    async def _attempt(self, route: str, payload: bytes, model: str | None,
                       timeout: float | None = None) -> Any:
        self._open()
        slots = self._slots
        if slots is None:  # one endpoint: its free slots bound the requests in flight
            ep = self._endpoints[0]
            ep.breaker.check()
            assert ep.free is not None  # opened above
            self.stats.attempts += 1
            k = await ep.free.get()
        else:
            await slots.acquire()
            try:
                ep = self._choose()
            except BaseException:
                slots.release()
                raise
            assert ep.free is not None  # opened above
            self.stats.attempts += 1
            k = ep.free.get_nowait()  # never empty: each endpoint has `concurrency` slots
        url = ep.urls[route]
        pool = ep.pools[k]
        try:
            request = pool.build_request(
                "POST", url, content=payload, timeout=httpx.USE_CLIENT_DEFAULT
                if timeout is None else httpx.Timeout(timeout, connect=min(
                    timeout, CONNECT_TIMEOUT)))
            response = await pool.send(request, stream=True)
            try:
                content = await self._read(response)
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            f = classify_transport_error(exc, self._context(route, model))
            f = dataclasses.replace(f, message=self.scrub(f.message))
            if f.connection:
                self._connection_failed(ep, f)
            raise self._raise(f, str(url)) from None
        finally:
            ep.free.put_nowait(k)
            if slots is not None:
                slots.release()
        ep.breaker.record_response()
        if content is None:
            cap = format_bytes(self.max_response_bytes)
            raise self._raise(Failure(
                FailureClass.TRANSIENT, f"response over {cap}",
                f"the {response.status_code} response is longer than max_response_bytes "
                f"({cap}; --max-response-bytes) and was cut there, its connection closed: "
                f"raise the cap or, for embeddings, lower batch_size",
                response.status_code), str(url))
        if self.scrub:
            content = self.scrub.bytes(content)
        data, failure = classify_response(response.status_code, content, response.headers,
                                          self._context(route, model))
        if failure is None:
            return data
        raise self._raise(failure, str(url))

    async def _read(self, response: httpx.Response) -> bytes | None:
        """The body of a streamed response, or ``None`` once it grows past
        ``max_response_bytes`` (the rest is not read)."""
        cap = self.max_response_bytes
        length = response.headers.get("content-length", "")
        if length.isdigit():  # the transport reads no more than the length it announced
            return await response.aread() if int(length) <= cap else None
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _choose(self) -> Endpoint:
        """The endpoint of the next request (see :func:`choose_endpoint`)."""
        ep = choose_endpoint(self._endpoints)
        if ep is None:
            raise self._unreachable_all()
        return ep

    def _connection_failed(self, ep: Endpoint, failure: Failure) -> None:
        """Count a failed connection to ``ep``; raise when the run must stop."""
        if not ep.breaker.record_failure():
            return
        error = ep.breaker.trip(self._unreachable(failure, ep))
        if len(self._endpoints) == 1:
            raise error from None
        if all(e.breaker.error is not None for e in self._endpoints):
            raise self._unreachable_all() from None

    def _raise(self, failure: Failure, url: str) -> Exception:
        """The exception for a failure: transient (retried), or the public one."""
        if failure.kind is FailureClass.TRANSIENT:
            return TransientError(failure, url)
        return error_for(failure, self.scrub.url(url))

    def _unreachable(self, failure: Failure, ep: Endpoint) -> EndpointUnreachableError:
        b = ep.breaker
        return EndpointUnreachableError(
            f"no connection to {self.scrub.url(ep.base_url)} for "
            f"{b.streak_seconds:.1f} s ({b.failures} attempts; last: {failure.message}). "
            f"Likely fix: start the server or correct base_url (--judge-url / --model-url); "
            f"breaker_seconds= (--breaker-seconds) sets how long to keep trying"
        )

    def _unreachable_all(self) -> EndpointUnreachableError:
        """The error of a client none of whose several endpoints can be reached."""
        each = "; ".join(str(e.breaker.error) for e in self._endpoints)
        return EndpointUnreachableError(
            f"none of the {len(self._endpoints)} endpoints can be reached: {each}")

    async def _post(self, route: str, body: dict[str, Any], *, timeout: float | None = None,
                    gate: Gate | None = None, patient: bool = False) -> tuple[Any, int]:
        """POST with retries; return the decoded JSON body and the attempts it took
        (``timeout``, ``gate``, ``patient``: see :meth:`embed_batch`)."""
        payload = json.dumps(body).encode()
        model = body.get("model")
        attempt: Callable[[], Awaitable[Any]]
        if gate is None and not patient:
            attempt = functools.partial(self._attempt, route, payload, model, timeout)
        else:
            self._open()  # before the gate: opening the pools is no part of an attempt's time
            seconds = [timeout]  # the timeout of the next attempt

            async def gated() -> Any:
                start = time.monotonic()
                try:
                    if gate is None:
                        return await self._attempt(route, payload, model, seconds[0])
                    async with gate():
                        return await self._attempt(route, payload, model, seconds[0])
                except TransientError as exc:
                    if patient and exc.failure.timed_out:
                        # the server may compute the abandoned attempt for as long as it
                        # ran: the next one waits that long, and gets twice the time
                        exc.min_wait = time.monotonic() - start
                        seconds[0] = 2.0 * (seconds[0] or self.timeout)
                    raise

            attempt = gated
        try:
            return await retry_transient(
                attempt, max_retries=self.max_retries, wait=self._wait,
                on_retry=self._count_retry)
        except RetriesExhausted as exc:
            self.stats.failures += 1
            raise self._final(exc.last.url, exc.attempts, exc.last.failure) from None

    def _count_retry(self) -> None:
        self.stats.retries += 1

    def _final(self, url: str, attempts: int, failure: Failure) -> ClientError:
        msg = f"{failure.message} (after {attempts} attempt(s))"
        where = self.scrub.url(url)
        if failure.status is not None and failure.status >= 300:
            return HTTPStatusError(failure.status, msg, url=where)
        return ClientError(f"request to {where} failed: {msg}")

    # -- public calls -------------------------------------------------------------------
    def _model(self, model: str | None) -> str:
        name = model if model is not None else self.model
        if not name:
            raise ValidationError("model must be given (to the client or to the call); got None")
        return name

    async def chat(
        self,
        messages: Sequence[Message],
        *,
        model: str | None = None,
        temperature: float | None = 0.0,
        max_tokens: int | None = None,
        **params: Any,
    ) -> ChatResult:
        """Request one chat completion.

        Parameters
        ----------
        messages : sequence of dict
            OpenAI messages ``[{"role": "system"|"user"|"assistant", "content": str}, ...]``.
        model : str, optional
            Overrides the client's default model.
        temperature : float or None, default 0.0
            ``None`` leaves it to the server.
        max_tokens : int, optional
            Completion length cap.
        **params
            Extra fields of the request body (``top_p``, ``seed``, ...).

        Returns
        -------
        ChatResult
        """
        if isinstance(messages, (str, bytes)) or not messages:
            raise ValidationError(
                "messages must be a non-empty list of {'role', 'content'} dicts; "
                f"got {type(messages).__name__} {str(messages)[:60]!r}"
            )
        name = self._model(model)
        body: dict[str, Any] = {"model": name, "messages": list(messages), **params}
        if temperature is not None:
            body["temperature"] = temperature
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        data, attempts = await self._post("chat/completions", body)
        choice = data["choices"][0]  # checked by classify_response
        content = choice["message"].get("content")
        finish = choice.get("finish_reason")
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        pt = usage_count(usage.get("prompt_tokens"))
        ct = usage_count(usage.get("completion_tokens"))
        self.stats.prompt_tokens += pt
        self.stats.completion_tokens += ct
        return ChatResult(
            text=self.scrub("" if content is None else str(content)),
            prompt_tokens=pt,
            completion_tokens=ct,
            model=self.scrub(str(data.get("model") or name)),
            finish_reason=None if finish is None else self.scrub(str(finish)),
            attempts=attempts,
        )

    async def embed(
        self, texts: Sequence[str], *, model: str | None = None, batch_size: int = 128
    ) -> np.ndarray:
        """Embed texts through ``/embeddings``.

        Parameters
        ----------
        texts : sequence of str, length n
        model : str, optional
            Overrides the client's default model.
        batch_size : int, default 128
            Texts per request; batches run concurrently (bounded by ``concurrency``).

        Returns
        -------
        numpy.ndarray, shape (n, d), float64
            Rows in the order of ``texts``.
        """
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise ValidationError(
                f"texts must be a sequence of str; got {type(texts).__name__}"
            )
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str)][:5]
        if bad:
            raise ValidationError(
                f"texts must all be str; items {bad} are "
                f"{[type(texts[i]).__name__ for i in bad]}"
            )
        if batch_size < 1:
            raise ValidationError(f"batch_size must be >= 1; got {batch_size}")
        name = self._model(model)
        if len(texts) == 0:
            return np.zeros((0, 0), dtype=np.float64)
        chunks = [list(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
        parts = await asyncio.gather(*(self.embed_batch(c, model=name) for c in chunks))
        return stack_embeddings(parts, self.embeddings_url)

    @property
    def embeddings_url(self) -> str:
        """The ``/embeddings`` URL of the first endpoint, redacted (for messages)."""
        return f"{self.scrub.url(self.base_url)}/embeddings"

    async def embed_batch(
        self,
        texts: list[str],
        *,
        model: str | None = None,
        timeout: float | None = None,
        gate: Gate | None = None,
        patient: bool = False,
    ) -> np.ndarray:
        """Embed one batch of texts in one request (retried as every request is).

        Parameters
        ----------
        texts : list of str
            The batch (sent as one ``input`` list).
        model : str, optional
            Overrides the client's default model.
        timeout : float, optional
            Seconds for the first attempt (default: the client's ``timeout``).
        gate : callable, optional
            Returns an async context manager entered around each HTTP attempt (not around
            the waits between them): a limiter of the requests in flight that sees each
            attempt's outcome (the exception it raised: a
            :class:`~wizardarena.endpoints.retry.TransientError` for a retried failure).
        patient : bool, default False
            For a server that keeps computing a request its client gave up on: after a
            timed-out attempt, the next one waits at least as long as that attempt ran and
            gets twice its timeout, so no two attempts of the batch run on the server
            together.

        Returns
        -------
        numpy.ndarray, shape (len(texts), d), float64
        """
        name = self._model(model)
        data, _ = await self._post("embeddings", {"model": name, "input": texts},
                                   timeout=timeout, gate=gate, patient=patient)
        arr = embedding_rows(data, len(texts), self.embeddings_url, self.scrub)
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        self.stats.prompt_tokens += usage_count(usage.get("prompt_tokens"))
        return arr
