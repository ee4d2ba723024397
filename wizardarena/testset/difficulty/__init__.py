"""Difficulty scorers: which prompts are hard.

A difficulty scorer is any callable ``scorer(prompts) -> scores`` where ``prompts`` is a
canonical prompt DataFrame (indexed by ``prompt_id``, columns ``turns`` and ``text``) and
``scores`` is a :class:`DifficultyResult`, a Series indexed by prompt id, or an array
aligned with the rows. Higher means harder; NaN means "not scored" and is never selected.

Provided scorers:

:class:`LLMDifficulty`
    a judge model rates each prompt 0-10 (WizardArena style) through an OpenAI-compatible
    endpoint (:class:`wizardarena.endpoints.Client`);
:class:`CriteriaDifficulty`
    BenchBuilder's 7 criteria (Arena-Hard); score = number of criteria satisfied (0-7);
:class:`BattleDifficulty`
    from an existing battle log: prompts where strong models lose, or where the judge
    disagrees with itself across the two presentation orders.

LLM outputs are parsed strictly and fail closed: an answer without exactly one well-formed
rating becomes NaN, its raw text is kept in :attr:`DifficultyResult.raw` and it is counted
in :attr:`DifficultyResult.n_failed`; no default score is ever substituted.

The scorers live by concern in :mod:`~wizardarena.testset.difficulty.result` (the result
and the coercion), :mod:`~wizardarena.testset.difficulty.llm` (the LLM scorers) and
:mod:`~wizardarena.testset.difficulty.battle` (from a battle log).
"""

from wizardarena.testset.difficulty.battle import BattleDifficulty
from wizardarena.testset.difficulty.llm import (
    CRITERIA,
    CriteriaDifficulty,
    LLMDifficulty,
    LLMScorer,
    parse_criteria,
    parse_rating,
)
from wizardarena.testset.difficulty.result import DifficultyResult, coerce_scores

__all__ = [
    "CRITERIA",
    "BattleDifficulty",
    "CriteriaDifficulty",
    "DifficultyResult",
    "LLMDifficulty",
    "LLMScorer",
    "coerce_scores",
    "parse_criteria",
    "parse_rating",
]
