"""Options shared by the client, the judge and answer generation, validated in one place."""

from __future__ import annotations

import importlib.util
import math
from typing import Any

import httpx

from wizardarena.endpoints.scrub import Scrubber
from wizardarena.exceptions import ValidationError

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "check_base_urls",
    "check_client_options",
    "format_bytes",
    "h2_available",
]

#: the default cap on one response body (``max_response_bytes``): 16 MiB. The largest body
#: the library asks for is a batch of embeddings: 128 texts (the default ``batch_size`` of
#: :meth:`~wizardarena.endpoints.AsyncClient.embed`) of 4,096 dimensions, written as JSON
#: floats of ~22 characters, is ~11.5 MB; a chat completion of a 128k-token answer is
#: ~0.5 MB (a few MB if every character is escaped). A server that sends more, or never
#: stops, costs at most ``concurrency`` x 16 MiB of memory while the bodies are read (a body
#: whose ``Content-Length`` is over the cap is refused without reading it).
DEFAULT_MAX_RESPONSE_BYTES = 16 << 20


def format_bytes(n: int) -> str:
    """A byte count for messages: ``"32 MiB"``, ``"1.5 KiB"``, ``"100 bytes"``."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):g} {unit}"
    return f"{n} bytes"


def h2_available() -> bool:
    """Whether the ``h2`` package (HTTP/2 for httpx) is importable."""
    return importlib.util.find_spec("h2") is not None


def check_base_urls(base_url: Any, flag: str = "--judge-url / --model-url"
                    ) -> tuple[str, ...]:
    """The API root(s) of a client as a tuple, validated: each an http(s) URL, no repeats.
    ``flag`` is the command-line flag the messages name (default: both)."""
    urls = [base_url] if isinstance(base_url, str) else (
        list(base_url) if isinstance(base_url, (list, tuple)) else [base_url])
    if not urls:
        raise ValidationError(f"base_url ({flag}) must be an http(s) URL "
                              "or a non-empty list of them; got an empty list")
    out = []
    for u in urls:
        try:
            host = httpx.URL(u).host if isinstance(u, str) else ""
        except httpx.InvalidURL:
            host = ""
        if not host or not u.startswith(("http://", "https://")):
            raise ValidationError(
                f"base_url ({flag}) must be an http(s) URL such as "
                f"'http://localhost:8000/v1'; got "
                f"{Scrubber([]).url(u) if '@' in str(u) else u!r}"
            )
        out.append(u.rstrip("/"))
    repeated = sorted({Scrubber([]).url(u) for u in out if out.count(u) > 1})
    if repeated:
        raise ValidationError(f"base_url ({flag}) lists {repeated} more "
                              f"than once; give each server once")
    return tuple(out)


def check_client_options(*, timeout: Any, max_retries: Any, breaker_seconds: Any,
                         max_response_bytes: Any = DEFAULT_MAX_RESPONSE_BYTES) -> None:
    """Validate the options shared by the client, :class:`~wizardarena.arena.judges.Judge`
    and answer generation (CLI: ``--timeout``, ``--max-retries``, ``--breaker-seconds``,
    ``--max-response-bytes``)."""
    def number(x: Any) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)

    if not number(timeout) or timeout <= 0:
        raise ValidationError(f"timeout (--timeout) must be a number of seconds > 0; "
                              f"got {timeout!r}")
    if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
        raise ValidationError(f"max_retries (--max-retries) must be an integer >= 0; "
                              f"got {max_retries!r}")
    if breaker_seconds is not None and (not number(breaker_seconds) or breaker_seconds < 0):
        raise ValidationError(f"breaker_seconds (--breaker-seconds) must be a number of "
                              f"seconds >= 0 (0 or None disables the breaker); "
                              f"got {breaker_seconds!r}")
    if (not isinstance(max_response_bytes, int) or isinstance(max_response_bytes, bool)
            or max_response_bytes < 1):
        raise ValidationError(f"max_response_bytes (--max-response-bytes) must be an integer "
                              f"number of bytes >= 1 (default {DEFAULT_MAX_RESPONSE_BYTES}, "
                              f"16 MiB); got {max_response_bytes!r}")
