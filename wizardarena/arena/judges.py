"""Judge templates, judge prompts and verdict parsing (pure; no I/O).

Built-in templates (:data:`TEMPLATES`):

- ``"wizardarena"``: the judge scores each answer from 1 to 10 and ends with ``[[X/Y]]``
  (X = assistant A's score); the higher score wins, equal scores are a tie (Arena Learning,
  arXiv 2407.10627). The raw ``verdict`` is ``"X/Y"`` and ``score_a``/``score_b`` are kept.
- ``"arena-hard"``: five labels ``[[A>>B]]``, ``[[A>B]]``, ``[[A=B]]``, ``[[B>A]]``,
  ``[[B>>A]]`` (Arena-Hard-Auto, arXiv 2406.11939).
- ``"mt-bench"``: ``[[A]]``, ``[[B]]`` or ``[[C]]`` (tie), FastChat's ``pair-v2`` prompts
  (Zheng et al. 2023, arXiv 2306.05685).

User templates: :class:`Template` with a system prompt, a user prompt with the placeholders
``{question}``, ``{answer_a}``, ``{answer_b}`` (single turn) and optionally a multi-turn user
prompt with ``{conversation_a}``, ``{conversation_b}``, plus a verdict format (one of the
built-in :class:`VerdictFormat` values, or your own callable ``text -> Verdict`` that raises
:class:`~wizardarena.exceptions.JudgeParseError`).

Parsing fails closed: no verdict, or two different verdicts in one output, raises
:class:`~wizardarena.exceptions.JudgeParseError`; nothing defaults to a tie. Only the judge's
output is parsed, so an answer containing ``[[A]]`` cannot steer its own result.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from wizardarena.battles.schema import LABELS, WINNER_LABELS, Outcome, Vocabulary
from wizardarena.endpoints import (
    DEFAULT_MAX_RESPONSE_BYTES,
    AsyncClient,
    Client,
    check_base_urls,
    check_client_options,
)
from wizardarena.exceptions import JudgeParseError, ValidationError

__all__ = [
    "ARENA_HARD",
    "MT_BENCH",
    "TEMPLATES",
    "WIZARDARENA",
    "Judge",
    "Template",
    "Verdict",
    "VerdictFormat",
    "Winner",
    "build_messages",
    "get_template",
    "parse_verdict",
]


class Winner(str, Enum):
    """The judge's verdict as a battle-log ``winner`` label (one per :class:`Outcome`, from
    :data:`~wizardarena.battles.schema.WINNER_LABELS`)."""

    MODEL_A = WINNER_LABELS[Outcome.A]
    MODEL_B = WINNER_LABELS[Outcome.B]
    TIE = WINNER_LABELS[Outcome.TIE]
    TIE_BOTHBAD = WINNER_LABELS[Outcome.TIE_BOTHBAD]


class VerdictFormat(str, Enum):
    """Built-in verdict formats."""

    WIZARDARENA = "wizardarena"
    ARENA_HARD = "arena-hard"
    MT_BENCH = "mt-bench"


@dataclass(frozen=True)
class Verdict:
    """A parsed judgment.

    Attributes
    ----------
    winner : Winner
        Relative to the order shown to the judge (``model_a`` = first slot).
    verdict : str
        The raw label: ``"A>>B"``, ``"C"``, ``"8/6"``, ...
    score_a, score_b : float
        Scores for score judges (WizardArena 1-10); NaN otherwise.
    """

    winner: Winner
    verdict: str
    score_a: float = math.nan
    score_b: float = math.nan


Parser = Callable[[str], Verdict]

_AH_RE = re.compile(r"\[\[\s*([AB][<>=]{1,2}[AB])\s*\]\]")
#: the five labels the Arena-Hard template asks for, with their outcome from the one label
#: table (a log may also spell a tie ``B=A``; a judge that writes it fails closed)
_AH_LABELS = {lab: Winner(WINNER_LABELS[out])
              for lab, (out, _) in LABELS[Vocabulary.ARENA_HARD].items() if lab != "B=A"}
_MT_RE = re.compile(r"\[\[\s*([ABC])\s*\]\]")
_MT_LABELS = {"A": Winner.MODEL_A, "B": Winner.MODEL_B, "C": Winner.TIE}
_WA_RE = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*\]\]")


def _cut(text: str) -> str:
    return text if len(text) <= 120 else f"{text[:60]}...{text[-50:]}"


def _parse_arena_hard(text: str) -> Verdict:
    found = {m.replace(" ", "") for m in _AH_RE.findall(text)}
    if len(found) != 1:
        what = "no [[A>>B]]-style label" if not found else f"conflicting labels {sorted(found)}"
        raise JudgeParseError(f"arena-hard verdict not found: {what} in {_cut(text)!r}")
    label = found.pop()
    if label not in _AH_LABELS:
        raise JudgeParseError(
            f"arena-hard verdict must be one of {sorted(_AH_LABELS)}; got [[{label}]]"
        )
    return Verdict(_AH_LABELS[label], label)


def _parse_mt_bench(text: str) -> Verdict:
    found = set(_MT_RE.findall(text))
    if len(found) != 1:
        what = "no [[A]]/[[B]]/[[C]]" if not found else f"conflicting labels {sorted(found)}"
        raise JudgeParseError(f"mt-bench verdict not found: {what} in {_cut(text)!r}")
    label = found.pop()
    return Verdict(_MT_LABELS[label], label)


def _parse_wizardarena(text: str) -> Verdict:
    found = {(float(a), float(b)) for a, b in _WA_RE.findall(text)}
    if len(found) != 1:
        what = "no [[X/Y]] scores" if not found else f"conflicting scores {sorted(found)}"
        raise JudgeParseError(f"wizardarena verdict not found: {what} in {_cut(text)!r}")
    sa, sb = found.pop()
    if not (1.0 <= sa <= 10.0 and 1.0 <= sb <= 10.0):
        raise JudgeParseError(f"wizardarena scores must be within 1..10; got [[{sa:g}/{sb:g}]]")
    winner = Winner.MODEL_A if sa > sb else Winner.MODEL_B if sb > sa else Winner.TIE
    return Verdict(winner, f"{sa:g}/{sb:g}", sa, sb)


_PARSERS: dict[VerdictFormat, Parser] = {
    VerdictFormat.WIZARDARENA: _parse_wizardarena,
    VerdictFormat.ARENA_HARD: _parse_arena_hard,
    VerdictFormat.MT_BENCH: _parse_mt_bench,
}


def parse_verdict(text: str | None, fmt: VerdictFormat | str | Parser) -> Verdict:
    """Parse a judge's output.

    Parameters
    ----------
    text : str or None
        The judge's output only (never the prompt).
    fmt : VerdictFormat, its value, or callable
        The verdict format; a callable ``text -> Verdict`` is used as is.

    Returns
    -------
    Verdict

    Raises
    ------
    JudgeParseError
        Empty text, no verdict, or conflicting verdicts.
    """
    if not text or not text.strip():
        raise JudgeParseError("the judge returned an empty output")
    if callable(fmt) and not isinstance(fmt, VerdictFormat):
        out = fmt(text)
        if not isinstance(out, Verdict):
            raise JudgeParseError(
                f"a custom verdict parser must return a Verdict; got {type(out).__name__}"
            )
        return out
    return _PARSERS[_format(fmt)](text)


def _format(fmt: VerdictFormat | str) -> VerdictFormat:
    try:
        return VerdictFormat(fmt)
    except ValueError:
        raise ValidationError(
            f"verdict format must be one of {[f.value for f in VerdictFormat]} or a callable; "
            f"got {fmt!r}"
        ) from None


_PLACEHOLDER = re.compile(r"\{(question|answer_a|answer_b|conversation_a|conversation_b)\}")


@dataclass(frozen=True)
class Template:
    """A pairwise judge template.

    Parameters
    ----------
    name : str
        Recorded in the battle log's ``template`` column.
    system : str
        System prompt (may be empty).
    prompt : str
        Single-turn user prompt with ``{question}``, ``{answer_a}``, ``{answer_b}``.
    verdict_format : VerdictFormat, str or callable
        How the judge's output is parsed (see :func:`parse_verdict`).
    multi_turn_prompt : str, optional
        User prompt for turn >= 2 with ``{conversation_a}``, ``{conversation_b}``; the
        default shows each conversation as ``### User:`` / ``### Assistant X:`` blocks.
    multi_turn_system : str, optional
        System prompt for turn >= 2 (default: ``system``).
    """

    name: str
    system: str
    prompt: str
    verdict_format: VerdictFormat | str | Parser
    multi_turn_prompt: str | None = None
    multi_turn_system: str | None = None
    hash: str = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValidationError(f"Template.name must be a non-empty str; got {self.name!r}")
        missing = [p for p in ("{question}", "{answer_a}", "{answer_b}") if p not in self.prompt]
        if missing:
            raise ValidationError(
                f"Template {self.name!r}: prompt must contain {missing} "
                "(placeholders {question}, {answer_a}, {answer_b})"
            )
        if self.multi_turn_prompt is not None:
            miss = [p for p in ("{conversation_a}", "{conversation_b}")
                    if p not in self.multi_turn_prompt]
            if miss:
                raise ValidationError(
                    f"Template {self.name!r}: multi_turn_prompt must contain {miss}"
                )
        fmt = self.verdict_format
        if isinstance(fmt, str) and not isinstance(fmt, VerdictFormat):
            object.__setattr__(self, "verdict_format", _format(fmt))
        elif not isinstance(fmt, VerdictFormat) and not callable(fmt):
            raise ValidationError(
                f"Template {self.name!r}: verdict_format must be a VerdictFormat or callable"
            )
        fmt = self.verdict_format
        fmt_id = (fmt.value if isinstance(fmt, VerdictFormat)
                  else f"{getattr(fmt, '__module__', '')}.{getattr(fmt, '__qualname__', fmt)}")
        blob = json.dumps([self.name, self.system, self.prompt, self.multi_turn_prompt,
                           self.multi_turn_system, fmt_id])
        object.__setattr__(self, "hash", hashlib.sha256(blob.encode()).hexdigest()[:16])

    def parse(self, text: str | None) -> Verdict:
        """Parse a judge output with this template's verdict format."""
        return parse_verdict(text, self.verdict_format)


_JUDGE_INTRO = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by "
    "two AI assistants to the user question displayed below. You should choose the assistant "
    "that follows the user's instructions and answers the user's question better. Your "
    "evaluation should consider factors such as the helpfulness, relevance, accuracy, depth, "
    "creativity, and level of detail of their responses. Begin your evaluation by comparing "
    "the two responses and provide a short explanation. Avoid any position biases and ensure "
    "that the order in which the responses were presented does not influence your decision. "
    "Do not allow the length of the responses to influence your evaluation. Do not favor "
    "certain names of the assistants. Be as objective as possible. "
)
_MULTI_FOCUS = "You should focus on who provides a better answer to the last user question. "

_PAIR_PROMPT = (
    "[User Question]\n{question}\n\n[The Start of Assistant A's Answer]\n{answer_a}\n"
    "[The End of Assistant A's Answer]\n\n[The Start of Assistant B's Answer]\n{answer_b}\n"
    "[The End of Assistant B's Answer]"
)
_MULTI_PROMPT = (
    "<|The Start of Assistant A's Conversation with User|>\n\n{conversation_a}\n\n"
    "<|The End of Assistant A's Conversation with User|>\n\n\n"
    "<|The Start of Assistant B's Conversation with User|>\n\n{conversation_b}\n\n"
    "<|The End of Assistant B's Conversation with User|>"
)

_WA_TAIL = (
    "Score each response on a scale of 1 to 10, where a higher score indicates better "
    "overall performance. After providing your explanation, output your final scores by "
    'strictly following this format: "[[X/Y]]", where X is the score of Assistant A and Y is '
    'the score of Assistant B, for example "[[7/5]]".'
)
_MT_TAIL = (
    "After providing your explanation, output your final verdict by strictly following this "
    'format: "[[A]]" if assistant A is better, "[[B]]" if assistant B is better, and "[[C]]" '
    "for a tie."
)
_AH_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by "
    "two AI assistants to the user prompt displayed below. You will be given assistant A's "
    "answer and assistant B's answer. Your job is to evaluate which assistant's answer is "
    "better.\n\nBegin your evaluation by generating your own answer to the prompt. You must "
    "provide your answers before judging any answers.\n\nWhen evaluating the assistants' "
    "answers, compare both assistants' answers with your answer. You must identify and correct "
    "any mistakes or inaccurate information.\n\nThen consider if the assistant's answers are "
    "helpful, relevant, and concise. Then consider the creativity and novelty of the "
    "assistant's answers when needed. Finally, identify any missing important information in "
    "the assistants' answers that would be beneficial to include when responding to the user "
    "prompt.\n\nAfter providing your explanation, you must output only one of the following "
    "choices as your final verdict with a label:\n\n1. Assistant A is significantly better: "
    "[[A>>B]]\n2. Assistant A is slightly better: [[A>B]]\n3. Tie, relatively the same: "
    "[[A=B]]\n4. Assistant B is slightly better: [[B>A]]\n5. Assistant B is significantly "
    'better: [[B>>A]]\n\nExample output: "My final verdict is tie: [[A=B]]".'
)
_AH_PROMPT = (
    "<|User Prompt|>\n{question}\n\n<|The Start of Assistant A's Answer|>\n{answer_a}\n"
    "<|The End of Assistant A's Answer|>\n\n<|The Start of Assistant B's Answer|>\n{answer_b}\n"
    "<|The End of Assistant B's Answer|>"
)

WIZARDARENA = Template(
    "wizardarena", _JUDGE_INTRO + _WA_TAIL, _PAIR_PROMPT, VerdictFormat.WIZARDARENA,
    _MULTI_PROMPT, _JUDGE_INTRO + _MULTI_FOCUS + _WA_TAIL,
)
ARENA_HARD = Template(
    "arena-hard", _AH_SYSTEM, _AH_PROMPT, VerdictFormat.ARENA_HARD, _MULTI_PROMPT,
    _AH_SYSTEM + "\n\nJudge the answers to the last user prompt of the conversations.",
)
MT_BENCH = Template(
    "mt-bench", _JUDGE_INTRO + _MT_TAIL, _PAIR_PROMPT, VerdictFormat.MT_BENCH, _MULTI_PROMPT,
    _JUDGE_INTRO + _MULTI_FOCUS + _MT_TAIL,
)

#: built-in templates by name
TEMPLATES: Mapping[str, Template] = {t.name: t for t in (WIZARDARENA, ARENA_HARD, MT_BENCH)}


def get_template(template: str | Template) -> Template:
    """Return a :class:`Template` from a built-in name or a template (as is)."""
    if isinstance(template, Template):
        return template
    if isinstance(template, str) and template in TEMPLATES:
        return TEMPLATES[template]
    raise ValidationError(
        f"template must be one of {sorted(TEMPLATES)} or a Template; got {template!r}"
    )


def _fill(pattern: str, values: Mapping[str, str]) -> str:
    # one pass over the pattern: text inside the values is never re-scanned
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), pattern)


def build_messages(
    template: Template,
    questions: Sequence[str],
    answers_a: Sequence[str],
    answers_b: Sequence[str],
    *,
    turn: int | None = None,
) -> list[dict[str, str]]:
    """Build the judge's chat messages for one comparison.

    Parameters
    ----------
    template : Template
    questions : sequence of str
        User turns (length T >= 1).
    answers_a, answers_b : sequence of str
        Each assistant's answers to those turns (length >= ``turn``); A is shown first.
    turn : int, optional
        1-based turn to judge (default: the last, T). Turn 1 uses the single-turn prompt;
        later turns use the multi-turn prompt with the conversation up to ``turn``.

    Returns
    -------
    list of dict
        ``[{"role": "system", ...}, {"role": "user", ...}]`` (no system message if empty).
    """
    t = len(questions) if turn is None else turn
    if not (1 <= t <= len(questions)) or len(answers_a) < t or len(answers_b) < t:
        raise ValidationError(
            f"turn must be within 1..{len(questions)} and both answers must have >= turn "
            f"turns; got turn={t}, {len(answers_a)} and {len(answers_b)} answer turns"
        )
    if t == 1:
        system = template.system
        user = _fill(template.prompt, {"question": questions[0], "answer_a": answers_a[0],
                                       "answer_b": answers_b[0]})
    else:
        system = template.multi_turn_system if template.multi_turn_system is not None \
            else template.system
        pattern = template.multi_turn_prompt or _MULTI_PROMPT

        def conv(ans: Sequence[str], who: str) -> str:
            return "\n\n".join(f"### User:\n{questions[i]}\n\n### Assistant {who}:\n{ans[i]}"
                               for i in range(t))

        user = _fill(pattern, {"conversation_a": conv(answers_a, "A"),
                               "conversation_b": conv(answers_b, "B")})
    msgs = [{"role": "system", "content": system}] if system else []
    msgs.append({"role": "user", "content": user})
    return msgs


def _no_userinfo(url: object) -> object:
    """A URL without ``user:password@`` (for messages and ``repr``)."""
    return re.sub(r"//[^/@]*@", "//***@", url) if isinstance(url, str) else url


class Judge:
    """An LLM judge behind an OpenAI-compatible endpoint.

    Parameters
    ----------
    base_url : str or sequence of str
        API root including ``/v1`` (vLLM ``http://localhost:8000/v1``, Ollama
        ``http://localhost:11434/v1``, OpenAI ``https://api.openai.com/v1``); or a list of
        API roots serving the same judge model (several vLLM servers), between which the
        requests are spread: each goes to the server with the fewest in flight, and a
        server that stops answering is left out (see :mod:`wizardarena.endpoints.client`).
        :attr:`base_urls` holds them all, :attr:`base_url` the first.
    model : str
        The judge model name; recorded in the battle log's ``judge`` column.
    template : {"wizardarena", "arena-hard", "mt-bench"} or Template, default "wizardarena"
    api_key_env : str or None, default "OPENAI_API_KEY"
        Environment variable holding the API key (read by the client, never stored).
    temperature : float, default 0.0
    max_tokens : int, default 1024
    timeout : float, default 120.0
        Seconds per HTTP attempt (CLI ``--timeout``).
    max_retries : int, default 6
        Retries of a transient failure (CLI ``--max-retries``).
    breaker_seconds : float or None, default 10.0
        Stop the run when no connection to the endpoint could be made for this long (CLI
        ``--breaker-seconds``; 0 or None: never).
    max_response_bytes : int, default 16777216 (16 MiB)
        Cap on one response body; a longer one is cut and retried as a transient failure
        (CLI ``--max-response-bytes``).
    extra_params : mapping, optional
        Extra request fields (``seed``, ``top_p``, ...).
    """

    def __init__(
        self,
        base_url: str | Sequence[str],
        model: str,
        template: str | Template = "wizardarena",
        *,
        api_key_env: str | None = "OPENAI_API_KEY",
        temperature: float = 0.0,
        max_tokens: int = 1024,
        timeout: float = 120.0,
        max_retries: int = 6,
        breaker_seconds: float | None = 10.0,
        extra_params: Mapping[str, Any] | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        check_client_options(timeout=timeout, max_retries=max_retries,
                             breaker_seconds=breaker_seconds,
                             max_response_bytes=max_response_bytes)
        if not isinstance(model, str) or not model:
            raise ValidationError(f"model must be a non-empty str; got {model!r}")
        self.base_urls: tuple[str, ...] = check_base_urls(base_url, flag="--judge-url")
        self.base_url = base_url if isinstance(base_url, str) else self.base_urls[0]
        self.model = model
        self.template = get_template(template)
        self.api_key_env = api_key_env
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.max_retries = max_retries
        self.breaker_seconds = breaker_seconds
        self.max_response_bytes = max_response_bytes
        self.extra_params = dict(extra_params or {})

    def __repr__(self) -> str:
        urls = (_no_userinfo(self.base_url) if len(self.base_urls) == 1
                else [_no_userinfo(u) for u in self.base_urls])
        return (f"Judge(base_url={urls!r}, model={self.model!r}, "
                f"template={self.template.name!r})")

    def async_client(self, concurrency: int = 16) -> AsyncClient:
        """An :class:`~wizardarena.endpoints.AsyncClient` on this judge's endpoint(s),
        with its key variable, timeout, retries and breaker, and ``concurrency`` requests in
        flight (close it with ``await client.aclose()``)."""
        return AsyncClient(self.base_urls, model=self.model, api_key_env=self.api_key_env,
                           timeout=self.timeout, concurrency=concurrency,
                           max_retries=self.max_retries, breaker_seconds=self.breaker_seconds,
                           max_response_bytes=self.max_response_bytes)

    def sync_client(self, concurrency: int = 16) -> Client:
        """The synchronous :class:`~wizardarena.endpoints.Client` counterpart of
        :meth:`async_client` (close it, or use it as a context manager)."""
        return Client(self.base_urls, model=self.model, api_key_env=self.api_key_env,
                      timeout=self.timeout, concurrency=concurrency,
                      max_retries=self.max_retries, breaker_seconds=self.breaker_seconds,
                           max_response_bytes=self.max_response_bytes)

    def messages(
        self, questions: Sequence[str], answer_a: Sequence[str], answer_b: Sequence[str],
        *, turn: int | None = None,
    ) -> list[dict[str, str]]:
        """The judge's messages (see :func:`build_messages`)."""
        return build_messages(self.template, questions, answer_a, answer_b, turn=turn)

    def parse(self, text: str | None) -> Verdict:
        """Parse a judge output (fails closed with JudgeParseError)."""
        return self.template.parse(text)
