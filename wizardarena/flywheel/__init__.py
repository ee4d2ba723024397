"""The data flywheel: training data from the battles a target model loses (Arena Learning).

Battles show where a target model loses; the winner's answers to those prompts become the
target's next SFT data, and (winner, target) answer pairs its DPO / reward-model data
(Luo et al., "Arena Learning", arXiv 2407.10627, §2.4). This module selects and exports that
data; it does not train models.

Selection, step by step (every step is counted in :class:`FlywheelStats`):

1. **Games of the target**: battle rows where the target plays one of the opponents (all
   other models by default).
2. **Margin of each game**, signed from ``model_a``'s point of view, by ``margin_source``:
   score judges (WizardArena 1–10): ``score_a − score_b``; label judges (Arena-Hard):
   the ``verdict`` label through ``label_margins`` (default ``>>`` = 3, ``>`` = 1, ``=`` = 0;
   MT-Bench ``A``/``B``/``C`` = 1/−1/0); or just the winner (±1, tie 0). The sign must agree
   with the ``winner`` column, otherwise the log is inconsistent and the call raises.
3. **Both orders**: the games of one (prompt, opponent, judge) are the target shown first
   and shown second. If the two disagree on who won (win / tie / loss from the target's
   side) the group is *position-inconsistent*, excluded by default and counted. A group
   with one order only is excluded unless ``require_both_orders=False``. The loss margin
   of a group combines its two games by ``combine``: ``"both"`` (default; both games must
   show the loss, the margin is the smaller one) or ``"mean"`` (the mean margin).
4. **Threshold**: keep groups the target lost by at least ``margin``.
5. **Answers**: a selected group whose answers are missing (the winner's; the target's
   too for preference pairs) raises, or with ``missing="skip"`` is skipped and counted; a
   group whose winning answer is empty, or (preference pairs) whose chosen and rejected
   answers are the same text, is dropped and counted.
6. **One example per prompt** (``per_prompt="best"``, default): the teacher is the
   opponent with the largest margin, then the highest rating (``teacher="rating"``: the
   other way round), then a stable pseudo-random pick (a hash of question id, opponent
   and judge), never the first name. Ratings: ``ratings=`` or a Bradley-Terry fit of the
   log (``wa.rank(battles, ci="none")``). ``"all"`` keeps one example per opponent.
7. **Decontamination guard**: prompts that nearly copy the evaluation test set
   (``eval_prompts``) are removed with :func:`wizardarena.testset.decontam.decontaminate`
   and reported.

An export without rows warns (:class:`~wizardarena.exceptions.DataWarning`) with the
reason, step by step (:meth:`FlywheelStats.why_empty`).

Formats (TRL reads them without conversion): SFT rows have ``messages`` (a list of
``{"role", "content"}``); preference rows have ``prompt``, ``chosen``, ``rejected``
(conversational lists by default, or plain strings). Provenance columns: ``question_id``,
``target``, ``opponent`` (whose answer is the target text / chosen answer), ``judge``,
``margin``, ``round``, ``n_games``, ``turn``, ``category``, ``subset``, ``difficulty``.
The schema is fixed (:func:`export_schema`): the same columns and types in every round
(unknown ``category`` / ``subset`` are ``""``, an unknown ``difficulty`` is NaN).

The selection is pure; only ``to_jsonl`` / ``to_parquet`` write (atomically).
"""


from wizardarena.flywheel.compare import Comparison, compare
from wizardarena.flywheel.data import FlywheelStats, TrainingData, export_schema
from wizardarena.flywheel.margins import DEFAULT_LABEL_MARGINS, MarginSource
from wizardarena.flywheel.rows import Missing
from wizardarena.flywheel.select import Combine, Flywheel
from wizardarena.flywheel.teachers import PerPrompt, Teacher

__all__ = [
    "DEFAULT_LABEL_MARGINS",
    "Combine",
    "Comparison",
    "Flywheel",
    "FlywheelStats",
    "MarginSource",
    "Missing",
    "PerPrompt",
    "Teacher",
    "TrainingData",
    "compare",
    "export_schema",
]
