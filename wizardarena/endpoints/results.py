"""What the client returns and counts: :class:`ChatResult`, :class:`ClientStats`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ChatResult", "ClientStats", "usage_count"]


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


def usage_count(value: Any) -> int:
    """A token count from a usage field (0 when absent or not a number)."""
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0
