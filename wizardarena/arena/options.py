"""The arena's own settings, defined and validated once.

:class:`ArenaOptions` holds what :func:`~wizardarena.arena.runner.run_arena` takes besides the
answers, the prompts and the judge: the store, the pairing, the order of presentation, the
concurrency, what to retry, the engine. ``run_arena`` (and ``arun_arena``, and
``wizardarena.rank(..., judge=...)``) build one from their keyword arguments and hand it to
the one body of a run (:func:`~wizardarena.arena.runner.judge_battles`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from wizardarena.arena.pairing import PairingMode
from wizardarena.arena.store import JudgmentStore
from wizardarena.exceptions import ValidationError
from wizardarena.progress import ProgressOption
from wizardarena.ray import Engine, RayEngine, check_engine

__all__ = ["ArenaOptions"]


@dataclass(frozen=True)
class ArenaOptions:
    """Everything :func:`~wizardarena.arena.runner.run_arena` takes besides the answers, the
    prompts and the judge (see it for each one's meaning). The constructor checks them and
    parses ``pairs`` into a :class:`~wizardarena.arena.pairing.PairingMode`."""

    store: str | os.PathLike[str] | JudgmentStore
    pairs: PairingMode | str = PairingMode.ALL
    baseline: str | None = None
    target: str | None = None
    opponents: Sequence[str] | None = None
    both_orders: bool = True
    order: str = "balanced"
    order_seed: int = 0
    all_turns: bool = True
    budget: int | None = None
    concurrency: int = 32
    retry_failed: bool = False
    missing: str = "raise"
    progress: ProgressOption = True
    load: bool = True
    rng: int | np.random.Generator | None = None
    engine: Engine | str | RayEngine = Engine.LOCAL
    ray_address: str | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        check_engine(self.engine, ray_address=self.ray_address, workers=self.workers)
        if self.order not in ("balanced", "fixed"):
            raise ValidationError(f"order must be 'balanced' or 'fixed'; got {self.order!r}")
        if self.missing not in ("raise", "skip"):
            raise ValidationError(f"missing must be 'raise' or 'skip'; got {self.missing!r}")
        if not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise ValidationError(
                f"concurrency must be an integer >= 1; got {self.concurrency!r}")
        try:
            object.__setattr__(self, "pairs", PairingMode(self.pairs))
        except ValueError:
            raise ValidationError(
                f"pairs must be one of {[m.value for m in PairingMode]}; got {self.pairs!r}"
            ) from None
        if self.mode is PairingMode.ADAPTIVE and (self.budget is None or self.budget < 1):
            raise ValidationError(f"pairs='adaptive' needs budget= a positive number of "
                                  f"judgments; got {self.budget!r}")

    @property
    def mode(self) -> PairingMode:
        """The pairing mode (:attr:`pairs`, parsed)."""
        return PairingMode(self.pairs)

    def on_ray(self) -> bool:
        """Whether the run judges on a Ray cluster."""
        return check_engine(self.engine, ray_address=self.ray_address,
                            workers=self.workers) is Engine.RAY

    def replace(self, **changes: Any) -> ArenaOptions:
        """A copy with ``changes`` (checked again)."""
        return replace(self, **changes)
