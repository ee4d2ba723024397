"""What a failed request means, decided in one place; the circuit breaker; secret scrubbing.

Every failure of a request to an OpenAI-compatible endpoint falls in one of three classes
(:class:`FailureClass`), and this module is the only place that decides which:

- **fatal** — 401, 402, 403, 404 (unknown model or path), 405, 407, 501, a redirect, a
  200 that is an HTML page, a 429 ``insufficient_quota``, TLS verification, a bad scheme,
  an illegal header: stop the run at once with one message (status, redacted URL, the
  server's message, the likely fix);
- **permanent** — 400, 413, 422 and the other 4xx: record the request as failed under its
  key and go on; a rerun skips it unless ``retry_failed=True``;
- **transient** — 429 (honouring ``Retry-After``), 408, 409, 425, 5xx, connection errors and
  resets, timeouts, truncated JSON, a 200 with an ``error`` object or without ``choices``:
  retry with backoff (tenacity); when retries run out, count an error and store nothing, so
  a rerun asks again.

:func:`classify_response` and :func:`classify_transport_error` classify what the client
sees; :func:`classify_error` maps the client's exceptions back to the class for the runner
and answer generation.

Connection failures also feed a :class:`CircuitBreaker`: when every connection attempt
failed, with no response in between, for ``breaker_seconds`` (default 10 s), the run stops
with :class:`~wizardarena.exceptions.EndpointUnreachableError` instead of retrying each
request on its own.

A :class:`Scrubber` removes the API key and every ``Authorization``-like header value from
text and bytes, whatever a server echoes; :func:`scrub_http_logs` keeps them out of httpx's
and httpcore's log records too (httpcore logs request headers at DEBUG). Each client owns its
own breaker and scrubber, so shards of a run in separate processes each carry theirs; the
only process-wide piece is the log filter, which serves every live scrubber.
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import httpx

from wizardarena.exceptions import (
    ClientError,
    EndpointError,
    EndpointUnreachableError,
    RequestRejectedError,
)

__all__ = [
    "REDACTED",
    "CircuitBreaker",
    "Failure",
    "FailureClass",
    "RequestContext",
    "Scrubber",
    "classify_error",
    "classify_response",
    "classify_status",
    "classify_transport_error",
    "error_for",
    "parse_retry_after",
    "scrub_http_logs",
]

REDACTED = "***"

#: header names whose values are secrets (compared in lower case)
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "api-key", "x-api-key"})

_URL_HINT = ("base_url (--judge-url / --model-url) must be the API root including /v1, e.g. "
             "http://localhost:8000/v1 (vLLM), http://localhost:11434/v1 (Ollama) or "
             "https://api.openai.com/v1")


class FailureClass(str, Enum):
    """How a failed request is handled (see the module docstring)."""

    FATAL = "fatal"
    PERMANENT = "permanent"
    TRANSIENT = "transient"


@dataclass(frozen=True)
class Failure:
    """One classified failure.

    Attributes
    ----------
    kind : FailureClass
    reason : str
        Short label for counting: ``"HTTP 400 context_length_exceeded"``, ``"HTTP 503"``,
        ``"ConnectError"``, ``"200 without choices"`` ...
    message : str
        What the server or the transport said (already scrubbed).
    status : int or None
        The HTTP status, if there was a response.
    retry_after : float or None
        Seconds the server asked to wait (``Retry-After``).
    hint : str
        The likely fix (fatal failures).
    connection : bool
        No connection could be made (feeds the circuit breaker).
    """

    kind: FailureClass
    reason: str
    message: str
    status: int | None = None
    retry_after: float | None = None
    hint: str = ""
    connection: bool = False


@dataclass(frozen=True)
class RequestContext:
    """What the classifier needs to know about the request to word a fix.

    Attributes
    ----------
    route : {"chat/completions", "embeddings"}
    model : str or None
        The model asked for.
    api_key_env : str or None
        Name of the environment variable the key comes from.
    key_sent : bool
        Whether an ``Authorization`` header was sent.
    """

    route: str
    model: str | None = None
    api_key_env: str | None = None
    key_sent: bool = False


def parse_retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) in seconds, or ``None``."""
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


# -- scrubbing -------------------------------------------------------------------------------
class Scrubber:
    """Replace secrets by ``***`` in text, bytes and URLs.

    Parameters
    ----------
    secrets : iterable of str or None
        Values to remove (the API key, ...). Each is also removed in its stripped and
        JSON-escaped forms. Values shorter than 4 characters are ignored (they are not
        secrets, and removing them would garble every text).
    headers : mapping, optional
        Request headers; the values of :data:`SECRET_HEADERS` (and the token after
        ``Bearer``/``Basic``) become secrets too.
    """

    def __init__(self, secrets: Iterable[str | None] = (), *,
                 headers: Mapping[str, str] | None = None) -> None:
        values: set[str] = set()
        raw = [s for s in secrets if s]
        for name, value in (headers or {}).items():
            if name.lower() in SECRET_HEADERS and value:
                raw.append(value)
                scheme, _, token = value.partition(" ")
                if token and scheme.lower() in ("bearer", "basic", "token"):
                    raw.append(token)
        for s in raw:
            for v in (s, s.strip(), json.dumps(s)[1:-1], json.dumps(s.strip())[1:-1]):
                if len(v) >= 4:
                    values.add(v)
        self._text = sorted(values, key=len, reverse=True)  # longest first
        self._bytes = [v.encode("utf-8") for v in self._text]

    def __bool__(self) -> bool:
        return bool(self._text)

    def __call__(self, text: str) -> str:
        """``text`` without any secret."""
        for s in self._text:
            if s in text:
                text = text.replace(s, REDACTED)
        return text

    def bytes(self, data: bytes) -> bytes:
        """``data`` without any secret (UTF-8)."""
        for s in self._bytes:
            if s in data:
                data = data.replace(s, REDACTED.encode())
        return data

    def url(self, url: str | httpx.URL) -> str:
        """A URL for messages: no password, no key-like query value, no secret."""
        try:
            u = httpx.URL(str(url))
        except (httpx.InvalidURL, TypeError, ValueError):
            return self(str(url))
        if u.password:
            u = u.copy_with(username=u.username, password=REDACTED)
        if u.query:
            params = [(k, REDACTED if _secret_param(k) else v) for k, v in u.params.multi_items()]
            u = u.copy_with(params=params)
        return self(str(u)).replace("%2A%2A%2A", REDACTED)


#: loggers of httpx and httpcore; httpcore's DEBUG records show the request headers
HTTP_LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2",
                "httpcore.proxy", "httpcore.socks")


class _LogScrubber(logging.Filter):
    """Scrub the secrets of every live :class:`Scrubber` from httpx/httpcore log records.

    Filters run only for records that are emitted (a logger enabled at that level), so this
    costs nothing unless DEBUG logging of httpcore is on.
    """

    def __init__(self) -> None:
        super().__init__()
        self.scrubbers: weakref.WeakSet[Scrubber] = weakref.WeakSet()

    def filter(self, record: logging.LogRecord) -> bool:
        scrubbers = list(self.scrubbers)
        if scrubbers:
            text = clean = record.getMessage()
            for s in scrubbers:
                clean = s(clean)
            if clean != text:
                record.msg, record.args = clean, ()
        return True


_LOG_SCRUBBER = _LogScrubber()


def scrub_http_logs(scrubber: Scrubber) -> None:
    """Keep ``scrubber``'s secrets out of httpx/httpcore log records while it lives."""
    if not scrubber:
        return
    if not _LOG_SCRUBBER.scrubbers:
        for name in HTTP_LOGGERS:
            logger = logging.getLogger(name)
            if _LOG_SCRUBBER not in logger.filters:
                logger.addFilter(_LOG_SCRUBBER)
    _LOG_SCRUBBER.scrubbers.add(scrubber)


def _secret_param(name: str) -> bool:
    low = name.lower()
    return any(w in low for w in ("key", "token", "secret", "password", "sig", "auth"))


# -- the circuit breaker ---------------------------------------------------------------------
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


# -- classification --------------------------------------------------------------------------
def _error_fields(body: Any) -> tuple[str | None, str | None, str | None]:
    """(message, code, type) of an OpenAI / vLLM / FastAPI error body, or Nones."""
    if not isinstance(body, dict):
        return None, None, None
    err = body.get("error")
    if isinstance(err, dict):
        msg = err.get("message")
        code, typ = err.get("code"), err.get("type")
    elif isinstance(err, str):
        msg, code, typ = err, None, None
    else:  # old vLLM: {"object": "error", "message": ...}; FastAPI: {"detail": ...}
        msg = body.get("message", body.get("detail"))
        code, typ = body.get("code"), body.get("type")
    return (None if msg is None else str(msg),
            code if isinstance(code, str) and code else None,
            typ if isinstance(typ, str) and typ else None)


def _reason(status: int, code: str | None, message: str) -> str:
    if code is None and "context length" in message.lower():
        code = "context_length_exceeded"  # vLLM says so in words only
    return f"HTTP {status}" + (f" {code}" if code else "")


def _key_hint(ctx: RequestContext) -> str:
    env = ctx.api_key_env
    if not ctx.key_sent:
        if env:
            return (f"no API key was sent: the environment variable {env} is not set; set it, "
                    f"or name the variable that holds the key with api_key_env= "
                    f"(--api-key-env)")
        return ("no API key was sent (api_key_env=None); name the environment variable that "
                "holds it with api_key_env= (--api-key-env)")
    return (f"the endpoint rejected the API key from the environment variable {env}: check "
            f"its value, or name another variable with api_key_env= (--api-key-env)")


def classify_status(status: int, body: Any, text: str, headers: Mapping[str, str],
                    ctx: RequestContext) -> Failure:
    """Classify an error status (>= 300) from its status, decoded body and headers."""
    msg, code, typ = _error_fields(body)
    message = msg if msg is not None else (text.strip()[:300] or f"(empty {status} body)")
    reason = _reason(status, code, message)
    fatal = FailureClass.FATAL
    if 300 <= status < 400:
        where = headers.get("location", "?")
        return Failure(fatal, reason, f"redirect to {where}", status,
                       hint=f"the server redirects to {where}: use that address as base_url")
    if status == 401:
        return Failure(fatal, reason, message, status, hint=_key_hint(ctx))
    if status == 403:
        return Failure(fatal, reason, message, status,
                       hint="the API key has no access to this model or endpoint: check the "
                            "key's project and permissions and the model name")
    if status == 402 or code == "insufficient_quota" or typ == "insufficient_quota":
        return Failure(fatal, reason, message, status,
                       hint="the account's quota or credit is used up: check plan and billing")
    if status == 404:
        low = message.lower()
        if "model" in low or code == "model_not_found":
            return Failure(fatal, reason, message, status,
                           hint=f"the endpoint does not serve the model {ctx.model!r}: check "
                                f"the model name (model= / --judge-model / --model) against "
                                f"GET <base_url>/models")
        return Failure(fatal, reason, message, status,
                       hint=f"no {ctx.route} route at this URL: {_URL_HINT}")
    if status == 405:
        return Failure(fatal, reason, message, status,
                       hint=f"no {ctx.route} route at this URL: {_URL_HINT}")
    if status == 407:
        return Failure(fatal, reason, message, status,
                       hint="the proxy asks for credentials: check HTTPS_PROXY / HTTP_PROXY")
    if status == 501:
        return Failure(fatal, reason, message, status,
                       hint=f"this server does not implement {ctx.route}")
    if status == 429 or status in (408, 409, 425) or status >= 500:
        return Failure(FailureClass.TRANSIENT, reason, message, status,
                       retry_after=parse_retry_after(headers.get("retry-after")))
    return Failure(FailureClass.PERMANENT, reason, message, status)


def classify_response(status: int, content: bytes, headers: Mapping[str, str],
                      ctx: RequestContext) -> tuple[Any, Failure | None]:
    """Decode and check a response; return ``(data, None)`` or ``(None, failure)``.

    ``data`` is the decoded JSON of a 2xx response that has what the route promises
    (``choices[0].message`` for chat, a ``data`` list for embeddings).
    """
    ctype = headers.get("content-type", "").lower()
    text = content.decode("utf-8", "replace")
    try:
        body: Any = json.loads(content) if content else None
        decoded = content != b""
    except ValueError:
        body, decoded = None, False
    if status >= 300:
        return None, classify_status(status, body, text, headers, ctx)
    if not decoded:
        head = text.lstrip()[:1]
        if "html" in ctype or head == "<":
            return None, Failure(
                FailureClass.FATAL, f"HTTP {status} not JSON",
                f"the response is an HTML page, not an OpenAI JSON response: "
                f"{text.strip()[:120]!r}", status,
                hint=f"this URL is not an OpenAI-compatible API: {_URL_HINT}")
        return None, Failure(FailureClass.TRANSIENT, "truncated JSON",
                             f"malformed JSON in a {status} response: {text[:200]!r}", status)
    if ctx.route == "embeddings":
        ok = isinstance(body, dict) and isinstance(body.get("data"), list)
        missing = "data"
    else:
        choices = body.get("choices") if isinstance(body, dict) else None
        ok = (isinstance(choices, list) and len(choices) > 0 and isinstance(choices[0], dict)
              and isinstance(choices[0].get("message"), dict))
        missing = "choices"
    if ok:
        return body, None
    msg, _, _ = _error_fields(body)
    if isinstance(body, dict) and "error" in body:
        return None, Failure(FailureClass.TRANSIENT, f"{status} with an error object",
                             f"{status} response with an error object: {msg}", status)
    return None, Failure(FailureClass.TRANSIENT, f"{status} without {missing}",
                         f"{status} response without {missing}: {text[:200]!r}", status)


def classify_transport_error(exc: Exception, ctx: RequestContext) -> Failure:
    """Classify an exception raised by httpx before any response arrived."""
    name = type(exc).__name__
    text = f"{name}: {exc}" if str(exc) else name
    if isinstance(exc, httpx.UnsupportedProtocol):
        return Failure(FailureClass.FATAL, name, text, hint=_URL_HINT)
    if isinstance(exc, httpx.LocalProtocolError):
        return Failure(FailureClass.FATAL, name, text,
                       hint="a request header holds an illegal character (a newline at the "
                            "end of the API key?)")
    if isinstance(exc, httpx.ProxyError):
        return Failure(FailureClass.FATAL, name, text,
                       hint="the proxy refused the connection: check HTTPS_PROXY / HTTP_PROXY "
                            "/ NO_PROXY")
    if isinstance(exc, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return Failure(FailureClass.FATAL, "TLS verification", text,
                       hint="the server's TLS certificate is not trusted: point SSL_CERT_FILE "
                            "at the CA bundle that signed it")
    connection = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
    return Failure(FailureClass.TRANSIENT, name, text, connection=connection)


def error_for(failure: Failure, url: str = "") -> ClientError:
    """The public exception of a permanent or fatal failure (``url`` already redacted):
    :class:`~wizardarena.exceptions.RequestRejectedError` or
    :class:`~wizardarena.exceptions.EndpointError`. Transient failures are retried by the
    caller and have none."""
    if failure.kind is FailureClass.TRANSIENT:
        raise ValueError("a transient failure is retried, not raised")
    if failure.kind is FailureClass.PERMANENT:
        assert failure.status is not None  # permanent failures are statuses
        return RequestRejectedError(failure.status, failure.message, url=url,
                                    reason=failure.reason)
    return EndpointError(failure.status, failure.message, url=url, hint=failure.hint,
                         reason=failure.reason)


def classify_error(exc: BaseException) -> FailureClass:
    """The class of an exception raised by the client (for the runner and answer generation).

    Fatal: :class:`~wizardarena.exceptions.EndpointError` and
    :class:`~wizardarena.exceptions.EndpointUnreachableError`; permanent:
    :class:`~wizardarena.exceptions.RequestRejectedError`; any other
    :class:`~wizardarena.exceptions.ClientError` is a transient failure whose retries ran out.
    """
    if isinstance(exc, (EndpointError, EndpointUnreachableError)):
        return FailureClass.FATAL
    if isinstance(exc, RequestRejectedError):
        return FailureClass.PERMANENT
    if isinstance(exc, ClientError):
        return FailureClass.TRANSIENT
    raise TypeError(f"not a client error: {type(exc).__name__}")
