"""OpenAI-compatible HTTP client (httpx, async) with retries, a concurrency limit and usage.

Stable API (used by the arena runner and by test-set construction)::

    from wizardarena.arena.client import AsyncClient, Client, ChatResult

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
- The API key is read once from the environment variable named by ``api_key_env`` (nothing is
  sent if it is unset). It is never logged, never part of ``repr`` and is redacted from every
  error message this module raises.
- Retries (tenacity, exponential backoff with jitter) only on transient failures: transport
  errors and timeouts, HTTP 429 (honouring ``Retry-After``), HTTP 5xx and malformed response
  bodies. Any other 4xx fails fast with :class:`~wizardarena.exceptions.HTTPStatusError`
  showing the status and the server's message. When retries run out the last error is
  raised (``HTTPStatusError`` for a status, :class:`~wizardarena.exceptions.ClientError`
  otherwise).
- ``concurrency`` bounds the requests in flight (an :class:`asyncio.Semaphore`, and the httpx
  connection pool size).
- :attr:`AsyncClient.stats` counts attempts, retries, failures and tokens.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import threading
import time
from collections.abc import Awaitable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import numpy as np
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from wizardarena.arena._transport import PooledTransport
from wizardarena.exceptions import ClientError, HTTPStatusError, ValidationError

__all__ = [
    "AsyncClient",
    "ChatResult",
    "Client",
    "ClientStats",
    "run_sync",
]

T = TypeVar("T")

Message = Mapping[str, Any]


@dataclass(frozen=True)
class ChatResult:
    """One chat completion.

    Attributes
    ----------
    text : str
        The assistant message content (``""`` when the server returned ``null``).
    prompt_tokens, completion_tokens : int
        Token usage reported by the server (0 when it reports none).
    model : str
        The model that answered, as reported by the server (else the one requested).
    finish_reason : str or None
        As reported by the server.
    attempts : int
        HTTP attempts it took (1 = no retry).
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    model: str
    finish_reason: str | None = None
    attempts: int = 1


@dataclass
class ClientStats:
    """Mutable counters of an :class:`AsyncClient` (attempts include retries)."""

    attempts: int = 0
    retries: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _TransientError(Exception):
    """Internal: a failure worth retrying."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after


def _parse_retry_after(value: str | None) -> float | None:
    """Parse a ``Retry-After`` header (seconds or HTTP date) into seconds, or ``None``."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _server_message(response: httpx.Response) -> str:
    """The server's error message: ``error.message`` of a JSON body, else the text (cut)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and "message" in err:
            return str(err["message"])[:500]
        if isinstance(err, str):
            return err[:500]
    return response.text[:500]


class _Wait:
    """tenacity wait: ``Retry-After`` when given, else exponential backoff with full jitter."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = maximum
        self._jitter = random.Random()  # private, unseeded: jitter only, never global state

    def delay(self, exc: BaseException | None, failures: int) -> float:
        """Seconds to wait after the ``failures``-th consecutive failure ``exc``."""
        if isinstance(exc, _TransientError) and exc.retry_after is not None:
            return float(min(exc.retry_after, self.maximum))
        high = min(self.maximum, self.initial * 2 ** (failures - 1))
        return self._jitter.uniform(0.5 * high, high)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        # the first failure happened before tenacity took over
        return self.delay(exc, state.attempt_number + 1)


class AsyncClient:
    """Async client for an OpenAI-compatible endpoint.

    Parameters
    ----------
    base_url : str
        API root including the version, e.g. ``"http://localhost:8000/v1"``.
    model : str, optional
        Default model name for requests (each call may override it).
    api_key_env : str or None, default "OPENAI_API_KEY"
        Name of the environment variable holding the API key; ``None`` sends no key.
    timeout : float, default 120.0
        Seconds for one HTTP attempt (connect, read, write, pool).
    concurrency : int, default 16
        Maximum number of requests in flight.
    max_retries : int, default 6
        Retries after the first attempt on transient failures.
    backoff : float, default 0.5
        First backoff in seconds (doubles each retry, with jitter).
    max_backoff : float, default 30.0
        Cap on one wait, ``Retry-After`` included.
    headers : mapping, optional
        Extra HTTP headers.
    transport : httpx.AsyncBaseTransport, optional
        Default: a lean HTTP/1.1 keep-alive transport (no proxy support; see
        :mod:`wizardarena.arena._transport`). Pass ``httpx.AsyncHTTPTransport(proxy=...)``
        for proxies or HTTP/2, or :class:`httpx.MockTransport` in tests.
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout: float = 120.0,
        concurrency: int = 16,
        max_retries: int = 6,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValidationError(
                f"base_url must be an http(s) URL such as 'http://localhost:8000/v1'; "
                f"got {base_url!r}"
            )
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValidationError(f"concurrency must be an integer >= 1; got {concurrency!r}")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ValidationError(f"max_retries must be an integer >= 0; got {max_retries!r}")
        if not (timeout > 0):
            raise ValidationError(f"timeout must be > 0 seconds; got {timeout!r}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = float(timeout)
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.stats = ClientStats()
        self.__api_key: str | None = os.environ.get(api_key_env) if api_key_env else None
        self._headers = {"Content-Type": "application/json", **dict(headers or {})}
        if self.__api_key:
            self._headers["Authorization"] = f"Bearer {self.__api_key}"
        self._transport = transport
        self._http: httpx.AsyncBaseTransport | None = None
        self._hdrs = httpx.Headers(self._headers)
        self._urls = {r: httpx.URL(f"{self.base_url}/{r}")
                      for r in ("chat/completions", "embeddings")}
        t = self.timeout
        self._timeouts = {"connect": t, "read": t, "write": t, "pool": t}
        self._sem: asyncio.Semaphore | None = None
        self._wait = _Wait(self.backoff, self.max_backoff)

    def __repr__(self) -> str:
        return (
            f"AsyncClient(base_url={self.base_url!r}, model={self.model!r}, "
            f"api_key_env={self.api_key_env!r}, concurrency={self.concurrency})"
        )

    # -- plumbing -----------------------------------------------------------------------
    def _redact(self, text: str) -> str:
        key = self.__api_key
        if key and len(key) >= 4:
            text = text.replace(key, "***")
        return text

    def _client(self) -> tuple[httpx.AsyncBaseTransport, asyncio.Semaphore]:
        if self._http is None or self._sem is None:
            self._http = self._transport if self._transport is not None else PooledTransport()
            self._sem = asyncio.Semaphore(self.concurrency)
        return self._http, self._sem

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None
            self._sem = None

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _attempt(self, route: str, payload: bytes) -> Any:
        # requests go straight to the transport: httpx's client layer (auth, redirects,
        # cookies, URL re-parsing) is not needed for a JSON POST and costs CPU per request
        transport, sem = self._client()
        self.stats.attempts += 1
        request = httpx.Request("POST", self._urls[route], headers=self._hdrs, content=payload,
                                extensions={"timeout": self._timeouts})
        async with sem:
            try:
                response = await transport.handle_async_request(request)
                await response.aread()
            except httpx.TransportError as exc:
                raise _TransientError(f"{type(exc).__name__}: {exc}") from None
        status = response.status_code
        url = str(request.url)
        if status == 429 or status >= 500:
            raise _TransientError(
                _server_message(response),
                status=status,
                retry_after=_parse_retry_after(response.headers.get("retry-after")),
            )
        if status >= 400:
            raise HTTPStatusError(status, self._redact(_server_message(response)), url=url)
        try:
            return json.loads(response.content)
        except ValueError:
            raise _TransientError(
                f"malformed JSON in a {status} response: {response.text[:200]!r}"
            ) from None

    async def _post(self, route: str, body: dict[str, Any]) -> tuple[Any, int]:
        """POST with retries; return the decoded JSON body and the attempts it took."""
        url = f"{self.base_url}/{route}"
        payload = json.dumps(body).encode()
        try:  # fast path: no retry machinery unless the first attempt fails
            return await self._attempt(route, payload), 1
        except _TransientError as exc:
            last = exc
        attempts = 1
        if self.max_retries > 0:
            self.stats.retries += 1
            await asyncio.sleep(self._wait.delay(last, 1))
            retrying = AsyncRetrying(
                stop=stop_after_attempt(self.max_retries),
                wait=self._wait,
                retry=retry_if_exception_type(_TransientError),
                reraise=True,
                before_sleep=self._count_retry,
            )
            try:
                async for attempt in retrying:
                    with attempt:
                        attempts += 1
                        try:
                            return await self._attempt(route, payload), attempts
                        except _TransientError as exc:
                            last = exc
                            raise
            except _TransientError:
                pass
        self.stats.failures += 1
        raise self._final(url, attempts, last)

    def _count_retry(self, state: RetryCallState) -> None:
        self.stats.retries += 1

    def _final(self, url: str, attempts: int, exc: _TransientError) -> ClientError:
        msg = self._redact(f"{exc.message} (after {attempts} attempt(s))")
        if exc.status is not None:
            return HTTPStatusError(exc.status, msg, url=url)
        return ClientError(f"request to {url} failed: {msg}")

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
        try:
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
            finish = choice.get("finish_reason")
        except (KeyError, IndexError, TypeError, AttributeError):
            self.stats.failures += 1
            raise ClientError(
                f"response of {self.base_url}/chat/completions has no choices[0].message: "
                f"{str(data)[:200]!r}"
            ) from None
        usage = data.get("usage") or {}
        pt = int(usage.get("prompt_tokens") or 0)
        ct = int(usage.get("completion_tokens") or 0)
        self.stats.prompt_tokens += pt
        self.stats.completion_tokens += ct
        return ChatResult(
            text=str(text),
            prompt_tokens=pt,
            completion_tokens=ct,
            model=str(data.get("model") or name),
            finish_reason=finish,
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

        async def one(chunk: list[str]) -> np.ndarray:
            data, _ = await self._post("embeddings", {"model": name, "input": chunk})
            try:
                rows = sorted(data["data"], key=lambda d: d["index"])
                arr = np.asarray([r["embedding"] for r in rows], dtype=np.float64)
            except (KeyError, TypeError, ValueError) as exc:
                raise ClientError(
                    f"response of {self.base_url}/embeddings is not an embeddings list: {exc}"
                ) from None
            if arr.ndim != 2 or arr.shape[0] != len(chunk):
                raise ClientError(
                    f"{self.base_url}/embeddings returned {arr.shape[0] if arr.ndim else 0} "
                    f"vectors for {len(chunk)} inputs"
                )
            usage = data.get("usage") or {}
            self.stats.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            return arr

        parts = await asyncio.gather(*(one(c) for c in chunks))
        dims = {p.shape[1] for p in parts}
        if len(dims) != 1:
            raise ClientError(f"{self.base_url}/embeddings returned mixed dimensions {dims}")
        return np.vstack(parts)


class _LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class Client:
    """Synchronous facade over :class:`AsyncClient`, safe inside a running event loop.

    The async client runs on a private event loop in a daemon thread, so this works from
    scripts and from notebooks alike. Parameters are those of :class:`AsyncClient`.
    Close it (or use it as a context manager) to free the thread and connections.
    """

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        self._async = AsyncClient(base_url, **kwargs)
        self._loop: _LoopThread | None = _LoopThread()

    def __repr__(self) -> str:
        return repr(self._async).replace("AsyncClient", "Client", 1)

    @property
    def stats(self) -> ClientStats:
        """Counters of the underlying :class:`AsyncClient`."""
        return self._async.stats

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            coro.close()
            raise ClientError("the client is closed")
        return self._loop.run(coro)

    def chat(self, messages: Sequence[Message], **kwargs: Any) -> ChatResult:
        """See :meth:`AsyncClient.chat`."""
        return self._run(self._async.chat(messages, **kwargs))

    def chat_many(
        self, conversations: Iterable[Sequence[Message]], **kwargs: Any
    ) -> list[ChatResult]:
        """Run many chats concurrently (bounded by ``concurrency``); results in input order."""
        convs = list(conversations)

        async def go() -> list[ChatResult]:
            return list(await asyncio.gather(*(self._async.chat(m, **kwargs) for m in convs)))

        return self._run(go())

    def embed(self, texts: Sequence[str], **kwargs: Any) -> np.ndarray:
        """See :meth:`AsyncClient.embed`; returns shape (n, d)."""
        return self._run(self._async.embed(texts, **kwargs))

    def close(self) -> None:
        """Close connections and stop the private loop (idempotent)."""
        if self._loop is not None:
            self._loop.run(self._async.aclose())
            self._loop.close()
            self._loop = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_sync(coro: Awaitable[T]) -> T:
    """Run a coroutine to completion from synchronous code.

    Uses :func:`asyncio.run` when no loop is running in this thread; inside a running loop
    (a notebook) it runs the coroutine in a worker thread with its own loop and waits.
    """

    async def wrap() -> T:
        return await coro

    try:
        asyncio.get_running_loop()
        running = True
    except RuntimeError:
        running = False
    if not running:
        return asyncio.run(wrap())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(wrap())
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, name="wizardarena-run-sync")
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value
