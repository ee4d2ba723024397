"""Battle logs for tests: the named logs shipped as package data, and simulated logs with
known truth seeded from a test's node id."""

from __future__ import annotations

import dataclasses
import json
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wizardarena.battles import read_battles
from wizardarena.exceptions import ValidationError
from wizardarena.leaderboard import Leaderboard
from wizardarena.progress import ProgressOption, progress_callback
from wizardarena.ratings.fit import fit_log, resolve_seed
from wizardarena.ratings.options import RatingOptions
from wizardarena.sim import Faults, SimArena, simulate_battles

__all__ = [
    "DEFAULT_SIM_MODELS",
    "FIXTURE_LOGS",
    "FixtureLog",
    "fixture_log",
    "logs_dir",
    "node_seed",
    "simulate_log",
    "start_sim_arena",
]

#: the named logs, with what each one is for
FIXTURE_LOGS: dict[str, str] = {
    "ties": "4 models, 400 battles on 40 prompts; half the games between close models are ties",
    "unbalanced": "5 models, 500 battles; pair frequencies from 1 to 50 (some pairs barely meet)",
    "undefeated": "4 models; 'champ' never lost (no finite maximum-likelihood rating)",
    "disconnected": "5 models in two islands that never met ('island-1', 'island-2')",
    "fastchat": "a small real-shaped offline arena (Arena-Hard design: 5 models vs gpt-4-0314 "
                "on 40 prompts, both orders) as a FastChat clean_battle JSON list",
    "arena-hard": "the same games as 'fastchat' as Arena-Hard JSON lines (A>>B ... B>>A; "
                  "read with outcomes='arena-hard')",
}
_FILES = {"ties": "ties.csv", "unbalanced": "unbalanced.csv", "undefeated": "undefeated.csv",
          "disconnected": "disconnected.csv", "fastchat": "fastchat.json",
          "arena-hard": "arena_hard.jsonl"}

#: the models of ``sim_arena`` when a test names none (skills on the Elo scale)
DEFAULT_SIM_MODELS: dict[str, float] = {"model-a": 1200.0, "model-b": 1100.0, "model-c": 1000.0}


@dataclass(frozen=True, eq=False)
class FixtureLog:
    """A battle log with the true ratings it was drawn from.

    Unpacks as ``battles, truth = log``.

    Attributes
    ----------
    battles : DataFrame
        The log as a user reads it with pandas (``model_a``, ``model_b``, ``winner``,
        ``question_id``, ...), not yet validated.
    truth : Series
        True rating per model (Elo scale), indexed by model. For simulated logs whose ratings
        were not given, centred at 1000 like an unanchored board.
    name : str
        The named log, or ``"simulated"``.
    outcomes : str
        Vocabulary of the ``winner`` column (``"fastchat"`` or ``"arena-hard"``).
    path : Path or None
        The packaged file (named logs), for the command line.
    seed : int or None
        The seed a simulated log was drawn with (``simulate_log(..., rng=seed)`` redraws it).
    description : str
    """

    battles: pd.DataFrame
    truth: pd.Series
    name: str = "simulated"
    outcomes: str = "fastchat"
    path: Path | None = None
    seed: int | None = None
    description: str = field(default="", repr=False)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.battles, self.truth))

    def rank(self, *, outcomes: str | None = None, strong_weight: float = 1.0,
             normalize_names: bool = False, answers: Any = None, tokenizer: Any = None,
             by: str | None = None, rng: int | np.random.Generator | None = None,
             progress: ProgressOption = True, **options: Any) -> Any:
        """The board of the log, as ``wa.rank(log.battles, outcomes=log.outcomes, ...)``
        gives it: ``options`` are the rating options of :func:`wizardarena.rank`
        (:class:`~wizardarena.ratings.options.RatingOptions`), and ``by``, ``answers``,
        ``rng``, ``progress`` and the reading options mean what they mean there."""
        fields = {f.name for f in dataclasses.fields(RatingOptions)}
        unknown = sorted(set(options) - fields)
        if unknown:
            raise ValidationError(
                f"FixtureLog.rank takes the rating options of wa.rank; {unknown} are not "
                f"among them (they are {sorted(fields)}): use wa.rank(log.battles, ...) "
                "for the arena's and the engine's options")
        log = read_battles(self.battles, outcomes=outcomes or self.outcomes,
                           strong_weight=strong_weight, normalize_names=normalize_names)
        opts = RatingOptions(**options)
        with progress_callback(progress) as report:
            result = fit_log(log, opts, answers=answers, tokenizer=tokenizer, by=by, rng=rng,
                             progress=report)
        if isinstance(result, dict):
            return {value: Leaderboard.from_result(r) for value, r in result.items()}
        return Leaderboard.from_result(result)


def logs_dir() -> Path:
    """The folder of the packaged logs (``wizardarena/data/logs``)."""
    return Path(str(resources.files("wizardarena") / "data" / "logs"))


def fixture_log(name: str) -> FixtureLog:
    """One of the named logs shipped with the package (see :data:`FIXTURE_LOGS`)."""
    if name not in _FILES:
        raise ValidationError(f"no fixture log named {name!r}; the named logs are "
                              f"{sorted(_FILES)}")
    path = logs_dir() / _FILES[name]
    truth = json.loads((logs_dir() / "truth.json").read_text(encoding="utf-8"))[name]
    if path.suffix == ".csv":
        frame = pd.read_csv(path, dtype={"model_a": str, "model_b": str})
    elif path.suffix == ".json":
        frame = pd.DataFrame.from_records(json.loads(path.read_text(encoding="utf-8")))
    else:
        frame = pd.read_json(path, lines=True, dtype=False)
    return FixtureLog(battles=frame, truth=_series(truth), name=name,
                      outcomes="arena-hard" if name == "arena-hard" else "fastchat",
                      path=path, description=FIXTURE_LOGS[name])


def node_seed(node_id: str, call: int = 0) -> int:
    """A seed from a test's node id (CRC-32, stable across runs and machines) and the number
    of the call within the test, so two logs drawn in one test differ."""
    key = zlib.crc32(node_id.encode("utf-8"))
    return int(np.random.SeedSequence(key, spawn_key=(call,)).generate_state(1, np.uint64)[0]
               % (2**63))


def simulate_log(
    ratings: Mapping[str, float] | pd.Series | None = None,
    n_battles: int = 2000,
    *,
    n_models: int = 6,
    spread: float = 100.0,
    tie_rate: float = 0.2,
    prompts: int | None = 100,
    prompt_effect: float = 0.5,
    unbalanced: float = 1.0,
    rng: int | np.random.Generator | None = None,
) -> FixtureLog:
    """A simulated battle log with known truth (see :func:`wizardarena.simulate_battles`).

    Parameters
    ----------
    ratings : mapping or Series, optional
        True ratings. Default: ``n_models`` models ``model-00``, ``model-01``, ... with ratings
        drawn from ``N(1000, spread²)`` and centred at 1000.
    n_battles : int, default 2000
    tie_rate : float, default 0.2
        Tie probability between equally rated models.
    prompts : int or None, default 100
        Number of prompts (``question_id``); None for a log without prompt ids.
    prompt_effect : float, default 0.5
        Per-prompt correlation ρ (0 without ``prompts``).
    unbalanced : float, default 1.0
        Spread of the pair frequencies: each pair's weight is ``exp(unbalanced · N(0, 1))``
        (1.0: the most frequent pair meets about 10-30 times as often as the rarest); 0 for
        a balanced design.
    rng : int, Generator or None
        Seed (the ``battle_log_factory`` fixture derives it from the test's node id; with
        None a seed is drawn and recorded in ``seed``).

    Returns
    -------
    FixtureLog
    """
    gen, seed = resolve_seed(rng)
    if ratings is None:
        if not isinstance(n_models, (int, np.integer)) or n_models < 2:
            raise ValidationError(f"n_models must be an integer ≥ 2; got {n_models!r}")
        z = gen.standard_normal(int(n_models)) * float(spread)
        ratings = {f"model-{k:02d}": float(1000.0 + v) for k, v in enumerate(z - z.mean())}
    truth = _series(ratings)
    m = len(truth)
    if not np.isfinite(unbalanced) or unbalanced < 0:
        raise ValidationError(f"unbalanced must be a non-negative number; got {unbalanced!r}")
    w = np.exp(float(unbalanced) * gen.standard_normal((m, m)))
    log = simulate_battles(truth, n_battles, tie_rate=tie_rate, prompts=prompts,
                           prompt_effect=prompt_effect if prompts is not None else 0.0,
                           pair_weights=np.triu(w, 1), rng=gen)
    return FixtureLog(battles=log, truth=truth, seed=seed,
                      description=f"simulated: {m} models, {n_battles} battles")


def start_sim_arena(models: Mapping[str, Any] | None = None, *, rng: int | None = None,
                    faults: Any = None, **options: Any) -> Any:
    """Start a :class:`wizardarena.sim.SimArena` (``faults`` may be a ``Faults`` or a dict of
    its fields, e.g. ``{"rate_429": 0.2}``); the caller stops it."""
    if isinstance(faults, Mapping):
        unknown = sorted(set(faults) - set(Faults.__dataclass_fields__))
        if unknown:
            raise ValidationError(f"unknown fault switch(es) {unknown}; the switches are "
                                  f"{sorted(Faults.__dataclass_fields__)}")
        faults = Faults(**faults)
    arena = SimArena(DEFAULT_SIM_MODELS if models is None else models, faults=faults, rng=rng,
                     **options)
    return arena.start()


def _series(ratings: Mapping[str, float] | pd.Series) -> pd.Series:
    s = pd.Series({str(k): float(v) for k, v in dict(ratings).items()}, name="true_rating")
    s.index.name = "model"
    return s
