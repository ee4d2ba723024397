"""Which models meet on which prompts, in which order (pure; no I/O).

Modes (:class:`PairingMode`):

- ``"all"``: round robin, every unordered pair (WizardArena);
- ``"baseline"``: every model against one baseline, the baseline shown first in game 0
  (Arena-Hard);
- ``"target"``: one target against opponents, the target shown first in game 0 (the data
  flywheel);
- ``"adaptive"``: spend a judgment budget where the pairwise rating uncertainty is largest
  (:class:`AdaptiveSampler`).

A pair's canonical order is game 0; game 1 swaps the slots. With ``both_orders`` every
(prompt, pair, turn) is judged in both games. With one order only, the order is *balanced*
by default (:func:`single_order_game`): each (prompt, pair, turn) is shown in game 0 or
game 1 by a seeded hash of its key, so every pair, and hence every model, is shown first in
about half of its judgments, whatever the model names, the mode (a baseline or a target is
no longer always first) or which prompts are added later; ``order="fixed"`` keeps the
canonical order (the baseline or target, or the alphabetically first model, first).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from wizardarena.battles.schema import OUTCOME_SIGN, WINNER_LABELS, WINNER_OUTCOMES
from wizardarena.exceptions import ValidationError

__all__ = [
    "AdaptiveSampler",
    "Match",
    "PairingMode",
    "iter_matches",
    "model_pairs",
    "single_order_game",
]


class PairingMode(str, Enum):
    """How models are paired."""

    ALL = "all"
    BASELINE = "baseline"
    TARGET = "target"
    ADAPTIVE = "adaptive"


@dataclass(frozen=True)
class Match:
    """One judgment to request: ``model_a`` is shown in the first slot."""

    question_id: str
    model_a: str
    model_b: str
    game: int
    turn: int


def _mode(mode: PairingMode | str) -> PairingMode:
    try:
        return PairingMode(mode)
    except ValueError:
        raise ValidationError(
            f"pairs must be one of {[m.value for m in PairingMode]}; got {mode!r}"
        ) from None


def model_pairs(
    models: Sequence[str],
    *,
    mode: PairingMode | str = "all",
    baseline: str | None = None,
    target: str | None = None,
    opponents: Sequence[str] | None = None,
) -> list[tuple[str, str]]:
    """Canonical (game 0) pairs.

    Parameters
    ----------
    models : sequence of str
        Model names (duplicates raise).
    mode : {"all", "baseline", "target", "adaptive"}, default "all"
        ``"adaptive"`` returns all pairs (the candidates).
    baseline : str, optional
        Required for ``"baseline"``.
    target : str, optional
        Required for ``"target"``.
    opponents : sequence of str, optional
        For ``"target"``: the opponents (default every other model).

    Returns
    -------
    list of (str, str)
        ``"all"``: sorted names, a < b. ``"baseline"``: (baseline, m). ``"target"``:
        (target, opponent).
    """
    names = [str(m) for m in models]
    dup = sorted({m for m in names if names.count(m) > 1})
    if dup:
        raise ValidationError(f"models must be unique; {dup} appear more than once")
    if len(names) < 2:
        raise ValidationError(f"at least two models are needed; got {names}")
    m = _mode(mode)
    ordered = sorted(names)
    if m in (PairingMode.ALL, PairingMode.ADAPTIVE):
        return list(itertools.combinations(ordered, 2))
    if m is PairingMode.BASELINE:
        if baseline not in names:
            raise ValidationError(
                f"pairs='baseline' needs baseline= one of the models {ordered}; got {baseline!r}"
            )
        return [(str(baseline), x) for x in ordered if x != baseline]
    if target not in names:
        raise ValidationError(
            f"pairs='target' needs target= one of the models {ordered}; got {target!r}"
        )
    opp = ordered if opponents is None else [str(o) for o in opponents]
    unknown = [o for o in opp if o not in names]
    if unknown:
        raise ValidationError(f"opponents {unknown[:5]} are not among the models {ordered}")
    pairs = [(str(target), o) for o in dict.fromkeys(opp) if o != target]
    if not pairs:
        raise ValidationError("pairs='target' needs at least one opponent other than the target")
    return pairs


def single_order_game(question_id: str, model_a: str, model_b: str, turn: int,
                      seed: int = 0) -> int:
    """The game (0: canonical order, 1: swapped) of a comparison judged in one order only.

    A bit of a keyed hash (BLAKE2b of the seed and the comparison's key): deterministic, so
    a rerun asks for exactly the judgments it stored; independent of the other prompts and
    models, so adding prompts never changes an earlier one; and fair, so each pair is shown
    in each order about half the time (binomially: ± √n / 2 over n prompts).
    """
    key = f"{seed}\x1f{question_id}\x1f{turn}\x1f{model_a}\x1f{model_b}".encode()
    return hashlib.blake2b(key, digest_size=8).digest()[0] & 1


def iter_matches(
    question_turns: Mapping[str, int],
    pairs: Sequence[tuple[str, str]],
    *,
    both_orders: bool = True,
    all_turns: bool = True,
    order: str = "balanced",
    order_seed: int = 0,
) -> Iterator[Match]:
    """Every match of a schedule, lazily: per question, per pair, per turn, game 0 then 1.

    Parameters
    ----------
    question_turns : mapping of str to int
        Question id to its number of user turns (>= 1).
    pairs : sequence of (str, str)
        Canonical pairs (see :func:`model_pairs`).
    both_orders : bool, default True
        Also yield game 1 (slots swapped).
    all_turns : bool, default True
        Judge every turn of multi-turn questions (MT-Bench); else only the last.
    order : {"balanced", "fixed"}, default "balanced"
        With one order only: the seeded balanced order of :func:`single_order_game`, or the
        canonical order (game 0) for every comparison.
    order_seed : int, default 0
        Seed of the balanced order.
    """
    if order not in ("balanced", "fixed"):
        raise ValidationError(f"order must be 'balanced' or 'fixed'; got {order!r}")
    for qid, n_turns in question_turns.items():
        turns = range(1, n_turns + 1) if all_turns else (n_turns,)
        for a, b in pairs:
            for t in turns:
                if both_orders:
                    games: tuple[int, ...] = (0, 1)
                elif order == "fixed":
                    games = (0,)
                else:
                    games = (single_order_game(qid, a, b, t, order_seed),)
                for g in games:
                    yield Match(qid, a, b, g, t) if g == 0 else Match(qid, b, a, g, t)


def _bt_fit(n_models: int, wins: np.ndarray, n_iter: int = 200) -> np.ndarray:
    """Log-strengths by MM (Hunter 2004) with a small symmetric prior; ties as half wins."""
    games = wins + wins.T
    w = wins.sum(axis=1) + 0.5
    p = np.ones(n_models)
    for _ in range(n_iter):
        denom = ((games + 1.0 / n_models) / (p[:, None] + p[None, :])).sum(axis=1)
        p_new = w / denom
        p_new /= np.exp(np.mean(np.log(p_new)))
        if np.max(np.abs(p_new - p)) < 1e-9:
            p = p_new
            break
        p = p_new
    out: np.ndarray = np.log(p)
    return out


class AdaptiveSampler:
    """Choose the next batch of comparisons where the rating uncertainty is largest.

    After each batch, fit Bradley-Terry on the results so far, compute the Fisher
    information, and score each pair by ``Var(r_i - r_j) * p_ij * (1 - p_ij)`` (expected
    information of one more game); the highest-scoring pairs get a fresh prompt each.

    Parameters
    ----------
    models : sequence of str
    question_ids : sequence of str
        The prompt pool (each pair uses each prompt at most once).
    batch_pairs : int, default 16
        Pairs per batch (each yields one or two matches, see ``both_orders``).
    rng : int, numpy.random.Generator or None
        Order in which each pair draws its prompts, and tie-breaking.
    """

    def __init__(
        self,
        models: Sequence[str],
        question_ids: Sequence[str],
        *,
        batch_pairs: int = 16,
        rng: int | np.random.Generator | None = None,
    ) -> None:
        self.models = sorted(str(m) for m in models)
        self.pairs = model_pairs(self.models)
        if not question_ids:
            raise ValidationError("question_ids must not be empty")
        if batch_pairs < 1:
            raise ValidationError(f"batch_pairs must be >= 1; got {batch_pairs}")
        self.batch_pairs = batch_pairs
        self._rng = np.random.default_rng(rng)
        self._qids = [str(q) for q in question_ids]
        self._next = {p: 0 for p in self.pairs}
        self._order = {p: self._rng.permutation(len(self._qids)) for p in self.pairs}
        self._index = {m: i for i, m in enumerate(self.models)}
        self._wins = np.zeros((len(self.models), len(self.models)))

    def record(self, model_a: str, model_b: str, winner: str) -> None:
        """Add one outcome (``winner`` in model_a, model_b, tie, tie (bothbad))."""
        i, j = self._index[model_a], self._index[model_b]
        outcome = WINNER_OUTCOMES.get(winner)
        if outcome is None:
            raise ValidationError(
                f"winner must be one of {', '.join(WINNER_LABELS)}; got {winner!r}"
            )
        sign = OUTCOME_SIGN[outcome]
        if sign > 0:
            self._wins[i, j] += 1
        elif sign < 0:
            self._wins[j, i] += 1
        else:
            self._wins[i, j] += 0.5
            self._wins[j, i] += 0.5

    def pair_scores(self) -> np.ndarray:
        """Score of each pair in :attr:`pairs` (higher = more useful next), shape (P,)."""
        n = len(self.models)
        theta = _bt_fit(n, self._wins)
        prob = 1.0 / (1.0 + np.exp(-(theta[:, None] - theta[None, :])))
        games = self._wins + self._wins.T
        info_w = games * prob * prob.T
        lap = np.diag(info_w.sum(axis=1)) - info_w + 1e-3 * np.eye(n)  # weak prior
        cov = np.linalg.pinv(lap)
        scores = np.empty(len(self.pairs))
        for k, (a, b) in enumerate(self.pairs):
            i, j = self._index[a], self._index[b]
            var = cov[i, i] + cov[j, j] - 2 * cov[i, j]
            scores[k] = var * prob[i, j] * (1 - prob[i, j])
        return scores

    def next_pairs(self) -> list[tuple[str, str, str]]:
        """The next batch: (model_a, model_b, question_id) with prompts left; may be empty."""
        scores = self.pair_scores() + self._rng.uniform(0, 1e-9, len(self.pairs))
        out: list[tuple[str, str, str]] = []
        for k in np.argsort(-scores):
            pair = self.pairs[int(k)]
            pos = self._next[pair]
            if pos >= len(self._qids):
                continue
            self._next[pair] = pos + 1
            out.append((pair[0], pair[1], self._qids[int(self._order[pair][pos])]))
            if len(out) >= self.batch_pairs:
                break
        return out
