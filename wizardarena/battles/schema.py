"""The battle-log schema: outcome codes, the winner labels of every vocabulary (the one
label table of the package), and the columns a log is made of."""

from __future__ import annotations

from enum import Enum, IntEnum

from wizardarena.exceptions import Param, ValidationError

__all__ = [
    "CORE_COLUMNS",
    "LABELS",
    "OUTCOME_SIGN",
    "WINNER_LABELS",
    "WINNER_OUTCOMES",
    "Outcome",
    "Vocabulary",
    "vocabulary",
]


class Outcome(IntEnum):
    """Outcome code of one battle, from the point of view of ``model_a``."""

    A = 0
    B = 1
    TIE = 2
    TIE_BOTHBAD = 3


#: canonical ``winner`` labels, indexed by :class:`Outcome`
WINNER_LABELS: tuple[str, ...] = ("model_a", "model_b", "tie", "tie (bothbad)")

#: the :class:`Outcome` of each canonical ``winner`` label
WINNER_OUTCOMES: dict[str, Outcome] = {lab: Outcome(i) for i, lab in enumerate(WINNER_LABELS)}

#: the side of each outcome from ``model_a``'s point of view: +1 won, -1 lost, 0 a tie
OUTCOME_SIGN: dict[Outcome, int] = {
    Outcome.A: 1, Outcome.B: -1, Outcome.TIE: 0, Outcome.TIE_BOTHBAD: 0,
}


class Vocabulary(str, Enum):
    """How the ``winner`` column is written.

    ``fastchat``
        ``model_a`` / ``model_b`` / ``tie`` / ``tie (bothbad)`` (default; LMSYS ``clean_battle``).
    ``ab``
        ``A`` / ``B`` / ``tie`` / ``tie (bothbad)``.
    ``numeric``
        the score of ``model_a``: ``1`` (win), ``0`` (loss), ``0.5`` (tie); nothing else.
    ``arena-hard``
        Arena-Hard labels ``A>>B``, ``A>B``, ``A=B`` (or ``B=A``), ``B>A``, ``B>>A``, with or
        without ``[[ ]]``; the strong labels get the weight ``strong_weight``.
    ``left-right``
        ``left`` / ``right`` / ``tie`` with the model names in columns ``left`` and ``right``
        (the llmfao crowd format); ``left`` becomes ``model_a``.
    """

    FASTCHAT = "fastchat"
    AB = "ab"
    NUMERIC = "numeric"
    ARENA_HARD = "arena-hard"
    LEFT_RIGHT = "left-right"


LABELS: dict[Vocabulary, dict[str, tuple[Outcome, bool]]] = {
    # label -> (outcome, is_strong)
    Vocabulary.FASTCHAT: {lab: (out, False) for lab, out in WINNER_OUTCOMES.items()},
    Vocabulary.AB: {
        "A": (Outcome.A, False),
        "B": (Outcome.B, False),
        "tie": (Outcome.TIE, False),
        "tie (bothbad)": (Outcome.TIE_BOTHBAD, False),
    },
    Vocabulary.ARENA_HARD: {
        "A>>B": (Outcome.A, True),
        "A>B": (Outcome.A, False),
        "A=B": (Outcome.TIE, False),
        "B=A": (Outcome.TIE, False),
        "B>A": (Outcome.B, False),
        "B>>A": (Outcome.B, True),
    },
    Vocabulary.LEFT_RIGHT: {
        "left": (Outcome.A, False),
        "right": (Outcome.B, False),
        "tie": (Outcome.TIE, False),
    },
}

#: the columns a battle log is made of (any other column is an optional, extra one)
CORE_COLUMNS: tuple[str, ...] = ("model_a", "model_b", "winner", "weight", "left", "right")


def vocabulary(outcomes: str | Vocabulary) -> Vocabulary:
    try:
        return Vocabulary(outcomes)
    except ValueError:
        raise ValidationError(
            Param("outcomes"), f" must be one of {[v.value for v in Vocabulary]}; got "
            f"{outcomes!r}"
        ) from None

