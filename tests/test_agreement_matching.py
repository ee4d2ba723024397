"""Model-name matching: normalisation rules, aliases, ambiguity, reporting."""

from __future__ import annotations

import pytest

from wizardarena.agreement import MATCH_RULES, match_models, normalize_name
from wizardarena.exceptions import ReferenceMatchError, ValidationError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Nexusflow__Athene-70B", "athene-70b"),
        ("meta-llama/Llama-2-70b-chat-hf", "llama-2-70b-chat-hf"),
        ("GPT 3.5 Turbo", "gpt-3.5-turbo"),
        ("Vicuna v1.3 (13B)", "vicuna-1.3-13b"),
        ("claude_instant--v1", "claude-instant-1"),
        ("  Koala (13B) ", "koala-13b"),
    ],
)
def test_normalize_name(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected


def test_rules_record_how() -> None:
    ours = ["gpt-3.5-turbo", "GPT-4", "Claude v1", "LLaMA-2-Chat (70B)", "gpt-35-turbo-16k",
            "claude-3-5-sonnet", "Nexusflow__Athene-70B"]
    ref = ["gpt-3.5-turbo", "gpt-4", "claude-1", "llama-2-70b-chat", "gpt-3.5-turbo-16k",
           "claude-3-5-sonnet-20240620", "athene-70b", "palm-2"]
    m = match_models(ours, ref)
    how = m.matches["how"].to_dict()
    assert how == {
        "gpt-3.5-turbo": "exact",
        "GPT-4": "case",
        "Claude v1": "normalized",
        "LLaMA-2-Chat (70B)": "reordered",
        "gpt-35-turbo-16k": "compact",
        "claude-3-5-sonnet": "undated",
        "Nexusflow__Athene-70B": "normalized",
    }
    assert m.mapping["claude-3-5-sonnet"] == "claude-3-5-sonnet-20240620"
    assert set(how.values()) <= set(MATCH_RULES)
    assert m.unmatched.to_dict("records") == [
        {"model": "palm-2", "side": "reference", "reason": "not in ours"}
    ]


def test_exact_beats_weaker_rules() -> None:
    # "gpt-4" matches exactly; the dated variants stay unmatched rather than ambiguous
    m = match_models(["gpt-4"], ["gpt-4-0314", "gpt-4", "gpt-4-0613"])
    assert m.mapping == {"gpt-4": "gpt-4"}
    assert sorted(m.unmatched["model"]) == ["gpt-4-0314", "gpt-4-0613"]


def test_ambiguous_match_raises_with_candidates() -> None:
    with pytest.raises(ReferenceMatchError, match=r"GPT 4.*gpt-4-0314.*gpt-4-0613.*aliases"):
        match_models(["GPT 4"], ["gpt-4-0314", "gpt-4-0613"])
    with pytest.raises(ReferenceMatchError, match=r"all match reference model 'gpt-4'"):
        match_models(["gpt-4-0314", "gpt-4-0613"], ["gpt-4"])


def test_aliases_resolve_and_exclude() -> None:
    m = match_models(
        ["GPT 4", "PaLM 2 Bison", "Weaver 12k", "Dolly"],
        {"gpt-4-0314": ["GPT-4-0314"], "gpt-4-0613": [], "palm-2": ["PaLM-Chat-Bison-001"]},
        aliases={"GPT 4": "GPT-4-0314", "PaLM 2 Bison": "palm-2", "Dolly": None,
                 "Weaver 12k": "weaver", "not-ours": "gpt-4-0613"},
    )
    assert m.mapping == {"GPT 4": "gpt-4-0314", "PaLM 2 Bison": "palm-2"}
    assert m.counts() == {"alias": 2}
    reasons = dict(zip(m.unmatched["model"], m.unmatched["reason"]))
    assert reasons["Dolly"] == "alias to None"
    assert reasons["Weaver 12k"] == "alias target 'weaver' not in reference"
    assert reasons["gpt-4-0613"] == "not in ours"
    assert m.unused_aliases == ("not-ours",)


def test_display_names_match() -> None:
    m = match_models(["ChatGPT-4", "Claude 1"], {"gpt-4": ["ChatGPT-4"], "claude-1": ["Claude-1"]})
    assert m.mapping == {"ChatGPT-4": "gpt-4", "Claude 1": "claude-1"}
    assert m.matches.loc["ChatGPT-4", "how"] == "exact"


def test_alias_conflicts_and_duplicates() -> None:
    with pytest.raises(ReferenceMatchError, match="both"):
        match_models(["a", "b"], ["x"], aliases={"a": "x", "b": "x"})
    with pytest.raises(ValidationError, match="unique"):
        match_models(["a", "a"], ["a"])


def test_nothing_dropped() -> None:
    ours = ["m1", "m2", "zzz"]
    ref = ["M1", "m-2", "other"]
    m = match_models(ours, ref)
    assert len(m.matches) + int((m.unmatched["side"] == "ours").sum()) == len(ours)
    assert len(m.matches) + int((m.unmatched["side"] == "reference").sum()) == len(ref)
