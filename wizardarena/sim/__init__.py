"""The simulated arena: battle logs with known truth, and an OpenAI-compatible server.

* :func:`simulate_battles` (pure): a battle log drawn from known Bradley-Terry ratings.
* :class:`SimArena` (loopback HTTP): models with latent skills and style traits, a judge
  with noise, ties and position bias, fault injection; used by the demo, tests and benchmarks.
"""

from __future__ import annotations

from wizardarena.sim.battles import simulate_battles
from wizardarena.sim.server import (
    Faults,
    SimArena,
    SimJudge,
    SimModel,
    SimStats,
    closed_port_url,
    hashed_embedding,
    request_key,
)

__all__ = [
    "Faults",
    "SimArena",
    "SimJudge",
    "SimModel",
    "SimStats",
    "closed_port_url",
    "hashed_embedding",
    "request_key",
    "simulate_battles",
]
