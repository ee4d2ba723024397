"""Battle logs: the schema, reading, the log and its counts, the checks, and logs read as
datasets.

A battle log is a table with one row per judged game between two models:

============  =====================================================================
column        meaning
============  =====================================================================
model_a       the model shown in the first slot (str, required)
model_b       the model shown in the second slot (str, required)
winner        ``model_a``, ``model_b``, ``tie`` or ``tie (bothbad)`` (required)
question_id   the prompt the game was played on (needed for ``unit="prompt"``)
weight        non-negative weight of the row (default 1)
judge, game, category, turn, tstamp, ...   kept as they are, never interpreted here
============  =====================================================================

Other outcome vocabularies are read only when asked for with ``outcomes=`` (see
:class:`Vocabulary`); nothing is guessed and nothing is coerced silently.

Read top to bottom:

================  ==========================================================================
module            responsibility
================  ==========================================================================
``schema.py``     outcome codes, vocabularies and the one winner-label table; core columns
``checks.py``     checks that tell the user how to fix a log (vocabulary and layout hints,
                  names that differ only by case, the prompt column, the anchor)
``encoding.py``   model names and winner labels to integer codes
``counts.py``     the log collapsed to counts (:class:`Counts`, :class:`CountedLog`)
``log.py``        :class:`BattleLog`: the log in memory, its views, counts and writers
``io.py``         :func:`read_battles` and the one suffix rule of the files the package reads
``prompts.py``    the prompt frame (prompts keyed by ``question_id``) and its reader
``streams.py``    a partitioned Parquet dataset read batch by batch into counts
================  ==========================================================================

Pure but for ``io.py``, ``prompts.py`` and ``streams.py`` (reading) and the writers.
"""

from wizardarena.battles.counts import CountedLog, Counts, collapse, counts_from_keys
from wizardarena.battles.io import BattleSource, read_battles
from wizardarena.battles.log import BattleLog
from wizardarena.battles.schema import CORE_COLUMNS, WINNER_LABELS, Outcome, Vocabulary

__all__ = [
    "CORE_COLUMNS",
    "WINNER_LABELS",
    "BattleLog",
    "BattleSource",
    "CountedLog",
    "Counts",
    "Outcome",
    "Vocabulary",
    "collapse",
    "counts_from_keys",
    "read_battles",
]
