"""Agreement of our leaderboard with a reference leaderboard (LMSYS Chatbot Arena, ...).

* :mod:`~wizardarena.agreement.reference`: :class:`Reference` snapshots;
  :mod:`~wizardarena.agreement.readers`: :func:`load_reference`, :func:`fetch_reference`;
  :mod:`~wizardarena.agreement.aliases`: :func:`load_aliases`;
* :mod:`~wizardarena.agreement.matching`: model-name matching (:func:`match_models`), on
  names taken apart by :mod:`~wizardarena.agreement.names`;
* :mod:`~wizardarena.agreement.metrics`: the metrics, each a function of its own (pure);
* :mod:`~wizardarena.agreement.report`: :func:`agreement` -> :class:`AgreementReport`;
  :mod:`~wizardarena.agreement.categories`: :func:`agreement_by_category`.

>>> import wizardarena as wa
>>> from wizardarena.agreement import agreement, load_reference
>>> ref = load_reference("../shared/data/lmsys/elo_history_alltime.csv",
...                      date="2024-07-16")                    # doctest: +SKIP
>>> rep = agreement(board, ref)                                 # doctest: +SKIP
>>> rep.summary                                                 # doctest: +SKIP
"""

from __future__ import annotations

from wizardarena.agreement.aliases import load_aliases
from wizardarena.agreement.categories import CategoryAgreement, agreement_by_category
from wizardarena.agreement.matching import (
    HUB_TAGS,
    MATCH_RULES,
    ORGANISATIONS,
    UNMATCHED_HOW,
    ModelMatch,
    match_models,
    normalize_name,
)
from wizardarena.agreement.metrics import (
    AgreementScale,
    agreement_with_ci,
    brier,
    consistency,
    kendall,
    pair_verdicts,
    pearson,
    separability,
    spearman,
    top_k_overlap,
)
from wizardarena.agreement.readers import fetch_reference, load_reference
from wizardarena.agreement.reference import (
    COLUMN_ROLES,
    DEFAULT_REFERENCE_URL,
    Reference,
    ReferenceFormat,
    reference_from_table,
)
from wizardarena.agreement.report import METRICS, AgreementReport, agreement

__all__ = [
    "COLUMN_ROLES",
    "DEFAULT_REFERENCE_URL",
    "HUB_TAGS",
    "MATCH_RULES",
    "METRICS",
    "ORGANISATIONS",
    "UNMATCHED_HOW",
    "AgreementReport",
    "AgreementScale",
    "CategoryAgreement",
    "ModelMatch",
    "Reference",
    "ReferenceFormat",
    "agreement",
    "agreement_by_category",
    "agreement_with_ci",
    "brier",
    "consistency",
    "fetch_reference",
    "kendall",
    "load_aliases",
    "load_reference",
    "match_models",
    "normalize_name",
    "pair_verdicts",
    "pearson",
    "reference_from_table",
    "separability",
    "spearman",
    "top_k_overlap",
]
