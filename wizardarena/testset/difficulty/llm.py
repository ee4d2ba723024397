"""LLM difficulty scorers: a judge model rates each prompt through the endpoints layer.

:class:`LLMDifficulty` (a 0-10 rating, WizardArena style) and :class:`CriteriaDifficulty`
(BenchBuilder's 7 criteria) share :class:`LLMScorer`: the chat calls go through a
:class:`wizardarena.endpoints.Client` (the one given, or one opened on a
:class:`~wizardarena.arena.judges.Judge`'s endpoints for each run). Answers are parsed
strictly and fail closed.
"""

from __future__ import annotations

import abc
import json
import re
from collections.abc import Sequence
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from wizardarena.arena.judges import Judge
from wizardarena.exceptions import ValidationError
from wizardarena.progress import Progress, ProgressCallback, ProgressOption, progress_callback
from wizardarena.testset.difficulty.result import DifficultyResult

__all__ = [
    "CRITERIA",
    "CRITERIA_SYSTEM",
    "CRITERIA_TEMPLATE",
    "DEFAULT",
    "LLM_DIFFICULTY_SYSTEM",
    "LLM_DIFFICULTY_TEMPLATE",
    "CriteriaDifficulty",
    "Default",
    "LLMDifficulty",
    "LLMScorer",
    "parse_criteria",
    "parse_rating",
]


class Default(Enum):
    """The type of :data:`DEFAULT`."""

    DEFAULT = "default"


#: ``system=DEFAULT``: the scorer's own system message (``None`` sends none)
DEFAULT = Default.DEFAULT


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


class LLMScorer(abc.ABC):
    """A judge model scores each prompt: the machinery shared by :class:`LLMDifficulty` and
    :class:`CriteriaDifficulty` (resolve the client, batch the calls, report progress).

    Parameters are those of :class:`LLMDifficulty`; ``template`` and ``system`` default to
    the subclass's :attr:`default_template` and :attr:`default_system`.
    """

    stage = "difficulty"
    #: the user message (with ``{query}``) and system message a subclass sends by default
    default_template = "{query}"
    default_system: str | None = None

    def __init__(
        self,
        judge_or_client: Any,
        *,
        model: str | None = None,
        template: str | None = None,
        system: str | Default | None = DEFAULT,
        batch_size: int = 64,
        max_tokens: int | None = 256,
        temperature: float | None = 0.0,
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
                    "judge_or_client must be a wizardarena.endpoints.Client (with "
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
        template = self.default_template if template is None else template
        if "{query}" not in template:
            raise ValidationError("template must contain the placeholder {query}")
        self.template = template
        self.system = self.default_system if isinstance(system, Default) else system

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"

    @staticmethod
    def _result(prompts: pd.DataFrame, texts: list[str], scores: Sequence[float],
                details: pd.DataFrame | None = None) -> DifficultyResult:
        """The result of a scoring run: scores (NaN where an answer did not parse) and the
        raw answers, by prompt."""
        values = np.asarray(scores, dtype=float)
        return DifficultyResult(
            scores=pd.Series(values, index=prompts.index, name="difficulty"),
            raw=pd.Series(texts, index=prompts.index, name="difficulty_raw", dtype=object),
            n_failed=int(np.isnan(values).sum()),
            details=details,
        )

    def messages(self, turns: Sequence[str]) -> list[dict[str, str]]:
        """The chat messages sent for one prompt."""
        msgs = [] if self.system is None else [{"role": "system", "content": self.system}]
        content = self.template.replace("{query}", _query_text(turns))
        msgs.append({"role": "user", "content": content})
        return msgs

    def __call__(
        self, prompts: pd.DataFrame, *, progress: ProgressOption = True
    ) -> DifficultyResult:
        """Ask the judge about every prompt and score its answers (NaN where an answer does
        not parse: fail closed)."""
        return self.score(prompts, self._ask(prompts, progress))

    @abc.abstractmethod
    def score(self, prompts: pd.DataFrame, texts: list[str]) -> DifficultyResult:
        """The result from the judge's answers ``texts`` (one per row of ``prompts``)."""

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


class LLMDifficulty(LLMScorer):
    """A judge model rates each prompt's difficulty from 0 to 10 (WizardArena style).

    Parameters
    ----------
    judge_or_client : Client, Judge or judge object
        A :class:`wizardarena.endpoints.Client`; the arena's
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

    default_template = LLM_DIFFICULTY_TEMPLATE
    default_system = LLM_DIFFICULTY_SYSTEM

    def score(self, prompts: pd.DataFrame, texts: list[str]) -> DifficultyResult:
        """Scores 0-10 from the judge's ratings (NaN where an answer did not parse)."""
        return self._result(prompts, texts, [parse_rating(t) for t in texts])


class CriteriaDifficulty(LLMScorer):
    """BenchBuilder's 7 criteria (Arena-Hard): score = number of criteria satisfied (0-7).

    The judge answers a JSON object with one boolean per criterion in :data:`CRITERIA`
    (specificity, domain knowledge, complexity, problem-solving, creativity, technical
    accuracy, real-world application). An answer missing any criterion, or not valid JSON,
    gives NaN (fail closed). ``details`` holds the booleans (missing where unparsed).

    Parameters are those of :class:`LLMDifficulty` (``template`` uses ``{query}``).
    """

    stage = "difficulty (criteria)"

    default_template = CRITERIA_TEMPLATE
    default_system = CRITERIA_SYSTEM

    def score(self, prompts: pd.DataFrame, texts: list[str]) -> DifficultyResult:
        """The number of the 7 criteria each prompt satisfies (NaN if unparsed)."""
        parsed = [parse_criteria(t) for t in texts]
        details = pd.DataFrame(
            {
                name: pd.array([None if p is None else p[name] for p in parsed], dtype="boolean")
                for name in CRITERIA
            },
            index=prompts.index,
        )
        scores = [np.nan if p is None else float(sum(p.values())) for p in parsed]
        return self._result(prompts, texts, scores, details)
