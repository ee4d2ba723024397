"""The public wire format of a battle log, as the simulator writes it.

The simulator speaks only the public format: a battle log is a table with the columns
``model_a``, ``model_b`` and ``winner``, whose winner labels are FastChat's strings. They are
written here from that public description, not imported from the package the simulator
tests, so that a change of the package's label table shows up as a failing test instead of
changing the simulated data with it.
"""

from __future__ import annotations

__all__ = ["WINNER_LABELS"]

#: the winner labels of a battle log, in the order (``model_a`` wins, ``model_b`` wins, tie,
#: tie where both answers are bad)
WINNER_LABELS: tuple[str, str, str, str] = ("model_a", "model_b", "tie", "tie (bothbad)")
