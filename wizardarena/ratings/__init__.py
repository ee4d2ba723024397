"""Ratings: one engine for every fit, pure numpy / scipy.

Read top to bottom:

=====================  ==========================================================================
module                 responsibility
=====================  ==========================================================================
``design.py``          design rows (pairs, optional feature block, Davidson ν) and the data as
                       categories; the identifiability diagnosis
``solver.py``          the one batched damped-Newton solver (one convergence rule: relative
                       gradient, plus a round-off stall test)
``sampling.py``        the one sampler module (battle and prompt units) and the chunk runner
``sandwich.py``        the closed-form sandwich covariance of any design
``result.py``          the one result assembler: Elo scale, centring, intervals, ranks,
                       per-model diagnostics (:class:`RatingResult`, :class:`FitInfo`)
``fit.py``             the fit path: design → diagnosis → point fit → intervals → assembly
``features.py``        style / numeric feature blocks of a log
``style_features.py``  style counts of answer texts
``elo.py``             online Elo (order dependent), vectorised over bootstrap orders
=====================  ==========================================================================

Plain Bradley-Terry, Davidson ties, anchors, the ridge, style control and the sandwich are
options of this one engine. The layer returns a :class:`RatingResult`; the
:class:`~wizardarena.leaderboard.Leaderboard` is built one floor up.
"""

from wizardarena.ratings.result import FitInfo, RatingResult, ranks_from_intervals

__all__ = ["FitInfo", "RatingResult", "ranks_from_intervals"]
