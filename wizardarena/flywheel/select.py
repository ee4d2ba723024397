"""Selection of a target's training data from its lost battles (see :mod:`wizardarena.flywheel`)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from wizardarena.battles import BattleSource, read_battles
from wizardarena.exceptions import DataWarning, ValidationError
from wizardarena.exceptions import parse_enum as _enum
from wizardarena.flywheel.compare import Comparison, compare
from wizardarena.flywheel.data import (
    FlywheelStats,
    TrainingData,
    export_frame,
    selection_stats,
)
from wizardarena.flywheel.guard import REMOVED_COLUMNS, guard
from wizardarena.flywheel.inputs import answers_table, flywheel_prompts
from wizardarena.flywheel.margins import DEFAULT_LABEL_MARGINS, MarginSource, target_groups
from wizardarena.flywheel.rows import Missing, export_rows
from wizardarena.flywheel.teachers import PerPrompt, Teacher, choose_teachers, ratings_series
from wizardarena.leaderboard import Leaderboard
from wizardarena.progress import Progress, ProgressCallback, ProgressOption, progress_callback

__all__ = ["Combine", "Flywheel"]


class Combine(str, Enum):
    """How the two orders of a (prompt, opponent) combine; see the module docstring."""

    BOTH = "both"
    MEAN = "mean"


class Flywheel:
    """Select a target model's training data from its lost battles.

    Parameters
    ----------
    target : str
        The model being improved.
    opponents : list of str, optional
        Models whose wins count; default every other model in the log.
    iteration : int, default 1
        Flywheel round written to the ``round`` column (see :meth:`round`).
    combine : {"both", "mean"}, default "both"
        How the two orders of a prompt combine (module docstring, step 3).
    exclude_inconsistent : bool, default True
        Drop position-inconsistent groups (counted either way).
    require_both_orders : bool, default True
        Drop groups judged in one order only (counted either way).
    margin_source : {"auto", "scores", "labels", "winner"}, default "auto"
    label_margins : mapping, optional
        Margin of each verdict label from ``model_a``'s side; default
        :data:`DEFAULT_LABEL_MARGINS`. Labels missing from it raise.
    per_prompt : {"best", "all"}, default "best"
        One example per prompt, from the teacher chosen by ``teacher``, or one per opponent.
    teacher : {"margin", "rating"}, default "margin"
        How ``per_prompt="best"`` picks the teacher (:class:`Teacher`): the largest margin,
        then the highest rating, or the highest rating, then the largest margin; then a stable
        pseudo-random pick (a hash of question id, opponent and judge), never by name.
    ratings : Leaderboard, Series or mapping, optional
        Model ratings for that choice (higher is stronger; every opponent needs one).
        Default: Bradley-Terry ratings fitted on the call's battle log by the rating engine
        (``wa.rank(battles, ci="none")``), fitted only when a choice needs them.
    missing : {"raise", "skip"}, default "raise"
        Selected battles without the answers they need (the winner's, and the target's for
        preference pairs; an answer with fewer turns than the prompt counts as missing):
        raise, as :func:`~wizardarena.arena.runner.run_arena` does, or skip them and count
        them in ``stats.summary["missing_answer"]``.
    prompts : prompts table, optional
        ``question_id`` plus ``prompt`` / ``turns`` / ``messages`` (anything
        :func:`~wizardarena.testset.prompts.normalize_prompts` reads), optionally
        ``category``, ``subset``, ``difficulty``. Can also be given per call.
    eval_prompts : prompts table, optional
        The evaluation test set; training prompts that nearly copy it are removed.
    decontam_threshold : float or None, default 0.9
        Cosine threshold of the guard; ``decontam_ngram`` (default 13) its n-gram length;
        ``embedder`` its embedder (default TF-IDF). See
        :func:`~wizardarena.testset.decontam.decontaminate`.
    conversational : bool, default True
        Preference rows as message lists (TRL conversational format) or plain strings.
    system_prompt : str, optional
        Prepended as a ``system`` message to every conversation.
    """

    def __init__(
        self,
        target: str,
        opponents: Sequence[str] | None = None,
        *,
        iteration: int = 1,
        combine: str | Combine = Combine.BOTH,
        exclude_inconsistent: bool = True,
        require_both_orders: bool = True,
        margin_source: str | MarginSource = MarginSource.AUTO,
        label_margins: Mapping[str, float] | None = None,
        per_prompt: str | PerPrompt = PerPrompt.BEST,
        teacher: str | Teacher = Teacher.MARGIN,
        ratings: Leaderboard | pd.Series | Mapping[str, float] | None = None,
        missing: str | Missing = Missing.RAISE,
        prompts: Any = None,
        eval_prompts: Any = None,
        decontam_threshold: float | None = 0.9,
        decontam_ngram: int | None = 13,
        embedder: Any = None,
        conversational: bool = True,
        system_prompt: str | None = None,
    ) -> None:
        if not isinstance(target, str) or not target.strip():
            raise ValidationError(f"target must be a model name; got {target!r}")
        if opponents is not None:
            if isinstance(opponents, str) or not all(isinstance(o, str) for o in opponents):
                raise ValidationError(f"opponents must be a list of model names; got {opponents!r}")
            if target in opponents:
                raise ValidationError(f"the target {target!r} cannot be its own opponent")
            if not opponents:
                raise ValidationError("opponents must name at least one model (or be None)")
        if not isinstance(iteration, (int, np.integer)) or iteration < 0:
            raise ValidationError(f"iteration must be an integer ≥ 0; got {iteration!r}")
        margins = dict(DEFAULT_LABEL_MARGINS if label_margins is None else label_margins)
        for k, v in margins.items():
            if not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValidationError(f"label_margins[{k!r}] must be a finite number; got {v!r}")
        self.target = target
        self.opponents = None if opponents is None else list(opponents)
        self.iteration = int(iteration)
        self.combine = _enum(Combine, combine, "combine")
        self.exclude_inconsistent = bool(exclude_inconsistent)
        self.require_both_orders = bool(require_both_orders)
        self.margin_source = _enum(MarginSource, margin_source, "margin_source")
        self.label_margins = margins
        self.per_prompt = _enum(PerPrompt, per_prompt, "per_prompt")
        self.teacher = _enum(Teacher, teacher, "teacher")
        self.ratings = ratings_series(ratings)
        self.missing = _enum(Missing, missing, "missing")
        self.prompts = prompts
        self.eval_prompts = eval_prompts
        self.decontam_threshold = decontam_threshold
        self.decontam_ngram = decontam_ngram
        self.embedder = embedder
        self.conversational = bool(conversational)
        self.system_prompt = system_prompt
        self._stats: FlywheelStats | None = None

    def __repr__(self) -> str:
        opp = "all others" if self.opponents is None else self.opponents
        return (f"Flywheel(target={self.target!r}, opponents={opp}, round={self.iteration}, "
                f"combine={self.combine.value!r})")

    # ------------------------------------------------------------------ public API
    def round(self, k: int) -> Flywheel:
        """A copy of this flywheel for round ``k`` (tags the ``round`` column)."""
        new = Flywheel.__new__(Flywheel)
        new.__dict__.update(self.__dict__)
        if not isinstance(k, (int, np.integer)) or k < 0:
            raise ValidationError(f"round must be an integer ≥ 0; got {k!r}")
        new.iteration = int(k)
        new._stats = None
        return new

    @property
    def stats(self) -> FlywheelStats:
        """Statistics of the latest :meth:`sft` or :meth:`preference_pairs` call."""
        if self._stats is None:
            raise ValidationError("no selection yet: call sft() or preference_pairs() first")
        return self._stats

    def sft(self, battles: BattleSource, answers: Any, *, margin: float = 3.0,
            prompts: Any = None, progress: ProgressOption = True) -> TrainingData:
        """SFT examples: prompts the target lost by ≥ ``margin``, answered by the winner.

        Parameters
        ----------
        battles : battle log source
            With ``question_id`` and the margin columns (``score_a``/``score_b`` or
            ``verdict``); ``judge`` and ``category`` are used when present.
        answers : DataFrame or mapping
            ``question_id, model, answer`` (answer = str, or list of assistant turns).
        margin : float, default 3.0
            Minimum combined loss margin (score points; label margins for label judges).
        prompts : prompts table, optional
            Overrides the flywheel's ``prompts``.
        progress : bool or callable, default True
            A progress bar (``True``: ``tqdm.auto``, drawn in notebooks and on terminals,
            not in logs), none (``False``), or a callable given
            :class:`~wizardarena.progress.Progress` events: stage ``"flywheel"`` (4 steps:
            games grouped, rows built, teachers chosen, guard applied) and the guard's
            ``"decontaminate"``.

        Returns
        -------
        TrainingData
            ``messages`` plus provenance columns.
        """
        return self._run("sft", battles, answers, margin, prompts, progress)

    def preference_pairs(self, battles: BattleSource, answers: Any, *, margin: float = 2.0,
                         prompts: Any = None, progress: ProgressOption = True
                         ) -> TrainingData:
        """Preference pairs (DPO, reward models): chosen = winner, rejected = the target.

        Parameters as :meth:`sft`; ``margin`` defaults to 2.0.

        Returns
        -------
        TrainingData
            ``prompt``, ``chosen``, ``rejected`` plus provenance columns.
        """
        return self._run("preference", battles, answers, margin, prompts, progress)

    def compare(self, before: Leaderboard, after: Leaderboard, *,
                rename: Mapping[str, str] | None = None, level: float | None = None
                ) -> Comparison:
        """:func:`compare` restricted to the target (``rename`` maps new → old names)."""
        return compare(before, after, models=[self.target], rename=rename, level=level)

    def _run(self, kind: str, battles: BattleSource, answers: Any, margin: float,
             prompts: Any, progress: ProgressOption) -> TrainingData:
        if not isinstance(margin, (int, float)) or not math.isfinite(margin) or margin <= 0:
            raise ValidationError(f"margin must be a positive number; got {margin!r}")
        with progress_callback(progress) as report:
            return self._select(kind, battles, answers, margin, prompts, report)

    def _select(self, kind: str, battles: BattleSource, answers: Any, margin: float,
                prompts: Any, progress: ProgressCallback | None) -> TrainingData:
        def step(done: int) -> None:
            if progress is not None:
                progress(Progress("flywheel", done, 4, unit="step"))

        step(0)
        log = read_battles(battles)
        grp, n_games = target_groups(log, self.target, self.opponents,
                                     source=self.margin_source,
                                     label_margins=self.label_margins)
        step(1)
        l1, l2 = grp["loss_1"].to_numpy(dtype=float), grp["loss_2"].to_numpy(dtype=float)
        both = np.isfinite(l1) & np.isfinite(l2)
        inconsistent = both & (grp["outcome_1"].to_numpy() != grp["outcome_2"].to_numpy())
        if self.combine is Combine.BOTH:
            loss = np.where(both, np.fmin(l1, l2), np.where(np.isfinite(l1), l1, l2))
        else:
            loss = np.where(both, (l1 + l2) / 2, np.where(np.isfinite(l1), l1, l2))
        eligible = (both | (not self.require_both_orders)) & ~(
            inconsistent & self.exclude_inconsistent)
        lost = eligible & (loss > 0)
        selected = lost & (loss >= margin)
        grp["margin"] = loss
        grp["n_games"] = both.astype(int) + 1
        grp["lost"] = lost
        grp["inconsistent"] = inconsistent
        grp["selected"] = selected

        ans = answers_table(answers)
        table = flywheel_prompts(prompts if prompts is not None else self.prompts, ans)
        cand = grp.loc[selected].reset_index(drop=True)
        cand["row"], cand["status"] = export_rows(
            kind, cand, ans, table, target=self.target, iteration=self.iteration,
            missing=self.missing, system_prompt=self.system_prompt,
            conversational=self.conversational)
        step(2)
        usable = cand.loc[cand["status"] == "ok"]
        kept, rating = choose_teachers(usable, log, per_prompt=self.per_prompt,
                                       teacher=self.teacher, ratings=self.ratings)
        step(3)
        chosen, removed = kept, pd.DataFrame(columns=list(REMOVED_COLUMNS))
        if self.eval_prompts is not None and len(kept):
            chosen, removed = guard(
                kept, table, self.eval_prompts, threshold=self.decontam_threshold,
                ngram=self.decontam_ngram, embedder=self.embedder, progress=progress)
        step(4)
        frame = export_frame(kind, chosen["row"].tolist())
        counts = cand["status"].value_counts()
        summary = pd.Series({
            "games": n_games,
            "groups": len(grp),
            "single_order": int((~both).sum()),
            "inconsistent": int(inconsistent.sum()),
            "excluded_inconsistent": int((inconsistent & self.exclude_inconsistent).sum()),
            "not_lost": int((eligible & ~lost).sum()),
            "below_margin": int((lost & ~selected).sum()),
            "selected": int(selected.sum()),
            "missing_answer": int(counts.get("missing", 0)),
            "empty_chosen": int(counts.get("empty", 0)),
            "identical_pair": int(counts.get("identical", 0)),
            "dropped_per_prompt": len(usable) - len(kept),
            "decontaminated": len(kept) - len(chosen),
            "exported": len(frame),
        }, name="count", dtype=np.int64)
        summary.index.name = "step"
        settings = {
            "kind": kind, "margin": float(margin), "margin_source": self.margin_source.value,
            "combine": self.combine.value, "require_both_orders": self.require_both_orders,
            "exclude_inconsistent": self.exclude_inconsistent,
            "per_prompt": self.per_prompt.value, "teacher": self.teacher.value,
            "missing": self.missing.value,
            "largest_margin": float(loss[lost].max()) if lost.any() else math.nan,
        }
        stats = selection_stats(grp, frame, summary, rating, settings)
        self._stats = stats
        if frame.empty:
            warnings.warn(stats.why_empty(), DataWarning, stacklevel=4)
        return TrainingData(kind=kind, frame=frame, stats=stats, removed=removed,
                            conversational=self.conversational)
