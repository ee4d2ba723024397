"""Model names taken apart for :mod:`~wizardarena.agreement.matching` (pure, no I/O).

A name is split into normalized tokens, then into its parts: an organisation as first word,
hub / format / provider suffixes, API tags, a date (in any of the spellings leaderboards use),
sizes and ``v``-versions, and the core words. The matching rules compare those parts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

__all__ = ["HUB_TAGS", "ORGANISATIONS", "normalize_name"]

#: organisation names dropped as the first word of a name (rule ``org``)
ORGANISATIONS: frozenset[str] = frozenset(
    {
        "ai21", "ai21labs", "alibaba", "allenai", "amazon", "anthropic", "bigcode", "c4ai",
        "cohere", "cohereforai", "databricks", "google", "huggingfaceh4", "ibm", "lmsys",
        "meta", "microsoft", "mistralai", "mosaicml", "nexusflow", "nousresearch", "nvidia",
        "openai", "stabilityai", "thudm", "tiiuae", "togethercomputer", "upstage", "xai",
        "zhipuai",
    }
)
_ORG_PAIRS: frozenset[tuple[str, str]] = frozenset({("deepseek", "ai"), ("01", "ai"), ("x", "ai")})

#: hub, format and quantisation suffixes (rule ``hub``; one side only, or equal)
HUB_TAGS: frozenset[str] = frozenset(
    {
        "hf", "gguf", "ggml", "awq", "gptq", "exl2", "mlx", "onnx", "int4", "int8", "fp8",
        "bf16", "fp16", "fp32", "4bit", "8bit",
    }
)
#: providers serving a model, as a trailing word or ``@provider`` (dropped by rule ``hub``)
_PROVIDERS: frozenset[str] = frozenset(
    {
        "together", "togetherai", "fireworks", "anyscale", "groq", "deepinfra", "openrouter",
        "replicate", "bedrock", "vertex", "azure", "octoai",
    }
)
#: API tags (rule ``undated``; one side only, or equal)
_API_TAGS: frozenset[str] = frozenset({"api", "preview", "latest"})
#: spellings of one word (rule ``compact``)
_SYNONYMS: dict[tuple[str, ...], str] = {
    ("openassistant",): "oasst",
    ("open", "assistant"): "oasst",
}

_SEP = re.compile(r"[\s_:,;|+]+|-+")
_BRACKETS = re.compile(r"[()\[\]{}]")
_VERSION = re.compile(r"^v(\d+(?:\.\d+)*)$")
_SIZE = re.compile(r"^(?:\d+(?:\.\d+)?[bmt]|\d+x\d+(?:\.\d+)?b|a\d+(?:\.\d+)?b)$")
_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        ["jan january", "feb february", "mar march", "apr april", "may", "jun june",
         "jul july", "aug august", "sep sept september", "oct october", "nov november",
         "dec december"]
    )
    for m in names.split()
}
_MM = r"(0[1-9]|1[0-2])"
_DD = r"(0[1-9]|[12]\d|3[01])"

Date = tuple[int | None, int | None, int | None]  # year, month, day; None = not given


def normalize_name(name: str) -> str:
    """Canonical form of a model name used by the ``normalized`` rule.

    Lower case; an organisation before the last ``/`` or ``__`` is dropped
    (``Nexusflow__Athene-70B``, ``meta-llama/Llama-2-70b-chat-hf``); brackets are removed;
    runs of spaces, underscores, colons and dashes become one ``-``; a version token
    ``v1.3`` becomes ``1.3``.

    >>> normalize_name("Nexusflow__Athene-70B")
    'athene-70b'
    >>> normalize_name("Vicuna v1.3 (13B)")
    'vicuna-1.3-13b'
    """
    return "-".join(t for t, _ in name_tokens(name))


def name_tokens(name: str) -> list[tuple[str, bool]]:
    """Normalized tokens, each with whether it was written as a ``v``-version."""
    s = str(name).strip().lower()
    s = s.rsplit("/", 1)[-1]
    s = s.rsplit("__", 1)[-1]
    s = _BRACKETS.sub(" ", s)
    out = []
    for t in _SEP.split(s):
        if not t:
            continue
        m = _VERSION.fullmatch(t)
        out.append((m.group(1), True) if m else (t, False))
    return out


def _number(t: str) -> str:
    """``2.0`` -> ``2``, ``1.10`` stays, ``0.1`` stays (trailing ``.0`` groups dropped)."""
    if re.fullmatch(r"\d+(?:\.\d+)+", t):
        while t.endswith(".0"):
            t = t[:-2]
    return t


def _date_at(tokens: list[str], k: int) -> tuple[Date, int] | None:
    """A date starting at ``tokens[k]`` (never the first token): (date, tokens used)."""
    t = tokens[k]
    nxt = tokens[k + 1] if k + 1 < len(tokens) else ""
    nxt2 = tokens[k + 2] if k + 2 < len(tokens) else ""
    if m := re.fullmatch(rf"(20\d\d){_MM}{_DD}", t):
        return (int(m[1]), int(m[2]), int(m[3])), 1
    if re.fullmatch(r"20\d\d", t):
        if re.fullmatch(_MM, nxt) and re.fullmatch(_DD, nxt2):
            return (int(t), int(nxt), int(nxt2)), 3
        if re.fullmatch(_MM, nxt):
            return (int(t), int(nxt), None), 2
    if re.fullmatch(_MM, t):
        if re.fullmatch(r"20\d\d", nxt):
            return (int(nxt), int(t), None), 2
        if re.fullmatch(_DD, nxt):
            return (None, int(t), int(nxt)), 2
    if t in _MONTHS and re.fullmatch(r"\d{2}|\d{4}", nxt):
        return ((int(nxt) if len(nxt) == 4 else None), _MONTHS[t], None), 2
    if m := re.fullmatch(rf"(2[3-9]){_MM}{_DD}", t):  # YYMMDD
        return (2000 + int(m[1]), int(m[2]), int(m[3])), 1
    if m := re.fullmatch(rf"(20[23]\d){_MM}", t):  # YYYYMM
        return (int(m[1]), int(m[2]), None), 1
    if m := re.fullmatch(rf"{_MM}{_DD}", t):  # MMDD
        return (None, int(m[1]), int(m[2])), 1
    if m := re.fullmatch(rf"(2[3-9]){_MM}", t):  # YYMM
        return (2000 + int(m[1]), int(m[2]), None), 1
    return None


def dates_agree(a: Date | None, b: Date | None) -> bool:
    """Whether two release dates agree where both give a part (year, month, day)."""
    if a is None or b is None:
        return True
    return all(x is None or y is None or x == y for x, y in zip(a, b))


def _org_len(toks: Sequence[str]) -> int:
    """How many leading words of ``toks`` name an organisation (0, 1, or 2 for a pair such as
    ``deepseek ai``); a name is never all organisation."""
    if len(toks) > 2 and (toks[0], toks[1]) in _ORG_PAIRS:
        return 2
    if len(toks) > 1 and toks[0] in ORGANISATIONS:
        return 1
    return 0


def one_sided(a: frozenset[str] | tuple[str, ...], b: frozenset[str] | tuple[str, ...]) -> bool:
    """Whether two name parts agree: equal, or one of them is absent."""
    return a == b or not a or not b


@dataclass(frozen=True)
class NameParts:
    """One model name taken apart: organisation, family words, sizes, versions, date."""

    raw: str
    tokens: tuple[str, ...]  # normalized tokens, synonyms applied, '2.0' -> '2'
    core: tuple[str, ...]  # without organisation, hub / provider / API tags and date
    versions: tuple[str, ...]  # v-versions in core
    sizes: tuple[str, ...]  # size tokens in core, sorted
    hub: frozenset[str]
    api: frozenset[str]
    date: Date | None

    @classmethod
    def parse(cls, raw: str) -> NameParts:
        text, at, provider = str(raw).strip().partition("@")  # model@provider
        pairs = name_tokens(text)
        toks = [_number(t) for t, _ in pairs]
        vflags = [v for _, v in pairs]
        # synonyms
        k, syn, sflags = 0, [], []
        while k < len(toks):
            for key, rep in _SYNONYMS.items():
                if tuple(toks[k:k + len(key)]) == key:
                    syn.append(rep)
                    sflags.append(False)
                    k += len(key)
                    break
            else:
                syn.append(toks[k])
                sflags.append(vflags[k])
                k += 1
        toks, vflags = syn, sflags
        tokens = tuple(toks) + ((f"@{provider.strip().lower()}",) if at else ())
        start = _org_len(toks)  # organisation as first word
        # trailing hub tags, providers, Together's -Instruct-Turbo / -Lite serving
        end = len(toks)
        hub: set[str] = set()
        while end - start > 1:
            t = toks[end - 1]
            if t in HUB_TAGS:
                hub.add(t)
            elif t in _PROVIDERS:
                pass
            elif t in ("turbo", "lite") and toks[end - 2] == "instruct":
                pass
            else:
                break
            end -= 1
        # API tags and the date, anywhere after the first word
        core: list[str] = []
        versions: list[str] = []
        api: set[str] = set()
        date: Date | None = None
        k = start
        while k < end:
            t = toks[k]
            if k > start and t in _API_TAGS:
                api.add(t)
                k += 1
                continue
            found = _date_at(toks[:end], k) if k > start and date is None else None
            if found is not None:
                date, used = found
                k += used
                continue
            core.append(t)
            if vflags[k]:
                versions.append(t)
            k += 1
        sizes = tuple(sorted(t for t in core if _SIZE.fullmatch(t)))
        return cls(raw=str(raw), tokens=tokens, core=tuple(core), versions=tuple(versions),
                   sizes=sizes, hub=frozenset(hub), api=frozenset(api), date=date)

    # keys of the rules
    @staticmethod
    def _spell(tokens: Iterable[str], drop: frozenset[str] = frozenset()) -> str:
        """Words in order without separators or dots; sizes (and ``drop``) left out."""
        return "".join(t for t in tokens if not _SIZE.fullmatch(t) and t not in drop)

    @classmethod
    def _key(cls, tokens: Sequence[str]) -> tuple[str, tuple[str, ...]]:
        """The words spelled together without dots, and the sizes sorted."""
        return cls._spell(tokens).replace(".", ""), tuple(
            sorted(t for t in tokens if _SIZE.fullmatch(t))
        )

    @cached_property
    def compact(self) -> tuple[str, tuple[str, ...]]:
        return self._key(self.tokens)

    @cached_property
    def org(self) -> tuple[str, tuple[str, ...]]:
        return self._key(self.tokens[_org_len(self.tokens):])

    @cached_property
    def base(self) -> str:
        """The core words without sizes and v-versions (the model family)."""
        return self._spell(self.core, frozenset(self.versions)).replace(".", "")

    @cached_property
    def core_key(self) -> tuple[str, tuple[str, ...]]:
        return self._key(self.core)

    def word_list(self) -> list[str]:
        return [t.replace(".", "") for t in self.core
                if not _SIZE.fullmatch(t) and t not in self.versions]
