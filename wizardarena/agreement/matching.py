"""Matching our model names to a reference leaderboard's names (pure, no I/O).

Names of one model differ between sources: ``GPT 3.5 Turbo`` vs ``gpt-3.5-turbo``,
``Meta-Llama-3-70B-Instruct`` vs ``llama-3-70b-instruct``, ``llama-2-70b-chat-hf`` vs
``llama-2-70b-chat``, ``dbrx-instruct`` vs ``dbrx-instruct-preview``. :func:`match_models`
tries, for the names still unmatched, one rule after the other (each allows a little more
difference than the one before) and records which rule matched each pair:

============ ===============================================================================
how          what may differ
============ ===============================================================================
alias        the user's ``aliases`` (``{our name: reference name}``; ``None`` = leave out)
exact        nothing
case         case and surrounding spaces
normalized   :func:`normalize_name`: an organisation before ``/`` or ``__``
             (``meta-llama/``, ``Nexusflow__``), brackets, separators (``_``, spaces, ``-``),
             ``v1.3`` = ``1.3``
reordered    the order of the normalized tokens (``llama-2-chat-70b``)
compact      spelling: no separators or dots (``gpt-35-turbo``, ``gpt4_0314``), the size
             anywhere (``Code Llama Instruct (34B)`` = ``codellama-34b-instruct``),
             ``2.0`` = ``2``, ``OpenAssistant`` = ``oasst``
org          an organisation as first word (``Meta-Llama-3-8B``, ``mistralai-``,
             ``google-``, ``c4ai-``; the list :data:`ORGANISATIONS`)
hub          hub, format and provider suffixes on one side only: ``-hf``, ``-GGUF``, ``-AWQ``,
             ``-GPTQ``, ``-fp8`` ... (:data:`HUB_TAGS`), ``@together``, ``-togetherai``,
             Together's ``-Instruct-Turbo`` serving
undated      API tags (``-api``, ``-preview``, ``-latest``) and dates on one side only; dates
             on both sides must agree, in any spelling (``2024-05-13`` = ``20240513`` =
             ``0513``; ``2402`` is February 2024)
version      a size (``21b``) or ``v``-version (``v0.1``) on one side only, when the model
             family shows no other size (version) in either list
============ ===============================================================================

From ``hub`` on, a rule *fits* a reference model when one of its names fits and none of its
names contradicts (``mistral-7b-instruct``, shown as ``Mistral-7B-Instruct-v0.1``, is not
``Mistral-7B-Instruct-v0.3``). Every rule matches only when the fit is unique both ways:

* one of our names that fits several reference models is **ambiguous** (candidates listed);
* several of our names that fit one reference model are all **ambiguous**;
* a name that fits only a reference model already matched by a stronger rule is **taken**
  (e.g. ``wizardlm-13b-v1.2`` when ``wizardlm-13b`` matched exactly);
* a name that fits nothing but differs from an unmatched reference name by one word
  (``PaLM 2 Bison`` / ``palm-2``, ``Mistral-Large-Instruct-2407`` / ``mistral-large-2407``),
  or by a version its family has several of (``Vicuna v1.3 (7B)`` / ``vicuna-7b`` when
  ``Vicuna v1.5 (13B)`` exists too), is **plausible**.

None of these is ever matched: they go to ``unmatched`` with their candidates. By default
ambiguities raise one :class:`~wizardarena.exceptions.ReferenceMatchError` listing *all* of
them at once; ``ambiguous="report"`` returns them instead. Aliases settle any of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from wizardarena.agreement.names import (
    HUB_TAGS,
    ORGANISATIONS,
    NameParts,
    dates_agree,
    name_tokens,
    normalize_name,
    one_sided,
)
from wizardarena.exceptions import Param, ReferenceMatchError, ValidationError

__all__ = [
    "HUB_TAGS",
    "MATCH_RULES",
    "ORGANISATIONS",
    "UNMATCHED_HOW",
    "ModelMatch",
    "match_models",
    "normalize_name",
]

#: the matching rules, in the order they are tried (``alias`` comes first)
MATCH_RULES: tuple[str, ...] = (
    "alias",
    "exact",
    "case",
    "normalized",
    "reordered",
    "compact",
    "org",
    "hub",
    "undated",
    "version",
)

#: ``how`` of a name in ``unmatched``: why it was left out
UNMATCHED_HOW: tuple[str, ...] = (
    "ambiguous",  # fits several reference models, or shares its one candidate
    "taken",  # its only candidate matched another of our names by a stronger rule
    "plausible",  # differs by one word, or by a version its family has several of
    "alias",  # the user's alias: None, or a target not in the reference
    "none",  # nothing close (reference side: not among ours)
)

_KEY_RULES = ("exact", "case", "normalized", "reordered", "compact", "org")
_FIT_RULES = ("hub", "undated", "version")


def _key(rule: str, n: NameParts) -> object:
    if rule == "exact":
        return n.raw
    if rule == "case":
        return n.raw.strip().casefold()
    if rule == "normalized":
        return normalize_name(n.raw)
    if rule == "reordered":
        return tuple(sorted(t for t, _ in name_tokens(n.raw)))
    if rule == "compact":
        return n.compact
    return n.org


def _fits(rule: str, a: NameParts, b: NameParts) -> bool | None:
    """At a fit rule: True (fits), False (same family but contradicts), None (unrelated)."""
    if rule == "version":
        if a.base != b.base:
            return None
        if not (one_sided(a.sizes, b.sizes) and one_sided(a.versions, b.versions)):
            return False
    elif a.core_key != b.core_key:
        return None
    if not one_sided(a.hub, b.hub):
        return False
    if rule == "hub":
        return a.api == b.api and a.date == b.date
    return one_sided(a.api, b.api) and dates_agree(a.date, b.date)


def _differs_by_one_word(a: NameParts, b: NameParts) -> bool:
    """One name is the other with one word more, spelling aside (``palm 2 bison`` /
    ``palm 2``, ``gpt4`` / ``gpt-4-turbo``)."""
    x, y = a.word_list(), b.word_list()
    if len("".join(x)) < len("".join(y)):
        x, y = y, x
    target = "".join(y)
    if not target or "".join(x) == target:
        return False
    return any("".join(x[:i] + x[i + 1:]) == target for i in range(len(x)))


@dataclass(frozen=True)
class ModelMatch:
    """The outcome of :func:`match_models`.

    Attributes
    ----------
    matches : DataFrame
        Indexed by our model name (``model``), columns ``reference`` (the reference's key)
        and ``how`` (one of :data:`MATCH_RULES`), in our order.
    unmatched : DataFrame
        Columns ``model``, ``side`` (``"ours"`` or ``"reference"``), ``how`` (one of
        :data:`UNMATCHED_HOW`), ``candidates`` (tuple of reference keys, for ``ambiguous``,
        ``taken`` and ``plausible``) and ``reason``; every name not in ``matches`` appears
        here, nothing is dropped silently.
    unused_aliases : tuple of str
        Alias keys that are not among our names.
    """

    matches: pd.DataFrame
    unmatched: pd.DataFrame
    unused_aliases: tuple[str, ...] = field(default=())

    @property
    def mapping(self) -> dict[str, str]:
        """``{our name: reference key}``."""
        return {str(k): str(v) for k, v in self.matches["reference"].items()}

    @property
    def ambiguous(self) -> pd.DataFrame:
        """The rows of ``unmatched`` with ``how == "ambiguous"``."""
        return self.unmatched[self.unmatched["how"] == "ambiguous"].reset_index(drop=True)

    def counts(self) -> dict[str, int]:
        """Number of matches per rule."""
        return {str(k): int(v) for k, v in self.matches["how"].value_counts().items()}


def _reference_names(
    reference: Iterable[str] | Mapping[str, Iterable[str]],
) -> dict[str, tuple[str, ...]]:
    """``{key: (key, other names...)}`` from a list of keys or a mapping key -> names."""
    out: dict[str, tuple[str, ...]] = {}
    if isinstance(reference, Mapping):
        items = [(str(k), [str(v) for v in vs]) for k, vs in reference.items()]
    else:
        items = [(str(k), []) for k in reference]
    for key, others in items:
        if key in out:
            raise ValidationError(f"reference model {key!r} appears twice")
        names = [key] + [o for o in others if o and o != key]
        out[key] = tuple(dict.fromkeys(names))
    return out


@dataclass
class _State:
    """Bookkeeping of one :func:`match_models` call (internal)."""

    matched: dict[str, tuple[str, str]] = field(default_factory=dict)  # ours -> (key, how)
    owner: dict[str, str] = field(default_factory=dict)  # ref key -> ours
    left: dict[str, tuple[str, tuple[str, ...], str]] = field(default_factory=dict)
    # ours -> (how, candidates, reason)

    def take(self, ours: str, key: str, how: str) -> None:
        self.matched[ours] = (key, how)
        self.owner[key] = ours


def match_models(
    ours: Iterable[str],
    reference: Iterable[str] | Mapping[str, Iterable[str]],
    *,
    aliases: Mapping[str, str | None] | None = None,
    ambiguous: str = "raise",
) -> ModelMatch:
    """Match our model names to reference model names (rules in the module docstring).

    Parameters
    ----------
    ours : iterable of str
        Our model names (e.g. ``board.models``), unique.
    reference : iterable of str, or mapping key -> other names
        Reference keys, optionally with other names each (e.g. display names); see
        :meth:`wizardarena.agreement.Reference.names`.
    aliases : mapping, optional
        ``{our name: reference name or None}``; tried first. The reference name may be a
        key or any other name of a reference model; ``None`` leaves our model out on purpose.
        :func:`wizardarena.agreement.load_aliases` reads them from a CSV or JSON file.
    ambiguous : {"raise", "report"}, default "raise"
        ``"raise"``: one :class:`~wizardarena.exceptions.ReferenceMatchError` listing every
        ambiguous name with its candidates. ``"report"``: return them in ``unmatched`` with
        ``how="ambiguous"`` (they are left out of the comparison).

    Returns
    -------
    ModelMatch

    Raises
    ------
    ReferenceMatchError
        Ambiguous names (all of them, with candidates), or aliases that contradict each
        other.
    ValidationError
        Duplicate names, an unknown ``ambiguous``.

    Examples
    --------
    >>> m = match_models(["GPT 4", "Claude v1", "Meta-Llama-3-8B-Instruct"],
    ...                  ["gpt-4", "claude-1", "palm-2", "llama-3-8b-instruct"])
    >>> m.mapping
    {'GPT 4': 'gpt-4', 'Claude v1': 'claude-1', 'Meta-Llama-3-8B-Instruct': 'llama-3-8b-instruct'}
    >>> m.matches["how"].tolist()
    ['normalized', 'normalized', 'org']
    """
    if ambiguous not in ("raise", "report"):
        raise ValidationError(
            Param("ambiguous"), f" must be 'raise' or 'report'; got {ambiguous!r}"
        )
    our_list = [str(m) for m in ours]
    dup = sorted({m for m in our_list if our_list.count(m) > 1})
    if dup:
        raise ValidationError(f"our model names must be unique; duplicated: {dup[:5]}")
    ref = _reference_names(reference)
    aliases = dict(aliases or {})
    st = _State()

    # 1. aliases
    by_any_name: dict[str, list[str]] = {}
    for key, names in ref.items():
        for n in names:
            by_any_name.setdefault(n, []).append(key)
    unused = tuple(sorted(a for a in aliases if a not in our_list))
    for m in our_list:
        if m not in aliases:
            continue
        target = aliases[m]
        if target is None:
            st.left[m] = ("alias", (), "alias to None")
            continue
        keys = by_any_name.get(str(target), [])
        if not keys:
            st.left[m] = ("alias", (), f"alias target {target!r} not in reference")
            continue
        if len(keys) > 1:
            raise ReferenceMatchError(
                f"alias {m!r} -> {target!r} names several reference models: {keys}"
            )
        if keys[0] in st.owner:
            raise ReferenceMatchError(
                f"aliases map both {st.owner[keys[0]]!r} and {m!r} to reference model "
                f"{keys[0]!r}"
            )
        st.take(m, keys[0], "alias")

    # 2. rules, strongest first
    parsed_ours = {m: NameParts.parse(m) for m in our_list}
    parsed_ref = {k: [NameParts.parse(n) for n in names] for k, names in ref.items()}
    all_names = list(parsed_ours.values()) + [n for ns in parsed_ref.values() for n in ns]
    for rule in MATCH_RULES[1:]:
        todo = [m for m in our_list if m not in st.matched and m not in st.left]
        if not todo:
            break
        index: dict[object, list[str]] = {}
        if rule in _KEY_RULES:
            for k, parsed in parsed_ref.items():
                for rkey in dict.fromkeys(_key(rule, n) for n in parsed):
                    index.setdefault(rkey, []).append(k)
        cands = {m: _candidates(rule, parsed_ours[m], parsed_ref, index) for m in todo}
        if rule == "version":
            cands = {m: _family_check(parsed_ours[m], c, parsed_ref, all_names, st)
                     for m, c in cands.items()}
        claims: dict[str, list[str]] = {}
        for m in todo:
            for k in cands[m]:
                claims.setdefault(k, []).append(m)
        for m in todo:
            c = cands[m]
            if not c:
                continue
            if len(c) > 1:
                st.left[m] = ("ambiguous", tuple(c),
                              f"fits {len(c)} reference models by rule {rule!r}")
            elif c[0] in st.owner:
                other = st.owner[c[0]]
                st.left[m] = ("taken", tuple(c),
                              f"fits {c[0]!r} by rule {rule!r}, but {c[0]!r} already matched "
                              f"{other!r} by rule {st.matched[other][1]!r}")
            elif len(claims[c[0]]) > 1:
                rivals = [r for r in claims[c[0]] if r != m]
                st.left[m] = ("ambiguous", tuple(c),
                              f"{c[0]!r} fits {rivals} too by rule {rule!r}")
            else:
                st.take(m, c[0], rule)

    # 3. what is close to names left without candidates
    for m in our_list:
        if m in st.matched or m in st.left:
            continue
        near = [k for k in _plausible(parsed_ours[m], parsed_ref) if k not in st.owner]
        if near:
            st.left[m] = ("plausible", tuple(near),
                          "differs by one word; not matched (alias it if it is the same model)")

    ordered = [m for m in our_list if m in st.matched]
    matches = pd.DataFrame(
        {"reference": [st.matched[m][0] for m in ordered],
         "how": [st.matched[m][1] for m in ordered]},
        index=pd.Index(ordered, name="model", dtype=object),
    )
    rows: list[tuple[str, str, str, tuple[str, ...], str]] = []
    for m in our_list:
        if m in st.matched:
            continue
        how, cand, reason = st.left.get(m, ("none", (), "no match in reference"))
        rows.append((m, "ours", how, cand, reason))
    rows += [(k, "reference", "none", (), "not in ours") for k in ref if k not in st.owner]
    unmatched = pd.DataFrame(rows, columns=["model", "side", "how", "candidates", "reason"],
                             dtype=object)
    result = ModelMatch(matches=matches, unmatched=unmatched, unused_aliases=unused)
    if ambiguous == "raise" and len(result.ambiguous):
        raise ReferenceMatchError(*_ambiguity_message(result.ambiguous))
    return result


def _candidates(
    rule: str, name: NameParts, ref: dict[str, list[NameParts]], index: dict[object, list[str]]
) -> list[str]:
    """Reference keys that fit ``name`` at ``rule`` (taken or not), in reference order."""
    if rule in _KEY_RULES:
        return index.get(_key(rule, name), [])
    out = []
    for k, names in ref.items():
        verdicts = [_fits(rule, name, n) for n in names]
        if any(v is True for v in verdicts) and not any(v is False for v in verdicts):
            out.append(k)
    return out


def _family_check(
    name: NameParts, cands: list[str], ref: dict[str, list[NameParts]], everyone: list[NameParts],
    st: _State,
) -> list[str]:
    """Rule ``version``: a size / version on one side only is unsure when the model family
    shows several sizes / versions in either list; such candidates become ``plausible``."""
    if not cands:
        return cands
    family = [n for n in everyone if n.base == name.base]
    sizes = {n.sizes for n in family if n.sizes}
    versions = {n.versions for n in family if n.versions}
    sure = []
    for k in cands:
        fit = next(n for n in ref[k] if _fits("version", name, n))
        size_missing = name.sizes != fit.sizes
        version_missing = name.versions != fit.versions
        if (size_missing and len(sizes) > 1) or (version_missing and len(versions) > 1):
            continue
        sure.append(k)
    if not sure:
        shown = sorted(".".join(v) for v in versions) if len(versions) > 1 else sorted(
            "/".join(s) for s in sizes
        )
        st.left[name.raw] = (
            "plausible", tuple(cands),
            f"one side has no size or version, and the family {name.base!r} has several: "
            f"{shown[:6]}",
        )
    return sure


def _plausible(name: NameParts, ref: dict[str, list[NameParts]]) -> list[str]:
    out = []
    for k, names in ref.items():
        for n in names:
            if (
                _differs_by_one_word(name, n)
                and one_sided(name.sizes, n.sizes)
                and one_sided(name.versions, n.versions)
                and dates_agree(name.date, n.date)
            ):
                out.append(k)
                break
    return out


def _ambiguity_message(rows: pd.DataFrame) -> list[object]:
    """All ambiguous names with their candidates, and how to settle them."""
    lines: list[object] = [f"{len(rows)} model name(s) match the reference ambiguously:"]
    for m, cand, reason in zip(rows["model"], rows["candidates"], rows["reason"]):
        lines.append(f"\n  {m!r} -> {list(cand)} ({reason})")
    first, cand = str(rows["model"].iloc[0]), list(rows["candidates"].iloc[0])
    target = str(cand[0]) if cand else "<reference name>"
    lines += [
        "\nsay which one each is with ",
        Param("aliases", f"{{{first!r}: {target!r}, ...}}", cli=_shell(f"{first}={target}")),
        "; ",
        Param("aliases", f"{{{first!r}: None}}", cli=_shell(f"{first}=")),
        " leaves a model out; or leave every ambiguous name out with ",
        Param("ambiguous", "'report'"),
    ]
    return lines


def _shell(text: str) -> str:
    import shlex

    return shlex.quote(text)
