"""The one exception tree of wizardarena.

::

    WizardArenaError (Exception)
    ├── ValidationError (ValueError)      bad input: names column, rows, values, expectation
    ├── ConvergenceError (RuntimeError)   a solver did not converge and was asked to raise
    ├── MissingExtraError (ImportError)   an optional extra (plot, embeddings) is missing
    ├── ArenaError                        anything that goes wrong while running battles
    │   ├── ClientError                   a request to an OpenAI-compatible endpoint failed
    │   │   ├── HTTPStatusError           an error status (transient ones: after retries ran out)
    │   │   │   ├── RequestRejectedError  permanent for this request (400, 413, 422 ...):
    │   │   │   │                         recorded under its key, the run goes on
    │   │   │   └── EndpointError         fatal for the run (401/403, 404 model or path, not
    │   │   │                             an OpenAI endpoint): the run stops at once
    │   │   └── EndpointUnreachableError  fatal: the circuit breaker opened (no connection
    │   │                                 for breaker_seconds)
    │   ├── IncompleteAnswersError        some prompts got no answer; carries those that did
    │   ├── JudgeParseError (ValueError)  a judge's text held no verdict (fail closed)
    │   └── StoreError                    the judgment store is unusable
    └── ReferenceMatchError (LookupError) a reference board cannot be read or matched

Warnings::

    WizardArenaWarning (UserWarning)
    ├── RidgeWarning                         some models are only finite thanks to the ridge
    ├── ConvergenceWarning                   a solver stopped at its iteration limit
    └── DataWarning                          input was accepted but something deserves attention
"""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

E = TypeVar("E", bound=Enum)

__all__ = [
    "ArenaError",
    "ClientError",
    "ConvergenceError",
    "ConvergenceWarning",
    "DataWarning",
    "EndpointError",
    "EndpointUnreachableError",
    "HTTPStatusError",
    "IncompleteAnswersError",
    "JudgeParseError",
    "MissingExtraError",
    "ReferenceMatchError",
    "RequestRejectedError",
    "RidgeWarning",
    "StoreError",
    "ValidationError",
    "WizardArenaError",
    "WizardArenaWarning",
    "missing_extra",
    "parse_enum",
]


class WizardArenaError(Exception):
    """Base class of every error raised by wizardarena."""


class ValidationError(WizardArenaError, ValueError):
    """Input that does not satisfy the documented contract.

    The message names the column or argument, the first offending rows and values, and what
    was expected.
    """


class ConvergenceError(WizardArenaError, RuntimeError):
    """An iterative solver did not converge and the caller asked for an error."""


class MissingExtraError(WizardArenaError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


class ArenaError(WizardArenaError):
    """Base class for errors while generating answers or judging battles."""


class ClientError(ArenaError):
    """A request to an OpenAI-compatible endpoint failed."""


class HTTPStatusError(ClientError):
    """The endpoint answered with a status that is not retried (or retries ran out).

    Attributes
    ----------
    status_code : int
        The HTTP status.
    message : str
        The server's message (never contains the API key).
    """

    def __init__(self, status_code: int, message: str, *, url: str = "") -> None:
        self.status_code = status_code
        self.message = message
        self.url = url
        where = f" from {url}" if url else ""
        super().__init__(f"HTTP {status_code}{where}: {message}")


class RequestRejectedError(HTTPStatusError):
    """The endpoint rejected this one request for good (400, 413, 422, ...).

    Retrying cannot help (the prompt is too long for the model's context, a field is
    invalid ...), but other requests may succeed: the arena stores it as a failed judgment
    under its key and goes on.

    Attributes
    ----------
    reason : str
        Short label for counting, e.g. ``"HTTP 400 context_length_exceeded"``.
    """

    def __init__(self, status_code: int, message: str, *, url: str = "",
                 reason: str = "") -> None:
        super().__init__(status_code, message, url=url)
        self.reason = reason or f"HTTP {status_code}"


class EndpointError(HTTPStatusError):
    """The endpoint cannot serve this run at all (bad key, unknown model or path, ...).

    Raised at the first such response; the run stops at once. The message names the status
    (``status_code`` is None when the failure is not an HTTP status, e.g. a TLS error), the
    (redacted) URL, the server's message and the likely fix (:attr:`hint`).
    """

    def __init__(self, status_code: int | None, message: str, *, url: str = "",
                 hint: str = "", reason: str = "") -> None:
        self.status_code = status_code  # type: ignore[assignment]
        self.message = message
        self.url = url
        self.hint = hint
        self.reason = reason or (f"HTTP {status_code}" if status_code else "endpoint error")
        what = f"HTTP {status_code}" if status_code else "request failed"
        where = f" from {url}" if url else ""
        fix = f". Likely fix: {hint}" if hint else ""
        ClientError.__init__(self, f"{what}{where}: {message}{fix}")


class EndpointUnreachableError(ClientError):
    """The circuit breaker opened: every connection attempt failed for ``breaker_seconds``."""


class IncompleteAnswersError(ArenaError):
    """Some prompts got no answer (after retries, or rejected by the endpoint).

    Nothing that succeeded is lost: the answers are in the store / output file when one was
    given, and always in :attr:`answers`; a rerun asks only for the missing ones.

    Attributes
    ----------
    answers : pandas.DataFrame
        The answers that exist (columns ``model, question_id, turns, answer``).
    failures : pandas.DataFrame
        One row per missing answer: ``question_id, reason, message``.
    """

    def __init__(self, message: str, *, answers: Any, failures: Any) -> None:
        super().__init__(message)
        self.answers = answers
        self.failures = failures


class JudgeParseError(ArenaError, ValueError):
    """A judge's output did not contain a verdict in the template's format."""


class StoreError(ArenaError):
    """The judgment store cannot be used."""


class ReferenceMatchError(WizardArenaError, LookupError):
    """A reference leaderboard cannot be read, or model names cannot be matched unambiguously."""


class WizardArenaWarning(UserWarning):
    """Base class of every warning emitted by wizardarena."""


class RidgeWarning(WizardArenaWarning):
    """Some ratings are only finite because of the ridge (undefeated, winless or disconnected)."""


class ConvergenceWarning(WizardArenaWarning):
    """An iterative solver reached its iteration limit before its tolerance."""


class DataWarning(WizardArenaWarning):
    """Input was accepted, but something about it deserves attention."""


def parse_enum(cls: type[E], value: object, name: str) -> E:
    """``cls(value)`` for a closed vocabulary, or a ValidationError listing what is allowed."""
    try:
        return cls(value)
    except ValueError:
        allowed = [m.value for m in cls]
        raise ValidationError(f"{name} must be one of {allowed}; got {value!r}") from None


def missing_extra(package: str, extra: str, purpose: str) -> MissingExtraError:
    """Build the error raised when an optional dependency is absent.

    Parameters
    ----------
    package : str
        The import name that failed.
    extra : str
        The wizardarena extra that provides it.
    purpose : str
        What the user tried to do.
    """
    return MissingExtraError(
        f"{purpose} needs the optional package {package!r}, which is not installed; "
        f"install it with: pip install 'wizardarena[{extra}]'"
    )
