"""The export rows of the selected groups: conversations of prompt turns and answers, in
TRL's SFT and preference formats with their provenance (step 5 of :mod:`wizardarena.flywheel`)."""

from __future__ import annotations

from enum import Enum
from typing import Any

import pandas as pd

from wizardarena.exceptions import Param, ValidationError
from wizardarena.flywheel.inputs import absent, optional_float, optional_text, turn_list

__all__ = ["Messages", "Missing", "conversation", "export_rows"]

Messages = list[dict[str, str]]


class Missing(str, Enum):
    """Selected battles whose answers are missing: ``raise`` (default, as ``run_arena``) or
    ``skip`` them and count them (``missing_answer``)."""

    RAISE = "raise"
    SKIP = "skip"


def conversation(turns: list[str], answer: list[str], where: str) -> tuple[Messages, Messages]:
    """Interleave user turns and assistant turns: (all but the last answer, the last answer)."""
    if len(turns) != len(answer):
        raise ValidationError(
            f"{where}: the prompt has {len(turns)} user turn(s) but the answer has "
            f"{len(answer)} assistant turn(s)")
    msgs: list[dict[str, str]] = []
    for u, a in zip(turns, answer):
        msgs += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
    return msgs[:-1], msgs[-1:]


def export_rows(kind: str, cand: pd.DataFrame, ans: pd.DataFrame, table: pd.DataFrame, *,
                target: str, iteration: int, missing: Missing, system_prompt: str | None,
                conversational: bool) -> tuple[list[dict[str, Any] | None], list[str]]:
    """The export row of every selected group, and its status: ``ok``, ``missing``
    (answers absent or with too few turns), ``empty`` (the winner's answer is empty) or
    ``identical`` (chosen == rejected)."""
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    rows: list[dict[str, Any] | None] = []
    status: list[str] = []
    lacking: list[tuple[str, str]] = []
    for g in cand.to_dict(orient="records"):
        q, opp = str(g["question_id"]), str(g["opponent"])
        if q not in table.index:
            raise ValidationError(f"prompts has no text for question_id {q!r}")
        turns = turn_list(table.at[q, "turns"], f"prompt {q!r}")
        keys = [(q, opp)] + ([(q, target)] if kind == "preference" else [])
        texts = []
        for key in keys:
            where = f"answer of {key[1]!r} to {q!r}"
            value = ans.at[key, "answer"] if key in ans.index else None
            text = None if absent(value) else turn_list(value, where)
            if text is None or (missing is Missing.SKIP and len(text) < len(turns)):
                lacking.append(key)
                break
            texts.append(conversation(turns, text, where))
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
            if conversational:
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
        category = "" if absent(cat) else str(cat)
        row.update({
            "question_id": q, "target": target, "opponent": opp, "judge": g["judge"],
            "margin": float(g["margin"]), "round": iteration,
            "n_games": int(g["n_games"]), "turn": int(g["turn"]),
            "category": category or optional_text(table, q, "category"),
            "subset": optional_text(table, q, "subset"),
            "difficulty": optional_float(table, q, "difficulty"),
        })
        rows.append(row)
        status.append(state)
    if lacking and missing is Missing.RAISE:
        raise ValidationError(
            f"answers has no answer for {len(lacking)} selected (question_id, model) "
            f"pair(s), e.g. {lacking[:5]}; pass ", Param("missing", "'skip'", cli=""),
            " to skip those battles (counted in stats.summary['missing_answer'])")
    return rows, status
