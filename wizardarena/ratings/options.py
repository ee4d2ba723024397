"""The options of a rating fit, defined and validated once.

:class:`RatingOptions` is a frozen object built by :func:`wizardarena.rank` (from its keyword
arguments), by the command line (from its flags) and by the stages that fit (the arena's
position statistics, the battle difficulty of a test set), and passed down to
:func:`wizardarena.ratings.fit.fit`. Its constructor is the one place that parses and checks
them; what needs the battle log (an anchor that names a model, the prompt column of
``unit="prompt"``) is checked by the fit against the log.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from wizardarena.exceptions import ValidationError, parse_enum
from wizardarena.ratings.design import Ties
from wizardarena.ratings.features import Standardize

__all__ = ["CI", "Method", "Point", "RatingOptions", "Unit"]


class Method(str, Enum):
    """Bradley-Terry maximum likelihood (``"bt"``) or online Elo (``"elo"``)."""

    BRADLEY_TERRY, ELO = "bt", "elo"


class CI(str, Enum):
    """How intervals are made: percentile bootstrap, closed-form sandwich, or none."""

    BOOTSTRAP, SANDWICH, NONE = "bootstrap", "sandwich", "none"


class Unit(str, Enum):
    """What the bootstrap (and the sandwich) treats as independent: battles or prompts."""

    BATTLE, PROMPT = "battle", "prompt"


class Point(str, Enum):
    """The reported rating: full-data MLE, bootstrap median, or online Elo in log order."""

    MLE, MEDIAN, ORDER = "mle", "median", "order"


def _method(value: object) -> Method:
    aliases = {"bradley-terry": "bt", "bradley_terry": "bt"}
    if isinstance(value, str):
        value = aliases.get(value.lower(), value)
    return parse_enum(Method, value, "method")


@dataclass(frozen=True)
class RatingOptions:
    """Every option of a rating fit (see :func:`wizardarena.rank` for each one's meaning).

    Built from strings or enums; the constructor parses them into enums and raises a
    :class:`~wizardarena.exceptions.ValidationError` naming the option for anything out of
    range or any combination the fit cannot honour.

    Attributes
    ----------
    method : Method
    ci : CI
    rounds : int
    unit : Unit
    level : float
    anchor : dict of {str: float} or None
    ties : Ties
    point : Point
        ``mle`` for Bradley-Terry and ``order`` for online Elo unless given.
    ridge, l2 : float
    position : bool
    cluster : str or None
        The prompt column of ``unit="prompt"`` (None: ``question_id``).
    style : bool, str, tuple of str or None
        Style control (None or False: none).
    standardize : Standardize
    k, scale, base, init : float
    tol : float
    max_iter : int
    """

    method: Method | str = Method.BRADLEY_TERRY
    ci: CI | str = CI.BOOTSTRAP
    rounds: int = 1000
    unit: Unit | str = Unit.BATTLE
    level: float = 0.95
    anchor: Mapping[str, float] | None = None
    ties: Ties | str = Ties.HALF
    point: Point | str | None = None
    ridge: float = 1e-6
    l2: float = 1e-6
    position: bool = False
    cluster: str | None = None
    style: bool | str | Sequence[str] | None = None
    standardize: Standardize | str = Standardize.SYMMETRIC
    k: float = 4.0
    scale: float = 400.0
    base: float = 10.0
    init: float = 1000.0
    tol: float = 1e-10
    max_iter: int = 100

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "method", _method(self.method))
        put(self, "ci", parse_enum(CI, self.ci, "ci"))
        put(self, "unit", parse_enum(Unit, self.unit, "unit"))
        put(self, "ties", parse_enum(Ties, self.ties, "ties"))
        put(self, "standardize", parse_enum(Standardize, self.standardize, "standardize"))
        if self.point is not None:
            put(self, "point", parse_enum(Point, self.point, "point"))
        if self.style is not None and not isinstance(self.style, (bool, str)):
            put(self, "style", tuple(self.style))
        put(self, "anchor", _anchor(self.anchor))
        self._check_numbers()
        self._check_combinations()

    # ------------------------------------------------------------------ validation
    def _check_numbers(self) -> None:
        level, rounds, ridge, l2 = self.level, self.rounds, self.ridge, self.l2
        if not (0.0 < float(level) < 1.0):
            raise ValidationError(f"level must be strictly between 0 and 1; got {level!r}")
        if self.ci is CI.BOOTSTRAP and (not isinstance(rounds, (int, np.integer))
                                        or isinstance(rounds, bool) or rounds < 2):
            raise ValidationError(
                f"rounds must be an integer ≥ 2 for bootstrap CIs; got {rounds!r}")
        if not np.isfinite(ridge) or ridge <= 0:
            raise ValidationError(f"ridge must be a positive number; got {ridge!r}")
        if not np.isfinite(l2) or l2 < 0:
            raise ValidationError(f"l2 must be a non-negative number; got {l2!r}")
        if self.scale <= 0 or self.base <= 1:
            raise ValidationError(f"scale must be > 0 and base > 1; got scale={self.scale}, "
                                  f"base={self.base}")
        if not np.isfinite(self.tol) or self.tol < 0:
            raise ValidationError(f"tol must be a non-negative number; got {self.tol!r}")
        if not isinstance(self.max_iter, (int, np.integer)) or self.max_iter < 1:
            raise ValidationError(
                f"max_iter must be a positive integer; got {self.max_iter!r}")

    def _check_combinations(self) -> None:
        if self.method is Method.ELO:
            if self.position:
                raise ValidationError("the first-slot effect (position=True) is fitted with "
                                      "Bradley-Terry; use method='bt'")
            if self.ci is CI.SANDWICH:
                raise ValidationError("method='elo' supports ci='bootstrap' or ci='none'")
            if self.unit is Unit.PROMPT:
                raise ValidationError(
                    "method='elo' resamples battles; unit='prompt' is for method='bt'")
            if self.ties is Ties.DAVIDSON:
                raise ValidationError(
                    "method='elo' scores a tie as half a win (ties='half') or leaves it out "
                    "(ties='drop'); ties='davidson' is for method='bt'")
            if self.styled:
                raise ValidationError("style control fits Bradley-Terry; use method='bt'")
            if self.point is Point.MLE:
                raise ValidationError(
                    "online Elo has no maximum-likelihood point: use point='order' (the log "
                    "in its order, the default) or point='median' (the bootstrap median, "
                    "with ci='bootstrap')")
        elif self.point is Point.ORDER:
            raise ValidationError("point='order' is online Elo's point (method='elo'); "
                                  "Bradley-Terry takes point='mle' or 'median'")
        if self.point is Point.MEDIAN and self.ci is not CI.BOOTSTRAP:
            raise ValidationError(
                "point='median' needs ci='bootstrap' (it is the bootstrap median)")

    # ------------------------------------------------------------------ views
    @property
    def styled(self) -> bool:
        """Whether style control is on."""
        return self.style is not None and self.style is not False

    @property
    def point_estimate(self) -> Point:
        """The point estimate: :attr:`point`, else the method's default."""
        if self.point is not None:
            return Point(self.point)
        return Point.ORDER if self.method is Method.ELO else Point.MLE

    @property
    def cluster_column(self) -> str:
        """The prompt column of ``unit="prompt"`` (``question_id`` unless named)."""
        return self.cluster or "question_id"

    @property
    def by_prompt(self) -> bool:
        """Whether the intervals resample (or cluster) by prompt."""
        return self.unit is Unit.PROMPT and self.ci is not CI.NONE

    def replace(self, **changes: Any) -> RatingOptions:
        """A copy with ``changes`` (validated again)."""
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """The options as plain values (enums as their strings)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.value if isinstance(v, Enum) else (
                list(v) if isinstance(v, tuple) else v)
        return out


def _anchor(anchor: Mapping[str, float] | None) -> dict[str, float] | None:
    """An anchor ``{model: rating}``: exactly one model, a finite rating (that the model is
    in the log is checked by the fit)."""
    if anchor is None:
        return None
    if not isinstance(anchor, Mapping) or len(anchor) != 1:
        raise ValidationError(
            f"anchor must be a mapping with exactly one {{model: rating}}; got {anchor!r}"
        )
    (name, value), = anchor.items()
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"anchor rating must be a number; got {value!r}") from None
    if not np.isfinite(value):
        raise ValidationError(f"anchor rating must be finite; got {value!r}")
    return {str(name): value}
