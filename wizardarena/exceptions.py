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
        └── ReferenceFetchError           downloading a reference board failed (network, HTTP)

Warnings::

    WizardArenaWarning (UserWarning)
    ├── RidgeWarning                         some models are only finite thanks to the ridge
    ├── ConvergenceWarning                   a solver stopped at its iteration limit
    └── DataWarning                          input was accepted but something deserves attention

Errors speak the interface the user is in. A message that tells the user which argument to
change names it with :class:`Param` instead of spelling ``name=value`` into the text::

    raise ValidationError("the prompts are unknown: pass ", Param("prompts", ""), " (a test set)")

``str(exc)`` renders it in Python terms (``pass prompts= (a test set)``); the command line
renders the same error with :meth:`WizardArenaError.render` and its flags
(``pass --prompts (a test set)``), so there is one message and no per-message translation.
"""

from __future__ import annotations

import ast
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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
    "Param",
    "ReferenceFetchError",
    "ReferenceMatchError",
    "RequestRejectedError",
    "RidgeWarning",
    "StoreError",
    "ValidationError",
    "WizardArenaError",
    "WizardArenaWarning",
    "missing_extra",
    "parse_enum",
    "render_parts",
]


@dataclass(frozen=True)
class Param:
    """An argument named inside an error message, rendered in the user's interface.

    Parameters
    ----------
    name : str
        The Python keyword argument (``"aliases"``, ``"outcomes"``).
    value : str, optional
        An example value in Python syntax (``"'ab'"``, ``"{'GPT 4': 'gpt-4-0314'}"``): the
        Python form is then ``name=value`` (``name=`` for ``""``); without it, the bare
        ``name`` (for "``ci`` must be one of ...").
    cli : str, optional
        The same example on the command line (``"'GPT 4=gpt-4-0314'"``); by default derived
        from ``value`` when that is a plain literal (``'ab'`` -> ``ab``), else omitted.
    """

    name: str
    value: str | None = None
    cli: str | None = None

    def python(self) -> str:
        """``name=value``, or ``name`` without a value."""
        return self.name if self.value is None else f"{self.name}={self.value}"

    def command_line(self, flag: str) -> str:
        """``--flag value`` (or ``--flag``)."""
        value = self.cli if self.cli is not None else _cli_literal(self.value)
        return f"{flag} {value}" if value else flag

    def render(self, flags: Mapping[str, str] | None = None) -> str:
        """The command-line form when ``flags`` maps this keyword to a flag, else Python."""
        if flags is not None and self.name in flags:
            return self.command_line(flags[self.name])
        return self.python()


def render_parts(parts: Iterable[object], flags: Mapping[str, str] | None = None) -> str:
    """Text and :class:`Param` references joined into one message, each ``Param`` in Python
    terms, or as its flag when ``flags`` (``{keyword: "--flag"}``) names it. Errors, warnings
    and reports that tell the user which option to change all render through this."""
    return "".join(p.render(flags) if isinstance(p, Param) else str(p) for p in parts)


def _cli_literal(value: str | None) -> str | None:
    """``"'ab'"`` -> ``ab``; ``"3"`` -> ``3``; anything that is not a plain literal -> None."""
    if value is None:
        return None
    try:
        v = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return None
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        return None
    return shlex.quote(str(v))


class WizardArenaError(Exception):
    """Base class of every error raised by wizardarena.

    Parameters
    ----------
    *parts : str or Param
        The message: text and :class:`Param` references, concatenated. ``str(exc)`` (and
        ``exc.args[0]``) is the message in Python terms; :meth:`render` renders it for
        another interface.
    """

    def __init__(self, *parts: object) -> None:
        self.parts: tuple[object, ...] = parts
        super().__init__(self.render())

    def render(self, flags: Mapping[str, str] | None = None) -> str:
        """The message with every :class:`Param` rendered through ``flags``
        (``{keyword: "--flag"}``; keywords not in it stay in Python terms)."""
        return render_parts(self.parts, flags)

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled with its attributes, not through ``__init__`` (whose signature differs
        # between subclasses): errors raised in a Ray actor or task reach the driver whole
        return (_rebuild_error, (type(self), self.args, self.__dict__))


def _rebuild_error(cls: type[WizardArenaError], args: tuple[Any, ...],
                   state: dict[str, Any]) -> WizardArenaError:
    """Unpickle a :class:`WizardArenaError` (see ``WizardArenaError.__reduce__``)."""
    exc = cls.__new__(cls)
    Exception.__init__(exc, *args)
    exc.__dict__.update(state)
    return exc


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


class ReferenceFetchError(ReferenceMatchError):
    """Downloading a reference leaderboard failed: the network, a timeout, or an HTTP status.

    A subclass of :class:`ReferenceMatchError` so that existing handlers keep working, but
    catchable on its own: a retry may help here, never with a malformed or ambiguous board.

    Attributes
    ----------
    url : str
    status_code : int or None
        The HTTP status, None when no response arrived.
    """

    def __init__(self, *parts: object, url: str = "", status_code: int | None = None) -> None:
        self.url = url
        self.status_code = status_code
        super().__init__(*parts)


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
        raise ValidationError(
            Param(name), f" must be one of {allowed}; got {value!r}"
        ) from None


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
