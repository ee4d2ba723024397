"""Selection of a target's training data from its lost battles (see :mod:`wizardarena.flywheel`)."""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from wizardarena.battles import BattleLog, BattleSource, read_battles
from wizardarena.exceptions import DataWarning, Param, RidgeWarning, ValidationError
from wizardarena.exceptions import parse_enum as _enum
from wizardarena.flywheel.compare import Comparison, compare
from wizardarena.flywheel.data import PROVENANCE, FlywheelStats, TrainingData
from wizardarena.leaderboard import Leaderboard
from wizardarena.progress import Progress, ProgressCallback, ProgressOption, progress_callback

__all__ = ["DEFAULT_LABEL_MARGINS", "Combine", "Flywheel", "MarginSource", "Missing",
           "PerPrompt", "Teacher"]

#: margin of each judge label from ``model_a``'s side (Arena-Hard and MT-Bench labels)
DEFAULT_LABEL_MARGINS: Mapping[str, float] = {
    "A>>B": 3.0, "A>B": 1.0, "A=B": 0.0, "B=A": 0.0, "B>A": -1.0, "B>>A": -3.0,
    "A": 1.0, "B": -1.0, "C": 0.0,
}

_SIDE = {"model_a": 1, "model_b": -1, "tie": 0, "tie (bothbad)": 0}


class Combine(str, Enum):
    """How the two orders of a (prompt, opponent) combine; see the module docstring."""

    BOTH = "both"
    MEAN = "mean"


class MarginSource(str, Enum):
    """Where a game's margin comes from.

    ``auto`` uses the scores when both are present, else the verdict label; ``scores``,
    ``labels`` and ``winner`` force one source (``winner``: ±1, tie 0).
    """

    AUTO = "auto"
    SCORES = "scores"
    LABELS = "labels"
    WINNER = "winner"


class PerPrompt(str, Enum):
    """``best``: one example per prompt (the teacher chosen by :class:`Teacher`); ``all``:
    one per opponent."""

    BEST = "best"
    ALL = "all"


class Teacher(str, Enum):
    """How ``per_prompt="best"`` chooses among the opponents that beat the target on a prompt.

    ``margin``: the largest loss margin, then the highest rating; ``rating``: the highest
    rating, then the largest margin. Remaining ties (equal margin and rating) go to a stable
    pseudo-random pick per prompt (a hash of question id, opponent and judge), never to the
    order of the names.
    """

    MARGIN = "margin"
    RATING = "rating"


class Missing(str, Enum):
    """Selected battles whose answers are missing: ``raise`` (default, as ``run_arena``) or
    ``skip`` them and count them (``missing_answer``)."""

    RAISE = "raise"
    SKIP = "skip"


# --------------------------------------------------------------------------- inputs


def _answers_frame(answers: Any) -> pd.DataFrame:
    """Answers → DataFrame indexed by (question_id, model) with an ``answer`` column.

    Accepts a DataFrame ``question_id, model, answer``, a mapping
    ``{(question_id, model): answer}``, or anything the arena reads
    (:func:`wizardarena.arena.answers.answers_frame`: ``{model: {question_id: answer}}``,
    a path to answer files, Arena-Hard / MT-Bench / AlpacaEval records).
    """
    if isinstance(answers, Mapping) and answers and all(
            isinstance(k, tuple) and len(k) == 2 for k in answers):
        keys = list(answers)
        frame = pd.DataFrame({"question_id": [k[0] for k in keys],
                              "model": [k[1] for k in keys], "answer": list(answers.values())})
    elif isinstance(answers, pd.DataFrame) and {"question_id", "model"} <= set(answers.columns):
        frame = answers.reset_index(drop=True)
    else:
        from wizardarena.arena.answers import answers_frame

        frame = answers_frame(answers)
    missing = [c for c in ("question_id", "model") if c not in frame.columns]
    if missing or not ({"answer", "turns"} & set(frame.columns)):
        raise ValidationError(
            "answers must have columns question_id, model and answer (str or list of turns) "
            f"or turns (list of assistant turns); found {list(frame.columns)}")
    if "turns" in frame.columns:  # the arena's canonical answers frame: all assistant turns
        frame = frame.drop(columns=[c for c in ("answer",) if c in frame.columns]).rename(
            columns={"turns": "answer"})
    frame = frame.assign(question_id=frame["question_id"].astype(str),
                         model=frame["model"].astype(str))
    dup = frame.duplicated(["question_id", "model"])
    if dup.any():
        rows = np.flatnonzero(dup.to_numpy())[:5]
        raise ValidationError(
            "answers has more than one answer per (question_id, model) at rows "
            f"{rows.tolist()}: {frame.loc[rows, ['question_id', 'model']].values.tolist()}")
    return frame.set_index(["question_id", "model"])


def _prompt_table(prompts: Any, answers: pd.DataFrame) -> pd.DataFrame:
    """question_id → turns (list of str) plus optional category / subset / difficulty."""
    from wizardarena.testset.prompts import normalize_prompts

    if prompts is not None:
        if isinstance(prompts, pd.DataFrame) and prompts.index.name in (
                "question_id", "prompt_id", "uid"):
            prompts = prompts.reset_index()
        table = normalize_prompts(prompts)
        table.index = table.index.astype(str)
        # normalize_prompts keeps a test set's own columns under an input_ prefix
        back = {f"input_{c}": c for c in ("subset", "difficulty", "category")
                if f"input_{c}" in table.columns and c not in table.columns}
        return table.rename(columns=back)
    if "prompt" in answers.columns:
        first = answers["prompt"].groupby(level="question_id").first()
        return normalize_prompts(pd.DataFrame({"question_id": first.index,
                                               "prompt": first.to_numpy()}))
    raise ValidationError(
        "the prompts are unknown: pass ", Param("prompts", "...", cli="FILE"),
        " (question_id + prompt/turns/messages, e.g. the test set or the training pool) or "
        "give answers a 'prompt' column")


def _turn_list(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple, np.ndarray)) and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    raise ValidationError(f"{where} must be a str or a list of str; got {str(value)[:60]!r}")


Messages = list[dict[str, str]]


def _conversation(turns: list[str], answer: list[str], where: str) -> tuple[Messages, Messages]:
    """Interleave user turns and assistant turns: (all but the last answer, the last answer)."""
    if len(turns) != len(answer):
        raise ValidationError(
            f"{where}: the prompt has {len(turns)} user turn(s) but the answer has "
            f"{len(answer)} assistant turn(s)")
    msgs: list[dict[str, str]] = []
    for u, a in zip(turns, answer):
        msgs += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
    return msgs[:-1], msgs[-1:]


# --------------------------------------------------------------------------- the flywheel


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
        self.ratings = _ratings_series(ratings)
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

    # ------------------------------------------------------------------ selection
    def _margins(self, f: pd.DataFrame) -> np.ndarray:
        """Signed margin of each game from model_a's side, checked against ``winner``."""
        n = len(f)
        has_scores = "score_a" in f.columns and "score_b" in f.columns
        sa = (pd.to_numeric(f["score_a"], errors="coerce").to_numpy(dtype=float)
              if has_scores else np.full(n, np.nan))
        sb = (pd.to_numeric(f["score_b"], errors="coerce").to_numpy(dtype=float)
              if has_scores else np.full(n, np.nan))
        scored = np.isfinite(sa) & np.isfinite(sb)
        side = f["winner"].map(_SIDE).to_numpy(dtype=float)
        src = self.margin_source
        margin = np.full(n, np.nan)
        if src is MarginSource.WINNER:
            return side
        use_scores = scored if src is MarginSource.AUTO else (
            np.ones(n, dtype=bool) if src is MarginSource.SCORES else np.zeros(n, dtype=bool))
        if src is MarginSource.SCORES and not scored.all():
            bad = np.flatnonzero(~scored)[:5]
            raise ValidationError(
                "margin_source='scores' needs numeric score_a and score_b in every game of the "
                f"target; games at rows {f.index[bad].tolist()} lack them")
        margin[use_scores] = sa[use_scores] - sb[use_scores]
        need = ~use_scores
        if need.any():
            if "verdict" not in f.columns:
                bad = np.flatnonzero(need)[:5]
                raise ValidationError(
                    "games without scores need a 'verdict' column with judge labels "
                    f"(rows {f.index[bad].tolist()}); or use margin_source='winner'")
            labels = f["verdict"].to_numpy(dtype=object)[need]
            keys = [str(v).strip().removeprefix("[[").removesuffix("]]").strip()
                    if isinstance(v, str) else None for v in labels]
            vals = np.array([self.label_margins.get(k, np.nan) if k is not None else np.nan
                             for k in keys])
            unknown = np.flatnonzero(np.isnan(vals))
            if unknown.size:
                rows = f.index[np.flatnonzero(need)[unknown[:5]]].tolist()
                raise ValidationError(
                    f"verdict labels must be one of {sorted(self.label_margins)} (label_margins) "
                    f"when scores are absent; rows {rows} have "
                    f"{[labels[i] for i in unknown[:5]]}")
            margin[need] = vals
        wrong = np.flatnonzero(np.sign(margin) != side)
        if wrong.size:
            rows = f.index[wrong[:5]].tolist()
            raise ValidationError(
                "the margin disagrees with the winner column at rows "
                f"{rows}: winner {f['winner'].iloc[wrong[:5]].tolist()}, margin "
                f"{margin[wrong[:5]].tolist()} (model_a's side); fix the log or the "
                "label_margins")
        return margin

    def _groups(self, log: BattleLog) -> tuple[pd.DataFrame, int]:
        if not log.has_column("question_id"):
            raise ValidationError("the battle log needs a question_id column for the flywheel")
        if self.target not in log.models:
            raise ValidationError(
                f"target {self.target!r} does not appear in the battle log; models: "
                f"{list(log.models)[:20]}")
        if self.opponents is not None:
            absent = [o for o in self.opponents if o not in log.models]
            if absent:
                raise ValidationError(f"opponents {absent} do not appear in the battle log")
        f = log.to_frame()
        t = self.target
        first = (f["model_a"] == t).to_numpy()
        mine = first | (f["model_b"] == t).to_numpy()
        opponent = np.where(first, f["model_b"], f["model_a"])
        if self.opponents is not None:
            mine &= np.isin(opponent, self.opponents)
        f = f.loc[mine]
        first, opponent = first[mine], opponent[mine]
        if f.empty:
            raise ValidationError(f"the battle log has no games of {t!r} against the opponents")
        if f["question_id"].isna().any():
            rows = f.index[f["question_id"].isna().to_numpy()][:5].tolist()
            raise ValidationError(f"column 'question_id' has missing values at rows {rows}")
        m_t = np.where(first, 1.0, -1.0) * self._margins(f)
        games = pd.DataFrame({
            "question_id": f["question_id"].astype(str).to_numpy(),
            "opponent": opponent.astype(str),
            "judge": (f["judge"].astype(str).to_numpy() if "judge" in f.columns else ""),
            "first": first,
            "loss": -m_t,
            "outcome": np.sign(m_t),
            "turn": (pd.to_numeric(f["turn"]).fillna(1).astype(np.int64).to_numpy()
                     if "turn" in f.columns else 1),
            "category": (f["category"].to_numpy(dtype=object) if "category" in f.columns
                         else None),
        })
        key = ["question_id", "opponent", "judge", "turn"]
        dup = games.duplicated([*key, "first"], keep=False)
        if dup.any():
            rows = f.index[dup.to_numpy()][:6].tolist()
            raise ValidationError(
                "each (question_id, opponent, judge, turn) must have at most one game per order; "
                f"rows {rows} repeat one (deduplicate the log or split it by turn)")
        one = games[games["first"]].set_index(key)
        two = games[~games["first"]].set_index(key)
        cols = ["loss", "outcome", "category"]
        grp = one[cols].add_suffix("_1").join(two[cols].add_suffix("_2"), how="outer")
        grp["category"] = grp["category_1"].where(grp["category_1"].notna(), grp["category_2"])
        return grp.reset_index(), len(games)

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
        grp, n_games = self._groups(log)
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

        ans = _answers_frame(answers)
        table = _prompt_table(prompts if prompts is not None else self.prompts, ans)
        cand = grp.loc[selected].reset_index(drop=True)
        cand["row"], cand["status"] = self._rows(kind, cand, ans, table)
        step(2)
        usable = cand.loc[cand["status"] == "ok"]
        kept, rating = self._per_prompt(usable, log)
        step(3)
        chosen, removed = kept, pd.DataFrame(
            columns=["question_id", "reason", "matched_id", "similarity"])
        if self.eval_prompts is not None and len(kept):
            chosen, removed = self._guard(kept, table, progress)
        step(4)
        cols = (["messages"] if kind == "sft" else ["prompt", "chosen", "rejected"]) + [
            name for name, _ in PROVENANCE]
        frame = pd.DataFrame(chosen["row"].tolist(), columns=cols).astype(
            {name: t for name, t in PROVENANCE if t != "string"})
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
        stats = _stats_of(grp, frame, summary, rating, settings)
        self._stats = stats
        if frame.empty:
            warnings.warn(stats.why_empty(), DataWarning, stacklevel=4)
        return TrainingData(kind=kind, frame=frame, stats=stats, removed=removed,
                            conversational=self.conversational)

    def _per_prompt(self, usable: pd.DataFrame, log: BattleLog
                    ) -> tuple[pd.DataFrame, pd.Series | None]:
        """One teacher per prompt (``best``) or every opponent (``all``), sorted by prompt.

        Returns the kept groups and the ratings that chose between teachers (None when no
        choice needed ratings).
        """
        q = usable["question_id"]
        rating: pd.Series | None = None
        if self.per_prompt is PerPrompt.BEST:
            if self.teacher is Teacher.MARGIN:
                top = usable["margin"] == usable.groupby("question_id")["margin"].transform("max")
                contested = top.groupby(q).sum() > 1
            else:
                contested = q.value_counts() > 1
            if contested.any():
                rating = self._teacher_ratings(log, usable["opponent"].unique().tolist())
        r = (usable["opponent"].map(rating) if rating is not None
             else pd.Series(np.nan, index=usable.index))
        order = pd.DataFrame({
            "q": q, "m": -usable["margin"], "r": -r.astype(float),
            "turn": -usable["turn"],
            "tie": [_stable_hash(a, b, c) for a, b, c in
                    zip(q, usable["opponent"], usable["judge"])],
        }, index=usable.index)
        keys = ["q", "m", "r"] if self.teacher is Teacher.MARGIN else ["q", "r", "m"]
        kept = usable.loc[order.sort_values([*keys, "turn", "tie"], kind="mergesort").index]
        if self.per_prompt is PerPrompt.BEST:
            kept = kept.drop_duplicates("question_id", keep="first")
        return kept, rating

    def _teacher_ratings(self, log: BattleLog, opponents: Sequence[str]) -> pd.Series:
        """The given ratings, or Bradley-Terry ratings of the log from the rating engine.

        Only their order matters here. Models without a finite maximum-likelihood rating
        (undefeated, winless) are held finite by the engine's ridge, which keeps them at the
        top or the bottom of that order, so its RidgeWarning is not repeated; any other
        warning of the fit is.
        """
        if self.ratings is not None:
            lack = [o for o in opponents if o not in self.ratings.index]
            if lack:
                raise ValidationError(
                    f"ratings has no rating for opponents {sorted(lack)[:10]}; give every "
                    "opponent a rating, or leave ratings=None to fit them from the battle log")
            return self.ratings
        from wizardarena.api import rank

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            board = rank(log, ci="none", progress=False)
        for w in caught:
            if issubclass(w.category, RidgeWarning):
                continue
            warnings.warn(f"flywheel teacher ratings (wa.rank(battles, ci='none')): "
                          f"{w.message}", w.category, stacklevel=6)
        return board.table["rating"].astype(float)

    def _guard(self, chosen: pd.DataFrame, table: pd.DataFrame,
               progress: ProgressCallback | None) -> tuple[pd.DataFrame, pd.DataFrame]:
        from wizardarena.testset.decontam import decontaminate

        qids = pd.unique(chosen["question_id"])
        train = pd.DataFrame({"question_id": qids,
                              "turns": [_turn_list(table.at[q, "turns"], f"prompt {q!r}")
                                        for q in qids]})
        res = decontaminate(train, self.eval_prompts, threshold=self.decontam_threshold,
                            ngram=self.decontam_ngram, embedder=self.embedder, rng=0,
                            progress=progress if progress is not None else False)
        bad = set(np.asarray(qids)[~res.mask].tolist())
        removed = res.removed.reset_index().rename(columns={"prompt_id": "question_id"})
        keep_cols = [c for c in ("question_id", "reason", "matched_id", "similarity")
                     if c in removed.columns]
        return chosen.loc[~chosen["question_id"].isin(bad)], removed[keep_cols]

    def _rows(self, kind: str, cand: pd.DataFrame, ans: pd.DataFrame, table: pd.DataFrame
              ) -> tuple[list[dict[str, Any] | None], list[str]]:
        """The export row of every selected group, and its status: ``ok``, ``missing``
        (answers absent or with too few turns), ``empty`` (the winner's answer is empty) or
        ``identical`` (chosen == rejected)."""
        system = ([{"role": "system", "content": self.system_prompt}]
                  if self.system_prompt else [])
        rows: list[dict[str, Any] | None] = []
        status: list[str] = []
        missing: list[tuple[str, str]] = []
        for g in cand.to_dict(orient="records"):
            q, opp = str(g["question_id"]), str(g["opponent"])
            if q not in table.index:
                raise ValidationError(f"prompts has no text for question_id {q!r}")
            turns = _turn_list(table.at[q, "turns"], f"prompt {q!r}")
            keys = [(q, opp)] + ([(q, self.target)] if kind == "preference" else [])
            texts = []
            for key in keys:
                where = f"answer of {key[1]!r} to {q!r}"
                value = ans.at[key, "answer"] if key in ans.index else None
                text = None if _absent(value) else _turn_list(value, where)
                if text is None or (self.missing is Missing.SKIP and len(text) < len(turns)):
                    missing.append(key)
                    break
                texts.append(_conversation(turns, text, where))
            if len(texts) < len(keys):
                rows.append(None)
                status.append("missing")
                continue
            ctx, win_msg = texts[0]
            row: dict[str, Any]
            if kind == "sft":
                row = {"messages": system + ctx + win_msg}
            else:
                lose_msg = texts[1][1]
                prompt = system + ctx
                if self.conversational:
                    row = {"prompt": prompt, "chosen": win_msg, "rejected": lose_msg}
                else:
                    if len(turns) > 1 or system:
                        raise ValidationError(
                            "conversational=False writes plain strings and needs single-turn "
                            f"prompts without a system prompt; {q!r} has {len(turns)} turns")
                    row = {"prompt": turns[0], "chosen": win_msg[0]["content"],
                           "rejected": lose_msg[0]["content"]}
            chosen_text = win_msg[0]["content"].strip()
            if not chosen_text:
                state = "empty"
            elif kind == "preference" and chosen_text == texts[1][1][0]["content"].strip():
                state = "identical"
            else:
                state = "ok"
            cat = g["category"]
            category = "" if _absent(cat) else str(cat)
            row.update({
                "question_id": q, "target": self.target, "opponent": opp, "judge": g["judge"],
                "margin": float(g["margin"]), "round": self.iteration,
                "n_games": int(g["n_games"]), "turn": int(g["turn"]),
                "category": category or _opt(table, q, "category"),
                "subset": _opt(table, q, "subset"),
                "difficulty": _opt_float(table, q, "difficulty"),
            })
            rows.append(row)
            status.append(state)
        if missing and self.missing is Missing.RAISE:
            raise ValidationError(
                f"answers has no answer for {len(missing)} selected (question_id, model) "
                f"pair(s), e.g. {missing[:5]}; pass ", Param("missing", "'skip'", cli=""),
                " to skip those battles (counted in stats.summary['missing_answer'])")
        return rows, status


def _stats_of(grp: pd.DataFrame, frame: pd.DataFrame, summary: pd.Series,
              rating: pd.Series | None, settings: dict[str, Any]) -> FlywheelStats:
    by = grp.groupby("opponent", sort=True)
    exported = frame.groupby("opponent")["margin"]
    by_opp = pd.DataFrame({
        "groups": by.size(),
        "inconsistent": by["inconsistent"].sum().astype(np.int64),
        "lost": by["lost"].sum().astype(np.int64),
        "selected": by["selected"].sum().astype(np.int64),
    })
    by_opp["exported"] = exported.size().reindex(by_opp.index, fill_value=0).astype(np.int64)
    by_opp["mean_margin"] = exported.mean().reindex(by_opp.index)
    by_opp["rating"] = (rating.reindex(by_opp.index).astype(float) if rating is not None
                        else np.nan)
    by_opp.index.name = "opponent"
    parts = {}
    for name in ("category", "subset"):
        values = frame[name].astype(str)
        if (values == "").all():
            parts[name] = pd.DataFrame({"exported": pd.Series(dtype=np.int64),
                                        "mean_difficulty": pd.Series(dtype=float)})
            parts[name].index.name = name
            continue
        t = pd.DataFrame({name: values.replace("", "(none)"),
                          "difficulty": frame["difficulty"].to_numpy(dtype=float)})
        g = t.groupby(name)
        parts[name] = pd.DataFrame({"exported": g.size().astype(np.int64),
                                    "mean_difficulty": g["difficulty"].mean()})
    return FlywheelStats(summary=summary, by_opponent=by_opp, by_category=parts["category"],
                         by_subset=parts["subset"], settings=settings)


def _ratings_series(ratings: Any) -> pd.Series | None:
    if ratings is None:
        return None
    if isinstance(ratings, Leaderboard):
        s = ratings.table["rating"].dropna()  # a model the board could not rate has none
    elif isinstance(ratings, (pd.Series, Mapping)):
        s = pd.Series(ratings)
    else:
        raise ValidationError("ratings must be a Leaderboard, a Series or a mapping of model "
                              f"to rating; got {type(ratings).__name__}")
    values = pd.to_numeric(s, errors="coerce").astype(float)
    bad = values.index[~np.isfinite(values.to_numpy())].tolist()
    if bad:
        raise ValidationError(f"ratings must be finite numbers; models {bad[:5]} have "
                              f"{s.loc[bad[:5]].tolist()}")
    values.index = values.index.astype(str)
    return values


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _stable_hash(*parts: object) -> int:
    """A reproducible pseudo-random integer of ``parts`` (independent of name order)."""
    text = "\x00".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def _opt(table: pd.DataFrame, q: str, col: str) -> str:
    if col not in table.columns:
        return ""
    v = table.at[q, col]
    return "" if _absent(v) else str(v)


def _opt_float(table: pd.DataFrame, q: str, col: str) -> float:
    if col not in table.columns:
        return math.nan
    v = pd.to_numeric(pd.Series([table.at[q, col]]), errors="coerce").iloc[0]
    return math.nan if pd.isna(v) else float(v)
