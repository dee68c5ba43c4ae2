"""Trial objectives: what a search trial computes for a cell (see `nas.objectives.base`).

Importing this package registers every built-in objective in `OBJECTIVES`.
"""

from nas.objectives import toy, train  # noqa: F401  (registers toy, train)
from nas.objectives.base import OBJECTIVES, Cost, EpochReport, Objective, TrialContext, TrialResult, make_objective

__all__ = ["OBJECTIVES", "Cost", "EpochReport", "Objective", "TrialContext", "TrialResult", "make_objective"]
