"""Matching our model names to a reference leaderboard's names (pure, no I/O).

Names differ between sources (``GPT 3.5 Turbo`` vs ``gpt-3.5-turbo``, ``LLaMA-2-Chat (70B)``
vs ``llama-2-70b-chat``, ``Nexusflow__Athene-70B`` vs ``athene-70b``). :func:`match_models`
tries, for the names still unmatched, one rule after the other and records which rule
matched each pair:

========== ===================================================================================
how        rule
========== ===================================================================================
alias      the user's ``aliases`` map (``{our name: reference name}``; ``None`` = leave out)
exact      identical strings
case       equal ignoring case
normalized equal after :func:`normalize_name` (vendor prefix, separators, brackets, ``v1``)
reordered  the same normalized tokens in another order (``llama-2-chat-70b``)
compact    equal once ``-`` and ``.`` are removed (``gpt-35-turbo`` = ``gpt-3.5-turbo``)
undated    equal once date tokens are removed (``-20240620``, ``-0613``, ``-2024-04-09``,
           ``-2402``)
========== ===================================================================================

A reference model may carry several names (its key and its display name); any of them can
match. At every rule, one of our names that matches two reference models, or two of ours that
match the same reference model, raise :class:`~wizardarena.exceptions.ReferenceMatchError`
listing the candidates: ambiguity is resolved by the user with ``aliases``, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from wizardarena.exceptions import ReferenceMatchError, ValidationError

__all__ = ["MATCH_RULES", "ModelMatch", "match_models", "normalize_name"]

#: the matching rules, in the order they are tried (``alias`` comes first)
MATCH_RULES: tuple[str, ...] = (
    "alias",
    "exact",
    "case",
    "normalized",
    "reordered",
    "compact",
    "undated",
)

_SEP = re.compile(r"[\s_:,;|+]+|-+")
_BRACKETS = re.compile(r"[()\[\]{}]")
_VERSION = re.compile(r"^v(\d+(?:\.\d+)*)$")
_DATE_TOKENS = re.compile(
    r"^(?:20\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"  # 20240620
    r"|(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"  # 0613 (MMDD)
    r"|2[3-9](?:0[1-9]|1[0-2]))$"  # 2402 (YYMM)
)


def normalize_name(name: str) -> str:
    """Canonical form of a model name used by the ``normalized`` rule.

    Lower case; a vendor prefix before the last ``/`` or ``__`` is dropped
    (``Nexusflow__Athene-70B``, ``meta-llama/Llama-2-70b-chat-hf``); brackets are removed;
    runs of spaces, underscores, colons and dashes become one ``-``; a version token
    ``v1.3`` becomes ``1.3``.

    >>> normalize_name("Nexusflow__Athene-70B")
    'athene-70b'
    >>> normalize_name("Vicuna v1.3 (13B)")
    'vicuna-1.3-13b'
    """
    s = str(name).strip().lower()
    s = s.rsplit("/", 1)[-1]
    s = s.rsplit("__", 1)[-1]
    s = _BRACKETS.sub(" ", s)
    tokens = [t for t in _SEP.split(s) if t]
    tokens = [_VERSION.sub(r"\1", t) for t in tokens]
    return "-".join(tokens)


def _reordered(name: str) -> str:
    return "-".join(sorted(normalize_name(name).split("-")))


def _compact(name: str) -> str:
    return normalize_name(name).replace("-", "").replace(".", "")


def _undated(name: str) -> str:
    tokens = normalize_name(name).split("-")
    # YYYY-MM-DD spelled as three tokens
    out: list[str] = []
    k = 0
    while k < len(tokens):
        t = tokens[k]
        if (
            re.fullmatch(r"20\d{2}", t)
            and k + 2 < len(tokens)
            and re.fullmatch(r"0[1-9]|1[0-2]", tokens[k + 1])
            and re.fullmatch(r"0[1-9]|[12]\d|3[01]", tokens[k + 2])
        ):
            k += 3
            continue
        if not (_DATE_TOKENS.fullmatch(t) and out):  # never strip the first token
            out.append(t)
        k += 1
    return "-".join(out)


_RULES: dict[str, Callable[[str], str]] = {
    "exact": lambda s: s,
    "case": lambda s: s.strip().casefold(),
    "normalized": normalize_name,
    "reordered": _reordered,
    "compact": _compact,
    "undated": _undated,
}


@dataclass(frozen=True)
class ModelMatch:
    """The outcome of :func:`match_models`.

    Attributes
    ----------
    matches : DataFrame
        Indexed by our model name (``model``), columns ``reference`` (the reference's key)
        and ``how`` (one of :data:`MATCH_RULES`), in our order.
    unmatched : DataFrame
        Columns ``model``, ``side`` (``"ours"`` or ``"reference"``) and ``reason``; every
        name not in ``matches`` appears here, nothing is dropped silently.
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


def match_models(
    ours: Iterable[str],
    reference: Iterable[str] | Mapping[str, Iterable[str]],
    *,
    aliases: Mapping[str, str | None] | None = None,
) -> ModelMatch:
    """Match our model names to reference model names.

    Parameters
    ----------
    ours : iterable of str
        Our model names (e.g. ``board.models``), unique.
    reference : iterable of str, or mapping key -> other names
        Reference keys, optionally with other names each (e.g. display names); see
        :meth:`wizardarena.agreement.Reference.names`.
    aliases : mapping, optional
        ``{our name: reference name or None}``; tried first. The reference name may be a
        key or any other name of a reference model; ``None`` leaves our model out on purpose
        (reported in ``unmatched`` with reason ``"alias to None"``).

    Returns
    -------
    ModelMatch

    Raises
    ------
    ReferenceMatchError
        A name matches several candidates at the same rule (the message lists them and
        suggests an alias).
    ValidationError
        Duplicate names.

    Examples
    --------
    >>> m = match_models(["GPT 4", "Claude v1"], ["gpt-4", "claude-1", "palm-2"])
    >>> m.mapping
    {'GPT 4': 'gpt-4', 'Claude v1': 'claude-1'}
    """
    our_list = [str(m) for m in ours]
    dup = sorted({m for m in our_list if our_list.count(m) > 1})
    if dup:
        raise ValidationError(f"our model names must be unique; duplicated: {dup[:5]}")
    ref = _reference_names(reference)
    aliases = dict(aliases or {})

    matched: dict[str, tuple[str, str]] = {}  # ours -> (ref key, how)
    taken: set[str] = set()
    reasons: dict[str, str] = {}

    # 1. aliases
    by_any_name: dict[str, list[str]] = {}
    for key, names in ref.items():
        for n in names:
            by_any_name.setdefault(n, []).append(key)
    unused = tuple(sorted(a for a in aliases if a not in our_list))
    for ours_name in our_list:
        if ours_name not in aliases:
            continue
        target = aliases[ours_name]
        if target is None:
            reasons[ours_name] = "alias to None"
            continue
        keys = by_any_name.get(str(target), [])
        if not keys:
            reasons[ours_name] = f"alias target {target!r} not in reference"
            continue
        if len(keys) > 1:
            raise ReferenceMatchError(
                f"alias {ours_name!r} -> {target!r} names several reference models: {keys}"
            )
        if keys[0] in taken:
            other = next(o for o, (k, _) in matched.items() if k == keys[0])
            raise ReferenceMatchError(
                f"aliases map both {other!r} and {ours_name!r} to reference model {keys[0]!r}"
            )
        matched[ours_name] = (keys[0], "alias")
        taken.add(keys[0])

    # 2. rules, strongest first
    for how, rule in _RULES.items():
        left = [m for m in our_list if m not in matched and m not in reasons]
        if not left:
            break
        index: dict[str, set[str]] = {}
        for key, names in ref.items():
            if key in taken:
                continue
            for n in names:
                index.setdefault(rule(n), set()).add(key)
        claims: dict[str, list[str]] = {}
        for m in left:
            cands = index.get(rule(m), set())
            if len(cands) > 1:
                raise ReferenceMatchError(
                    f"model {m!r} matches several reference models by rule {how!r}: "
                    f"{sorted(cands)}; pass aliases={{{m!r}: <one of them>}} "
                    f"(or {{{m!r}: None}} to leave it out)"
                )
            if cands:
                claims.setdefault(next(iter(cands)), []).append(m)
        for key, claimants in claims.items():
            if len(claimants) > 1:
                raise ReferenceMatchError(
                    f"models {sorted(claimants)} all match reference model {key!r} by rule "
                    f"{how!r}; pass aliases to say which one it is (map the others to None)"
                )
            matched[claimants[0]] = (key, how)
            taken.add(key)

    ordered = [m for m in our_list if m in matched]
    matches = pd.DataFrame(
        {
            "reference": [matched[m][0] for m in ordered],
            "how": [matched[m][1] for m in ordered],
        },
        index=pd.Index(ordered, name="model", dtype=object),
    )
    rows = [
        (m, "ours", reasons.get(m, "no match in reference"))
        for m in our_list
        if m not in matched
    ]
    rows += [(k, "reference", "not in ours") for k in ref if k not in taken]
    unmatched = pd.DataFrame(rows, columns=["model", "side", "reason"])
    unmatched = unmatched.astype({"model": object, "side": object, "reason": object})
    return ModelMatch(matches=matches, unmatched=unmatched, unused_aliases=unused)
