"""Selection of a target's training data from its lost battles (see :mod:`wizardarena.flywheel`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from wizardarena.battles import BattleSource, read_battles
from wizardarena.exceptions import Param, ValidationError
from wizardarena.exceptions import parse_enum as _enum
from wizardarena.flywheel.compare import Comparison, compare
from wizardarena.flywheel.data import FlywheelStats, TrainingData
from wizardarena.leaderboard import Leaderboard

__all__ = ["DEFAULT_LABEL_MARGINS", "Combine", "Flywheel", "MarginSource", "PerPrompt"]

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
    """``best``: one example per prompt (largest margin); ``all``: one per opponent."""

    BEST = "best"
    ALL = "all"



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
            prompts: Any = None) -> TrainingData:
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

        Returns
        -------
        TrainingData
            ``messages`` plus provenance columns.
        """
        return self._run("sft", battles, answers, margin, prompts)

    def preference_pairs(self, battles: BattleSource, answers: Any, *, margin: float = 2.0,
                         prompts: Any = None) -> TrainingData:
        """Preference pairs (DPO, reward models): chosen = winner, rejected = the target.

        Parameters as :meth:`sft`; ``margin`` defaults to 2.0.

        Returns
        -------
        TrainingData
            ``prompt``, ``chosen``, ``rejected`` plus provenance columns.
        """
        return self._run("preference", battles, answers, margin, prompts)

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

    def _groups(self, battles: BattleSource) -> tuple[pd.DataFrame, int]:
        log = read_battles(battles)
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
             prompts: Any) -> TrainingData:
        if not isinstance(margin, (int, float)) or not math.isfinite(margin) or margin <= 0:
            raise ValidationError(f"margin must be a positive number; got {margin!r}")
        grp, n_games = self._groups(battles)
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
        chosen = grp.loc[selected].sort_values(
            ["question_id", "margin", "opponent", "judge", "turn"],
            ascending=[True, False, True, True, False],
            kind="mergesort")
        n_selected = len(chosen)
        if self.per_prompt is PerPrompt.BEST:
            chosen = chosen.drop_duplicates("question_id", keep="first")
        dropped_per_prompt = n_selected - len(chosen)

        ans = _answers_frame(answers)
        table = _prompt_table(prompts if prompts is not None else self.prompts, ans)
        removed = pd.DataFrame(columns=["question_id", "reason", "matched_id", "similarity"])
        if self.eval_prompts is not None and len(chosen):
            chosen, removed = self._guard(chosen, table)
        frame = self._build(kind, chosen, ans, table)
        stats = self._stats_of(grp, chosen, table, n_games, dropped_per_prompt, len(removed),
                               both, inconsistent, eligible, lost, selected)
        self._stats = stats
        return TrainingData(kind=kind, frame=frame, stats=stats, removed=removed)

    def _guard(self, chosen: pd.DataFrame, table: pd.DataFrame
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
        from wizardarena.testset.decontam import decontaminate

        qids = pd.unique(chosen["question_id"])
        missing = [q for q in qids if q not in table.index]
        if missing:
            raise ValidationError(f"prompts has no text for question_id {missing[:5]}")
        train = pd.DataFrame({"question_id": qids,
                              "turns": [_turn_list(table.at[q, "turns"], f"prompt {q!r}")
                                        for q in qids]})
        res = decontaminate(train, self.eval_prompts, threshold=self.decontam_threshold,
                            ngram=self.decontam_ngram, embedder=self.embedder, rng=0)
        bad = set(np.asarray(qids)[~res.mask].tolist())
        removed = res.removed.reset_index().rename(columns={"prompt_id": "question_id"})
        keep_cols = [c for c in ("question_id", "reason", "matched_id", "similarity")
                     if c in removed.columns]
        return chosen.loc[~chosen["question_id"].isin(bad)], removed[keep_cols]

    def _build(self, kind: str, chosen: pd.DataFrame, ans: pd.DataFrame,
               table: pd.DataFrame) -> pd.DataFrame:
        system = ([{"role": "system", "content": self.system_prompt}]
                  if self.system_prompt else [])
        rows: list[dict[str, Any]] = []
        missing: list[tuple[str, str]] = []
        for g in chosen.to_dict(orient="records"):
            q, opp = str(g["question_id"]), str(g["opponent"])
            if q not in table.index:
                raise ValidationError(f"prompts has no text for question_id {q!r}")
            turns = _turn_list(table.at[q, "turns"], f"prompt {q!r}")
            win_key, lose_key = (q, opp), (q, self.target)
            need = [win_key] + ([lose_key] if kind == "preference" else [])
            absent = [k for k in need if k not in ans.index]
            if absent:
                missing.extend(absent)
                continue
            where = f"answer of {opp!r} to {q!r}"
            ctx, win_msg = _conversation(turns, _turn_list(ans.at[win_key, "answer"], where),
                                         where)
            row: dict[str, Any]
            if kind == "sft":
                row = {"messages": system + ctx + win_msg}
            else:
                where_t = f"answer of {self.target!r} to {q!r}"
                _, lose_msg = _conversation(
                    turns, _turn_list(ans.at[lose_key, "answer"], where_t), where_t)
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
            cat = g["category"]
            row.update({
                "question_id": q, "target": self.target, "opponent": opp, "judge": g["judge"],
                "margin": float(g["margin"]), "round": self.iteration,
                "n_games": int(g["n_games"]), "turn": int(g["turn"]),
                "category": None if cat is None or (isinstance(cat, float) and math.isnan(cat))
                else str(cat),
                "subset": _opt(table, q, "subset"),
                "difficulty": _opt_float(table, q, "difficulty"),
            })
            if row["category"] is None:
                row["category"] = _opt(table, q, "category")
            rows.append(row)
        if missing:
            raise ValidationError(
                f"answers has no answer for {len(missing)} selected (question_id, model) "
                f"pair(s), e.g. {missing[:5]}")
        cols = (["messages"] if kind == "sft" else ["prompt", "chosen", "rejected"]) + [
            "question_id", "target", "opponent", "judge", "margin", "round", "n_games",
            "turn", "category", "subset", "difficulty"]
        return pd.DataFrame(rows, columns=cols)

    def _stats_of(self, grp: pd.DataFrame, chosen: pd.DataFrame, table: pd.DataFrame,
                  n_games: int, dropped: int, n_removed: int, both: np.ndarray,
                  inconsistent: np.ndarray, eligible: np.ndarray, lost: np.ndarray,
                  selected: np.ndarray) -> FlywheelStats:
        excl_inc = int((inconsistent & self.exclude_inconsistent).sum())
        summary = pd.Series({
            "games": n_games,
            "groups": len(grp),
            "single_order": int((~both).sum()),
            "inconsistent": int(inconsistent.sum()),
            "excluded_inconsistent": excl_inc,
            "not_lost": int((eligible & ~lost).sum()),
            "below_margin": int((lost & ~selected).sum()),
            "selected": int(selected.sum()),
            "dropped_per_prompt": dropped,
            "decontaminated": int(len(grp.loc[selected]) - dropped - len(chosen)),
            "exported": len(chosen),
        }, name="count", dtype=np.int64)
        summary.index.name = "step"
        del n_removed  # the guard reports prompts; the summary counts examples
        by = grp.groupby("opponent", sort=True)
        exported = chosen.groupby("opponent")["margin"]
        by_opp = pd.DataFrame({
            "groups": by.size(),
            "inconsistent": by["inconsistent"].sum().astype(np.int64),
            "lost": by["lost"].sum().astype(np.int64),
            "selected": by["selected"].sum().astype(np.int64),
        })
        by_opp["exported"] = exported.size().reindex(by_opp.index, fill_value=0).astype(np.int64)
        by_opp["mean_margin"] = exported.mean().reindex(by_opp.index)
        by_opp.index.name = "opponent"
        q = chosen["question_id"].astype(str)
        diff = (pd.to_numeric(table["difficulty"], errors="coerce").reindex(q).to_numpy()
                if "difficulty" in table.columns else np.full(len(q), np.nan))
        cat = chosen["category"].to_numpy(dtype=object)
        if "category" in table.columns:
            fill = table["category"].reindex(q).to_numpy(dtype=object)
            cat = np.where(pd.isna(cat), fill, cat)
        parts = {}
        for name, values in (("category", cat),
                             ("subset", table["subset"].reindex(q).to_numpy(dtype=object)
                              if "subset" in table.columns else None)):
            if values is None or pd.isna(values).all():
                parts[name] = pd.DataFrame({"exported": pd.Series(dtype=np.int64),
                                            "mean_difficulty": pd.Series(dtype=float)})
                parts[name].index.name = name
                continue
            t = pd.DataFrame({name: pd.Series(values).fillna("(none)").astype(str),
                              "difficulty": diff})
            g = t.groupby(name)
            parts[name] = pd.DataFrame({"exported": g.size().astype(np.int64),
                                        "mean_difficulty": g["difficulty"].mean()})
        return FlywheelStats(summary=summary, by_opponent=by_opp,
                             by_category=parts["category"], by_subset=parts["subset"])


def _opt(table: pd.DataFrame, q: str, col: str) -> str | None:
    if col not in table.columns:
        return None
    v = table.at[q, col]
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def _opt_float(table: pd.DataFrame, q: str, col: str) -> float | None:
    if col not in table.columns:
        return None
    v = pd.to_numeric(pd.Series([table.at[q, col]]), errors="coerce").iloc[0]
    return None if pd.isna(v) else float(v)


