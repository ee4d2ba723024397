"""The simulated arena: battle logs with known truth, and an OpenAI-compatible server.

* :func:`simulate_battles` (pure): a battle log drawn from known Bradley-Terry ratings;
  :func:`simulate_style_battles`: one from a judge that also rewards style.
* :class:`SimArena` (loopback HTTP): models with latent skills and style traits, a judge
  with noise, ties and position bias, fault injection; used by the demo, tests and benchmarks.
"""

from __future__ import annotations

from wizardarena.sim.battles import simulate_battles
from wizardarena.sim.embeddings import hashed_embedding
from wizardarena.sim.faults import Faults
from wizardarena.sim.server import SimArena, SimStats, closed_port_url
from wizardarena.sim.style import simulate_style_battles
from wizardarena.sim.world import SimJudge, SimModel, request_key

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
    "simulate_style_battles",
]
