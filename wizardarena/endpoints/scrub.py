"""Keep secrets out of everything printed, raised, stored or exported.

A :class:`Scrubber` removes the API key and every ``Authorization``-like header value from
text and bytes, whatever a server echoes; :func:`scrub_http_logs` keeps them out of httpx's
and httpcore's log records too (httpcore logs request headers at DEBUG). Each client owns its
own scrubber, so shards of a run in separate processes each carry theirs; the only
process-wide piece is the log filter, which serves every live scrubber.
"""

from __future__ import annotations

import json
import logging
import weakref
from collections.abc import Iterable, Mapping

import httpx

__all__ = ["HTTP_LOGGERS", "REDACTED", "SECRET_HEADERS", "Scrubber", "scrub_http_logs"]

REDACTED = "***"

#: header names whose values are secrets (compared in lower case)
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "api-key", "x-api-key"})


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
