"""What a failed request means, decided in one place.

Every failure of a request to an OpenAI-compatible endpoint falls in one of three classes
(:class:`FailureClass`), and this module is the only place that decides which:

- **fatal** — 401, 402, 403, 404 (unknown model or path), 405, 407, 501, a redirect, a
  200 that is an HTML page, a 429 ``insufficient_quota``, TLS verification, a bad scheme,
  an illegal header: stop the run at once with one message (status, redacted URL, the
  server's message, the likely fix);
- **permanent** — 400, 413, 422 and the other 4xx: record the request as failed under its
  key and go on; a rerun skips it unless ``retry_failed=True``;
- **transient** — 429 (honouring ``Retry-After``), 408, 409, 425, 5xx, connection errors and
  resets, timeouts, truncated JSON, a 200 with an ``error`` object or without ``choices``, a
  response body over ``max_response_bytes``: retry with backoff (tenacity); when retries
  run out, count an error and store nothing, so a rerun asks again.

:func:`classify_response` and :func:`classify_transport_error` classify what the client
sees; :func:`classify_error` maps the client's exceptions back to the class for the runner
and answer generation. The circuit breaker is in :mod:`~wizardarena.endpoints.breaker`, key
scrubbing in :mod:`~wizardarena.endpoints.scrub`.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
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
    "Failure",
    "FailureClass",
    "RequestContext",
    "classify_error",
    "classify_response",
    "classify_status",
    "classify_transport_error",
    "error_for",
    "parse_retry_after",
]

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
    timed_out : bool
        The attempt ran out of time (the server may still be computing it).
    """

    kind: FailureClass
    reason: str
    message: str
    status: int | None = None
    retry_after: float | None = None
    hint: str = ""
    connection: bool = False
    timed_out: bool = False


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
    return Failure(FailureClass.TRANSIENT, name, text, connection=connection,
                   timed_out=isinstance(exc, httpx.TimeoutException))


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
