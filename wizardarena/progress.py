"""Progress on long work: one event type, one callback type, one renderer (tqdm).

Every long-running entry point (:func:`wizardarena.rank` with ``judge=`` and its bootstrap,
:func:`~wizardarena.arena.runner.run_arena`, :func:`~wizardarena.arena.generate.generate_answers`,
:func:`~wizardarena.testset.testset.build_testset` and its stages,
:func:`~wizardarena.testset.decontam.decontaminate`, the flywheel's
:meth:`~wizardarena.flywheel.Flywheel.sft` and
:meth:`~wizardarena.flywheel.Flywheel.preference_pairs`) takes the same keyword::

    progress=True        # default: a tqdm.auto bar (a widget in Jupyter, a bar on a terminal)
    progress=False       # nothing (None too)
    progress=callback    # callback(event) with a Progress event, e.g. progress=events.append

:class:`Progress` is a frozen snapshot: the ``stage`` (``"judge"``, ``"answer"``,
``"bootstrap"``, ``"embed"``, ...), ``done`` of ``total`` and the counters the stage keeps
(``ok``, ``failed``, ``errors``, tokens; None when a stage does not count them).

The default renderer, :class:`ProgressBar`, draws one ``tqdm.auto`` bar per stage. Output
stays clean where nobody watches: on a terminal a bar is drawn only when standard error is a
TTY (tqdm's ``disable=None``), so CI logs, pipes and pytest's captured output get nothing;
in a notebook the bar is a widget. The bootstrap's bar appears only when it runs longer than
a second, so a quick ``wa.rank`` prints nothing. ``TQDM_DISABLE=1`` in the environment turns
every bar off (tqdm reads ``TQDM_*`` variables); ``progress=ProgressBar(disable=False)``
forces bars into a log file. On the command line ``--quiet`` turns the bars off.

This module is a leaf: it imports nothing of the package but the exceptions, and tqdm only
when a bar is first drawn.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from wizardarena.exceptions import ValidationError

__all__ = [
    "STAGE_DELAYS",
    "Progress",
    "ProgressBar",
    "ProgressCallback",
    "ProgressOption",
    "progress_callback",
]


@dataclass(frozen=True)
class Progress:
    """A snapshot of long work, passed to every ``progress`` callback.

    Attributes
    ----------
    stage : str
        What is running: ``"judge"`` (the arena's judgments), ``"answer"`` (model answers),
        ``"bootstrap"`` (rating replicates), the test-set stages (``"load"``, ``"clean"``,
        ``"embed"``, ``"cluster"``, ``"near-duplicates"``, ``"diverse"``, ``"difficulty"``
        ...), ``"decontaminate"``, ``"flywheel"``.
    done : int
        Units finished in this stage (this run: work found in a store is not counted).
    total : int or None
        Units to do in this stage (None when unknown).
    unit : str, default "it"
        What a unit is (``"judgment"``, ``"answer"``, ``"round"``, ``"prompt"`` ...).
    ok, failed, errors : int or None
        Counters of the stages that keep them (None otherwise). The arena: parsed verdicts,
        failed judgments stored (unparseable verdicts, rejected requests), requests that
        failed after retries (not stored). Answers: answered prompts, prompts with no
        answer.
    prompt_tokens, completion_tokens : int or None
        Tokens used in this run (stages that call a model).
    elapsed : float or None
        Seconds since the stage started (when the stage measures it).
    """

    stage: str
    done: int
    total: int | None
    unit: str = "it"
    ok: int | None = None
    failed: int | None = None
    errors: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    elapsed: float | None = None

    @property
    def rate(self) -> float:
        """Units per second so far (0 when ``elapsed`` is unknown or zero)."""
        return self.done / self.elapsed if self.elapsed else 0.0

    @property
    def finished(self) -> bool:
        """True when ``done`` reached a known ``total``."""
        return self.total is not None and self.done >= self.total

    def counters(self) -> dict[str, int]:
        """The counters this stage keeps, tokens summed: ``{"ok": .., "failed": ..,
        "errors": .., "tokens": ..}`` (absent ones left out)."""
        out = {k: v for k, v in (("ok", self.ok), ("failed", self.failed),
                                 ("errors", self.errors)) if v is not None}
        if self.prompt_tokens is not None or self.completion_tokens is not None:
            out["tokens"] = (self.prompt_tokens or 0) + (self.completion_tokens or 0)
        return out


#: the type of a ``progress`` callback
ProgressCallback = Callable[[Progress], None]
#: what a ``progress=`` keyword accepts
ProgressOption = bool | ProgressCallback | None

#: seconds a stage must run before its bar appears (stages not listed: at once)
STAGE_DELAYS: Mapping[str, float] = {"bootstrap": 1.0}


class ProgressBar:
    """The default renderer: one ``tqdm.auto`` bar per stage of :class:`Progress` events.

    Parameters
    ----------
    delay : float, optional
        Seconds a stage must run before its bar is drawn; default per stage from
        :data:`STAGE_DELAYS` (the bootstrap: 1 s, so quick fits draw nothing; others: at once).
    extra : callable, optional
        ``extra(event) -> mapping`` of more fields for the bar's postfix (the CLI adds the
        judge's cost).
    **tqdm_kwargs
        Passed to ``tqdm.auto.tqdm`` (e.g. ``disable=False`` to draw into a log file,
        ``file=``, ``leave=``). The default ``disable=None`` draws nothing when standard
        error is not a terminal (outside notebooks).

    Notes
    -----
    A bar closes when its stage finishes, when the next stage starts, or at :meth:`close`
    (the entry points that made the renderer call it, also on errors). Events may arrive
    from several threads.
    """

    def __init__(self, *, delay: float | None = None,
                 extra: Callable[[Progress], Mapping[str, Any]] | None = None,
                 **tqdm_kwargs: Any) -> None:
        self.delay = delay
        self.extra = extra
        self.tqdm_kwargs = {"disable": None, "leave": True, "dynamic_ncols": True,
                            **tqdm_kwargs}
        self._bar: Any = None
        self._stage: str | None = None
        self._lock = threading.Lock()

    def __call__(self, event: Progress) -> None:
        with self._lock:
            bar = self._bar
            if bar is None or event.stage != self._stage or event.done < bar.n:
                self._close()
                bar = self._open(event)
            if bar.disable:  # not a terminal: count, draw nothing, format nothing
                bar.n = event.done
                if event.finished:
                    self._close()
                return
            if event.total is not None and event.total != bar.total:
                bar.total = event.total
                bar.refresh()
            postfix = {k: f"{v:,}" for k, v in event.counters().items()}
            if self.extra is not None:
                postfix.update({k: str(v) for k, v in self.extra(event).items()})
            if postfix:
                bar.set_postfix(postfix, refresh=False)
            if event.done > bar.n:
                bar.update(event.done - bar.n)
            if event.finished:
                self._close()

    def _open(self, event: Progress) -> Any:
        from tqdm.auto import tqdm

        delay = self.delay if self.delay is not None else STAGE_DELAYS.get(event.stage, 0.0)
        self._stage = event.stage
        self._bar = tqdm(total=event.total, desc=event.stage, unit=event.unit, delay=delay,
                         **self.tqdm_kwargs)
        return self._bar

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar = None
        self._stage = None

    def close(self) -> None:
        """Close the open bar, if any."""
        with self._lock:
            self._close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_callable(progress: Any) -> None:
    if not callable(progress):
        raise ValidationError(
            "progress must be True (a progress bar), False or None (none) or a callable "
            f"taking one wizardarena.Progress event; got {type(progress).__name__}")
    try:
        sig = inspect.signature(progress)
    except (TypeError, ValueError):  # builtins without a signature: trust them
        return
    try:
        sig.bind(None)
    except TypeError:
        n = len([p for p in sig.parameters.values()
                 if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY,
                                                        p.POSITIONAL_OR_KEYWORD)])
        raise ValidationError(
            "progress must be called with one wizardarena.Progress event; got a callable "
            f"taking {n} arguments. The older (done, total, errors) and (stage, done, total) "
            "callbacks read the event's fields instead: progress=lambda p: "
            f"f(p.stage, p.done, p.total)") from None


@contextmanager
def progress_callback(progress: ProgressOption) -> Iterator[ProgressCallback | None]:
    """Resolve a ``progress=`` keyword for the duration of a call.

    ``True`` yields a :class:`ProgressBar` (closed on exit, errors included); ``False`` or
    ``None`` yield None; a callable is checked (it must accept one :class:`Progress`) and
    yielded as is.
    """
    if progress is None or progress is False:
        yield None
    elif progress is True:
        with ProgressBar() as bar:
            yield bar
    else:
        _check_callable(progress)
        try:
            yield progress
        finally:
            if isinstance(progress, ProgressBar):  # the caller's own bar: finish its stage
                progress.close()
