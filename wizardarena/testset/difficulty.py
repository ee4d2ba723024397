"""Difficulty scorers: which prompts are hard.

A difficulty scorer is any callable ``scorer(prompts) -> scores`` where ``prompts`` is a
canonical prompt DataFrame (indexed by ``prompt_id``, columns ``turns`` and ``text``) and
``scores`` is a :class:`DifficultyResult`, a Series indexed by prompt id, or an array
aligned with the rows. Higher means harder; NaN means "not scored" and is never selected.

Provided scorers:

:class:`LLMDifficulty`
    a judge model rates each prompt 0-10 (WizardArena style) through an OpenAI-compatible
    endpoint (:class:`wizardarena.endpoints.client.Client`);
:class:`CriteriaDifficulty`
    BenchBuilder's 7 criteria (Arena-Hard); score = number of criteria satisfied (0-7);
:class:`BattleDifficulty`
    from an existing battle log: prompts where strong models lose, or where the judge
    disagrees with itself across the two presentation orders.

LLM outputs are parsed strictly and fail closed: an answer without exactly one well-formed
rating becomes NaN, its raw text is kept in :attr:`DifficultyResult.raw` and it is counted
in :attr:`DifficultyResult.n_failed`; no default score is ever substituted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from wizardarena.arena.judges import Judge
from wizardarena.battles import read_battles
from wizardarena.exceptions import ValidationError
from wizardarena.progress import Progress, ProgressCallback, ProgressOption, progress_callback
from wizardarena.ratings.fit import fit
from wizardarena.ratings.options import RatingOptions

__all__ = [
    "CRITERIA",
    "BattleDifficulty",
    "CriteriaDifficulty",
    "DifficultyResult",
    "LLMDifficulty",
    "coerce_scores",
    "parse_criteria",
    "parse_rating",
]



@dataclass(frozen=True)
class DifficultyResult:
    """Scores of a difficulty scorer.

    Attributes
    ----------
    scores : Series of float, indexed by prompt_id
        NaN where a prompt could not be scored.
    raw : Series of str or None, indexed by prompt_id
        The judge's raw text (LLM scorers), kept for every prompt.
    n_failed : int
        Prompts whose answer did not parse (a subset of the NaN scores).
    details : DataFrame or None, indexed by prompt_id
        Scorer-specific columns (e.g. one boolean column per criterion, or the
        ``upset_rate`` / ``order_disagreement`` of :class:`BattleDifficulty`).
    """

    scores: pd.Series
    raw: pd.Series | None = None
    n_failed: int = 0
    details: pd.DataFrame | None = None


def coerce_scores(
    result: Any, prompts: pd.DataFrame, *, where: str = "difficulty"
) -> DifficultyResult:
    """Turn what a scorer returned into a :class:`DifficultyResult` aligned with ``prompts``.

    Raises
    ------
    ValidationError
        Wrong length, unknown prompt ids, or non-numeric scores.
    """
    index = prompts.index
    if isinstance(result, DifficultyResult):
        res = result
    elif isinstance(result, pd.Series):
        res = DifficultyResult(scores=result)
    else:
        arr = np.asarray(result)
        if arr.ndim != 1 or arr.shape[0] != len(index):
            raise ValidationError(
                f"{where} scorer must return one score per prompt ({len(index)}); "
                f"got shape {arr.shape}"
            )
        res = DifficultyResult(scores=pd.Series(arr, index=index))
    scores = res.scores
    if not isinstance(scores, pd.Series):
        raise ValidationError(
            f"{where} scores must be a pandas Series; got {type(scores).__name__}"
        )
    scores = scores.copy()
    scores.index = scores.index.astype(str)
    extra = scores.index.difference(index)
    if len(extra):
        raise ValidationError(
            f"{where} scorer returned scores for unknown prompt ids, e.g. {extra[:5].tolist()}"
        )
    try:
        values = pd.to_numeric(scores, errors="raise").astype(float)
    except (TypeError, ValueError):
        raise ValidationError(
            f"{where} scores must be numbers (NaN for unscored); got e.g. "
            f"{scores.head(3).tolist()}"
        ) from None
    aligned = values.reindex(index)
    aligned.index.name = "prompt_id"
    aligned.name = "difficulty"
    raw = res.raw.reindex(index) if res.raw is not None else None
    return DifficultyResult(
        scores=aligned, raw=raw, n_failed=int(res.n_failed), details=res.details
    )


# --------------------------------------------------------------------------- LLM scorers

LLM_DIFFICULTY_SYSTEM = (
    "You are an expert evaluator of prompts for benchmarking large language models."
)
LLM_DIFFICULTY_TEMPLATE = (
    "Rate how difficult it is for a strong AI assistant to answer the following user query "
    "well, on a scale from 0 (trivial) to 10 (extremely difficult). Consider the knowledge, "
    "multi-step reasoning, precision and creativity it requires. Give a one-sentence "
    "justification, then end with your rating in exactly this format: \"Difficulty: [[N]]\", "
    "where N is an integer from 0 to 10.\n\n"
    "[Query start]\n{query}\n[Query end]"
)

#: BenchBuilder's seven criteria (Arena-Hard, arXiv 2406.11939), as JSON keys
CRITERIA: tuple[str, ...] = (
    "specificity",
    "domain_knowledge",
    "complexity",
    "problem_solving",
    "creativity",
    "technical_accuracy",
    "real_world_application",
)

CRITERIA_SYSTEM = (
    "Your task is to evaluate how well the following input prompt can assess the "
    "capabilities of advanced AI assistants. For the input prompt, analyse it on the "
    "following 7 criteria.\n"
    "1. specificity: does the prompt ask for a specific output, such as code, a "
    "mathematical solution, a logical simplification, a problem-solving strategy, or a "
    "hardware setup recommendation? This specificity allows the AI to demonstrate its "
    "ability to understand and generate precise responses.\n"
    "2. domain_knowledge: does the prompt cover a specific domain, such as programming, "
    "mathematics, logic, problem-solving, or hardware setup? Prompts spanning a range of "
    "topics test the AI's breadth of knowledge and its ability to apply it to different "
    "domains.\n"
    "3. complexity: does the prompt vary in complexity, from straightforward tasks to more "
    "complex, multi-step problems? This allows evaluators to assess the AI's capability to "
    "handle problems of varying difficulty.\n"
    "4. problem_solving: does the prompt directly involve the AI in demonstrating active "
    "problem-solving skills, such as systematically coming up with a solution for a specific "
    "setup instead of regurgitating an existing fact?\n"
    "5. creativity: does the prompt involve a level of creativity in approaching the "
    "problem? This criterion tests the AI's ability to provide tailored solutions that take "
    "into account the user's specific needs and limitations.\n"
    "6. technical_accuracy: does the prompt require technical accuracy in the response? This "
    "allows evaluators to assess the AI's precision and correctness, essential for "
    "technical fields.\n"
    "7. real_world_application: does the prompt relate to real-world applications, such as "
    "setting up a functional system or writing code for a practical use case? This tests "
    "the AI's ability to provide practical and actionable information.\n"
    "Reply with only a JSON object whose keys are the 7 criteria names above and whose "
    "values are true or false, e.g. "
    '{"specificity": true, "domain_knowledge": false, "complexity": true, '
    '"problem_solving": true, "creativity": false, "technical_accuracy": true, '
    '"real_world_application": false}'
)
CRITERIA_TEMPLATE = "[Prompt start]\n{query}\n[Prompt end]"

_BRACKET = re.compile(r"\[\[\s*([+-]?\d+(?:\.\d+)?)\s*\]\]")
_LABELLED = re.compile(r"difficulty\s*(?:rating|score)?\s*[:=]\s*([+-]?\d+(?:\.\d+)?)", re.I)


def parse_rating(text: str, *, low: float = 0.0, high: float = 10.0) -> float:
    """Parse a 0-10 rating; NaN unless the text holds exactly one valid rating.

    The rating is read from ``[[N]]`` (every bracketed number must agree), else from
    ``Difficulty: N``; a value outside ``[low, high]`` or conflicting values give NaN.
    """
    if not isinstance(text, str):
        return float("nan")
    found = _BRACKET.findall(text) or _LABELLED.findall(text)
    values = {float(v) for v in found}
    if len(values) != 1:
        return float("nan")
    value = values.pop()
    if not low <= value <= high:
        return float("nan")
    return value


def parse_criteria(text: str) -> dict[str, bool] | None:
    """Parse the criteria JSON object; None unless all 7 keys are present with booleans."""
    if not isinstance(text, str):
        return None
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        obj = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    norm = {str(k).strip().lower().replace(" ", "_").replace("-", "_"): v for k, v in obj.items()}
    out: dict[str, bool] = {}
    for name in CRITERIA:
        v = norm.get(name)
        if not isinstance(v, bool):
            return None
        out[name] = v
    return out


def _query_text(turns: Sequence[str]) -> str:
    if len(turns) == 1:
        return str(turns[0])
    return "\n\n".join(f"[Turn {k + 1}]\n{t}" for k, t in enumerate(turns))


class _LLMScorer:
    """Shared machinery: resolve the chat function, batch the calls, report progress."""

    stage = "difficulty"

    def __init__(
        self,
        judge_or_client: Any,
        *,
        model: str | None,
        batch_size: int,
        max_tokens: int | None,
        temperature: float | None,
    ) -> None:
        client = judge_or_client
        self._judge: Judge | None = None
        if not callable(getattr(client, "chat_many", None)):
            inner = getattr(judge_or_client, "client", None)
            if inner is not None and callable(getattr(inner, "chat_many", None)):
                client = inner
                model = model or getattr(judge_or_client, "model", None)
            elif isinstance(judge_or_client, Judge):
                # an arena Judge: open a client on its endpoint(s) for each scoring run
                self._judge = judge_or_client
                model = model or judge_or_client.model
                client = None
            else:
                raise ValidationError(
                    "judge_or_client must be a wizardarena.endpoints.client.Client (with "
                    "chat_many), a wizardarena Judge, or an "
                    "object with .client and .model; got "
                    f"{type(judge_or_client).__name__}"
                )
        if batch_size < 1:
            raise ValidationError(f"batch_size must be >= 1; got {batch_size!r}")
        self.client = client
        self.model = model
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.temperature = temperature

    def _set_template(self, template: str, system: str | None) -> None:
        if "{query}" not in template:
            raise ValidationError("template must contain the placeholder {query}")
        self.template = template
        self.system = system

    def messages(self, turns: Sequence[str]) -> list[dict[str, str]]:
        """The chat messages sent for one prompt."""
        msgs = [] if self.system is None else [{"role": "system", "content": self.system}]
        content = self.template.replace("{query}", _query_text(turns))
        msgs.append({"role": "user", "content": content})
        return msgs

    def __call__(
        self, prompts: pd.DataFrame, *, progress: ProgressOption = True
    ) -> DifficultyResult:  # pragma: no cover - implemented by subclasses
        raise NotImplementedError

    def _ask(self, prompts: pd.DataFrame, progress: ProgressOption) -> list[str]:
        with progress_callback(progress) as report:
            return self._ask_all(prompts, report)

    def _ask_all(self, prompts: pd.DataFrame, progress: ProgressCallback | None) -> list[str]:
        convs = [self.messages(t) for t in prompts["turns"].tolist()]
        kwargs: dict[str, Any] = {"temperature": self.temperature}
        if self.model is not None:
            kwargs["model"] = self.model
        if self.max_tokens is not None:
            kwargs["max_tokens"] = self.max_tokens
        if progress is not None:
            progress(Progress(self.stage, 0, len(convs), unit="prompt"))
        if self._judge is not None:
            with self._judge.sync_client() as client:
                return self._ask_with(client, convs, kwargs, progress)
        return self._ask_with(self.client, convs, kwargs, progress)

    def _ask_with(self, client: Any, convs: list[list[dict[str, str]]], kwargs: dict[str, Any],
                  progress: ProgressCallback | None) -> list[str]:
        texts: list[str] = []
        total = len(convs)
        tokens = [0, 0]
        for s in range(0, total, self.batch_size):
            results = client.chat_many(convs[s : s + self.batch_size], **kwargs)
            texts.extend(r.text for r in results)
            tokens[0] += sum(r.prompt_tokens for r in results)
            tokens[1] += sum(r.completion_tokens for r in results)
            if progress is not None:
                progress(Progress(self.stage, len(texts), total, unit="prompt",
                                  prompt_tokens=tokens[0], completion_tokens=tokens[1]))
        return texts


class LLMDifficulty(_LLMScorer):
    """A judge model rates each prompt's difficulty from 0 to 10 (WizardArena style).

    Parameters
    ----------
    judge_or_client : Client, Judge or judge object
        A :class:`wizardarena.endpoints.client.Client`; the arena's
        :class:`~wizardarena.arena.judges.Judge` (each scoring run opens a client on all its
        base URLs, with its timeout, retries and breaker); or any object with ``.client`` (a
        Client) and ``.model`` (the judge model name).
    model : str, optional
        The rater model (default: the judge's / client's model).
    template : str, optional
        User message with a ``{query}`` placeholder; must ask for ``[[N]]``.
    system : str or None, optional
        System message (None to send none).
    batch_size : int, default 64
        Prompts per concurrent batch (progress is reported per batch).
    max_tokens : int or None, default 256
    temperature : float or None, default 0.0

    Notes
    -----
    Unparseable answers give NaN (fail closed): see :func:`parse_rating`.
    """

    stage = "difficulty (LLM)"

    def __init__(
        self,
        judge_or_client: Any,
        *,
        model: str | None = None,
        template: str = LLM_DIFFICULTY_TEMPLATE,
        system: str | None = LLM_DIFFICULTY_SYSTEM,
        batch_size: int = 64,
        max_tokens: int | None = 256,
        temperature: float | None = 0.0,
    ) -> None:
        super().__init__(
            judge_or_client, model=model, batch_size=batch_size, max_tokens=max_tokens,
            temperature=temperature,
        )
        self._set_template(template, system)

    def __repr__(self) -> str:
        return f"LLMDifficulty(model={self.model!r})"

    def __call__(
        self, prompts: pd.DataFrame, *, progress: ProgressOption = True
    ) -> DifficultyResult:
        """Rate every prompt; returns scores 0-10 (NaN where the answer did not parse)."""
        texts = self._ask(prompts, progress)
        scores = np.array([parse_rating(t) for t in texts], dtype=float)
        return DifficultyResult(
            scores=pd.Series(scores, index=prompts.index, name="difficulty"),
            raw=pd.Series(texts, index=prompts.index, name="difficulty_raw", dtype=object),
            n_failed=int(np.isnan(scores).sum()),
        )


class CriteriaDifficulty(_LLMScorer):
    """BenchBuilder's 7 criteria (Arena-Hard): score = number of criteria satisfied (0-7).

    The judge answers a JSON object with one boolean per criterion in :data:`CRITERIA`
    (specificity, domain knowledge, complexity, problem-solving, creativity, technical
    accuracy, real-world application). An answer missing any criterion, or not valid JSON,
    gives NaN (fail closed). ``details`` holds the booleans (missing where unparsed).

    Parameters are those of :class:`LLMDifficulty` (``template`` uses ``{query}``).
    """

    stage = "difficulty (criteria)"

    def __init__(
        self,
        judge_or_client: Any,
        *,
        model: str | None = None,
        template: str = CRITERIA_TEMPLATE,
        system: str | None = CRITERIA_SYSTEM,
        batch_size: int = 64,
        max_tokens: int | None = 256,
        temperature: float | None = 0.0,
    ) -> None:
        super().__init__(
            judge_or_client, model=model, batch_size=batch_size, max_tokens=max_tokens,
            temperature=temperature,
        )
        self._set_template(template, system)

    def __repr__(self) -> str:
        return f"CriteriaDifficulty(model={self.model!r})"

    def __call__(
        self, prompts: pd.DataFrame, *, progress: ProgressOption = True
    ) -> DifficultyResult:
        """Judge every prompt on the 7 criteria; returns the count satisfied (NaN if unparsed)."""
        texts = self._ask(prompts, progress)
        parsed = [parse_criteria(t) for t in texts]
        details = pd.DataFrame(
            {
                name: pd.array([None if p is None else p[name] for p in parsed], dtype="boolean")
                for name in CRITERIA
            },
            index=prompts.index,
        )
        scores = np.array(
            [np.nan if p is None else float(sum(p.values())) for p in parsed], dtype=float
        )
        return DifficultyResult(
            scores=pd.Series(scores, index=prompts.index, name="difficulty"),
            raw=pd.Series(texts, index=prompts.index, name="difficulty_raw", dtype=object),
            n_failed=int(np.isnan(scores).sum()),
            details=details,
        )


# --------------------------------------------------------------------------- battles


class BattleDifficulty:
    """Difficulty from an existing battle log: prompts that upset the ranking score high.

    Rule (stated exactly):

    1. Model strength ``s_m``: the given ``ratings`` (any scale where higher is stronger), or
       else the model's Bradley-Terry rating fitted on the log by the rating engine
       (``wa.rank(battles, ci="none")``, ties count one half). Not the raw win rate: in a
       baseline-only log the baseline mostly meets stronger models, and its win rate would
       rank it below models it beats.
    2. Each battle on prompt ``q`` between models of different strength has weight
       ``|s_a - s_b|`` and an *upset* value: 1 if the weaker model won, 1/2 for a tie (either
       kind), 0 if the stronger won. ``upset_rate(q)`` is the weighted mean upset over the
       prompt's battles (undefined when all its battles are between equally strong models).
    3. ``order_disagreement(q)``: among the model pairs judged more than once on ``q`` (with a
       ``game`` column: in both position orders, game 0 and game 1), the share whose
       verdicts disagree (outcomes differ once expressed from the same model's side).
    4. ``difficulty(q) = 10 * ((1 - w) * upset_rate + w * order_disagreement)`` with
       ``w = order_weight``; when only one term is defined for ``q`` it is used alone
       (``10 * term``), when neither is (or ``q`` has fewer than ``min_battles``), NaN.

    Prompts on which strong models lose to weak ones, or on which the judge contradicts itself
    across orders, therefore rank first: they are the prompts that separate models in an
    unexpected way (hard or noisy prompts). Prompt ids are matched on ``question_id``; prompts
    absent from the log get NaN (never a default).

    Parameters
    ----------
    battles : path, DataFrame, list of dict or BattleLog
        Anything :func:`~wizardarena.battles.read_battles` reads (a ``.parquet``, ``.jsonl``,
        ``.json`` or ``.csv`` file, ...) with columns ``question_id, model_a, model_b,
        winner`` (winner in ``model_a``, ``model_b``, ``tie``, ``tie (bothbad)``); optional
        ``game`` (0/1) and ``weight``.
    ratings : Series or mapping, optional
        Model strengths (e.g. Elo); every model in the log must have one.
    order_weight : float, default 0.5
        Weight ``w`` of the order-disagreement term, in [0, 1].
    min_battles : int, default 1
        Prompts with fewer battles get NaN.
    """

    def __init__(
        self,
        battles: Any,
        *,
        ratings: pd.Series | dict[str, float] | None = None,
        order_weight: float = 0.5,
        min_battles: int = 1,
    ) -> None:
        if not 0.0 <= order_weight <= 1.0:
            raise ValidationError(f"order_weight must be in [0, 1]; got {order_weight!r}")
        if min_battles < 1:
            raise ValidationError(f"min_battles must be >= 1; got {min_battles!r}")
        log = read_battles(battles)
        if not log.has_column("question_id"):
            raise ValidationError(
                "BattleDifficulty needs a 'question_id' column in the battle log"
            )
        self.log = log
        self.ratings = None if ratings is None else pd.Series(ratings, dtype=float)
        self.order_weight = float(order_weight)
        self.min_battles = int(min_battles)
        self._table = self._compute()

    def __repr__(self) -> str:
        return f"BattleDifficulty({self.log.n_battles} battles, {len(self._table)} prompts)"

    def strengths(self) -> pd.Series:
        """Model strengths used (the given ratings, or Bradley-Terry ratings of the log),
        indexed by model."""
        log = self.log
        models = pd.Index(log.models)
        if self.ratings is not None:
            missing = models.difference(self.ratings.index)
            if len(missing):
                raise ValidationError(
                    f"ratings lack models present in the battle log: {missing[:5].tolist()}"
                )
            s = self.ratings.reindex(models)
            if not np.isfinite(s.to_numpy()).all():
                raise ValidationError("ratings must be finite numbers")
            return s
        # the rating engine: Bradley-Terry, ties half a win
        result = fit(log, RatingOptions(ci="none"), stacklevel=3)
        return result.table["rating"].reindex(models).astype(float).rename("strength")

    def _compute(self) -> pd.DataFrame:
        log = self.log
        s = self.strengths().to_numpy()
        w = np.ones(log.n_battles) if log.weight is None else log.weight
        qid = log.column("question_id").astype(str).to_numpy()
        q_codes, q_names = pd.factorize(qid)
        nq = len(q_names)
        sa, sb = s[log.a], s[log.b]
        a_score = np.select([log.outcome == 0, log.outcome == 1], [1.0, 0.0], 0.5)
        gap = np.abs(sa - sb) * w
        # score of the weaker model: upset = 1 when it won
        weak_score = np.where(sa < sb, a_score, 1.0 - a_score)
        num = np.bincount(q_codes, gap * weak_score, nq)
        den = np.bincount(q_codes, gap, nq)
        with np.errstate(invalid="ignore", divide="ignore"):
            upset = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
        n_battles = np.bincount(q_codes, minlength=nq)

        # order disagreement: canonical pair (lo, hi), outcome from lo's side
        lo = np.minimum(log.a, log.b)
        hi = np.maximum(log.a, log.b)
        lo_score = np.where(log.a == lo, a_score, 1.0 - a_score)
        frame = pd.DataFrame({"q": q_codes, "lo": lo, "hi": hi, "score": lo_score})
        if log.has_column("game"):
            game = pd.to_numeric(log.column("game"), errors="coerce").to_numpy()
            bad = np.flatnonzero(~np.isin(game, [0, 1]))
            if len(bad):
                raise ValidationError(
                    f"column 'game' must be 0 or 1; rows {bad[:5].tolist()} have "
                    f"{log.column('game').to_numpy()[bad[:5]].tolist()}"
                )
            frame["game"] = game.astype(np.int64)
            grouped = frame.groupby(["q", "lo", "hi"], sort=False).agg(
                nmin=("score", "min"), nmax=("score", "max"),
                g0=("game", "min"), g1=("game", "max"),
            )
            grouped = grouped[(grouped["g0"] == 0) & (grouped["g1"] == 1)]
        else:
            grouped = frame.groupby(["q", "lo", "hi"], sort=False).agg(
                nmin=("score", "min"), nmax=("score", "max"), n=("score", "size")
            )
            grouped = grouped[grouped["n"] > 1]
        q_of_pair = grouped.index.get_level_values("q").to_numpy()
        disagree = (grouped["nmax"] > grouped["nmin"]).to_numpy().astype(float)
        pairs = np.bincount(q_of_pair, minlength=nq).astype(float)
        dis = np.bincount(q_of_pair, disagree, nq)
        with np.errstate(invalid="ignore", divide="ignore"):
            order = np.where(pairs > 0, dis / np.where(pairs > 0, pairs, 1.0), np.nan)

        wgt = self.order_weight
        both = np.isfinite(upset) & np.isfinite(order)
        score = np.where(
            both,
            10.0 * ((1 - wgt) * np.nan_to_num(upset) + wgt * np.nan_to_num(order)),
            10.0 * np.where(np.isfinite(upset), upset, order),
        )
        score[n_battles < self.min_battles] = np.nan
        return pd.DataFrame(
            {
                "difficulty": score,
                "upset_rate": upset,
                "order_disagreement": order,
                "n_battles": n_battles,
            },
            index=pd.Index(q_names.astype(str), name="prompt_id"),
        )

    @property
    def table(self) -> pd.DataFrame:
        """Per prompt in the log: ``difficulty``, ``upset_rate``, ``order_disagreement``,
        ``n_battles`` (indexed by prompt id)."""
        return self._table.copy()

    def __call__(self, prompts: pd.DataFrame) -> DifficultyResult:
        """Scores for ``prompts`` (NaN for prompts absent from the battle log)."""
        t = self._table.reindex(prompts.index.astype(str))
        t.index = prompts.index
        return DifficultyResult(
            scores=t["difficulty"].rename("difficulty"),
            details=t[["upset_rate", "order_disagreement", "n_battles"]],
        )
