"""wizardarena: offline LLM leaderboards in the spirit of WizardArena (arXiv 2407.10627)."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
