"""Agreement per category: ``rank(..., by="category")`` boards vs reference categories."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from wizardarena.agreement.report import (
    METRICS,
    AgreementReport,
    ReferenceLike,
    agreement,
)
from wizardarena.exceptions import ReferenceMatchError, ValidationError
from wizardarena.leaderboard import Leaderboard

__all__ = ["CategoryAgreement", "agreement_by_category"]


@dataclass(frozen=True, eq=False)
class CategoryAgreement:
    """Agreement of per-category boards with the matching reference categories.

    Attributes
    ----------
    reports : dict of str to AgreementReport
        One report per category that could be compared.
    summary : DataFrame
        Indexed by ``category``; columns: each metric's value, ``n_models`` and
        ``reference_category``.
    skipped : dict of str to str
        Categories left out, with the reason.
    """

    reports: dict[str, AgreementReport]
    summary: pd.DataFrame
    skipped: dict[str, str] = field(default_factory=dict)


def agreement_by_category(
    boards: Mapping[str, Leaderboard],
    references: Mapping[str, ReferenceLike] | Callable[[str], ReferenceLike],
    *,
    categories: Mapping[str, str] | None = None,
    aliases: Mapping[str, str | None] | None = None,
    level: float | None = None,
    top_k: int | None = None,
    reference_order_only: bool = False,
    rng: int | np.random.Generator | None = None,
) -> CategoryAgreement:
    """:func:`agreement` for every board of ``rank(..., by="category")``.

    Parameters
    ----------
    boards : mapping category -> Leaderboard
        e.g. ``wa.rank(log, by="category")``.
    references : mapping reference category -> Reference, or callable
        A callable gets the reference category name, e.g.
        ``lambda c: load_reference(path, date="2025-05-06", category=c)``.
    categories : mapping, optional
        Our category -> reference category (default: the same name).
    aliases, level, top_k, reference_order_only, rng
        As in :func:`agreement`.

    Returns
    -------
    CategoryAgreement
        Categories without a reference, or with fewer than 2 matched models, are listed in
        ``skipped`` with the reason (never dropped silently). Other errors propagate.
    """
    if not isinstance(boards, Mapping) or not boards:
        raise ValidationError("boards must be a non-empty mapping category -> Leaderboard")
    cmap = dict(categories or {})
    gen = np.random.default_rng(rng)
    reports: dict[str, AgreementReport] = {}
    skipped: dict[str, str] = {}
    rows = []
    for cat, board in boards.items():
        ref_cat = cmap.get(cat, cat)
        try:
            if callable(references) and not isinstance(references, Mapping):
                ref: ReferenceLike = references(ref_cat)
            elif ref_cat in references:
                ref = references[ref_cat]
            else:
                skipped[cat] = f"no reference for category {ref_cat!r}"
                continue
            rep = agreement(board, ref, aliases=aliases, level=level, top_k=top_k,
                            reference_order_only=reference_order_only, rng=gen,
                            title=f"Agreement, category {cat}")
        except ReferenceMatchError as exc:
            if "need at least 2" in str(exc) or "not in" in str(exc):
                skipped[cat] = str(exc)
                continue
            raise
        reports[cat] = rep
        values = rep.summary["value"].to_dict()
        row: dict[str, Any] = {m: float(values[m]) for m in METRICS}
        row["n_models"] = len(rep.models)
        row["reference_category"] = ref_cat
        rows.append((cat, row))
    summary = pd.DataFrame(
        [r for _, r in rows],
        index=pd.Index([c for c, _ in rows], name="category"),
        columns=[*METRICS, "n_models", "reference_category"],
    )
    return CategoryAgreement(reports=reports, summary=summary, skipped=skipped)
