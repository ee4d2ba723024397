"""The one exception tree of wizardarena.

::

    WizardArenaError (Exception)
    ├── ValidationError (ValueError)      bad input: names column, rows, values, expectation
    ├── ConvergenceError (RuntimeError)   a solver did not converge and was asked to raise
    ├── MissingExtraError (ImportError)   an optional extra (plot, embeddings) is missing
    ├── ArenaError                        anything that goes wrong while running battles
    │   ├── ClientError                   a request to an OpenAI-compatible endpoint failed
    │   │   └── HTTPStatusError           a status that is not retried, or retries ran out
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
from typing import TypeVar

E = TypeVar("E", bound=Enum)

__all__ = [
    "ArenaError",
    "ClientError",
    "ConvergenceError",
    "ConvergenceWarning",
    "DataWarning",
    "HTTPStatusError",
    "JudgeParseError",
    "MissingExtraError",
    "ReferenceMatchError",
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
