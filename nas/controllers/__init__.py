"""Search controllers behind one ask/tell protocol (`nas.controllers.base` is the contract).

Importing this package registers every built-in controller: ``gp_bandit``, ``random``,
``tpe`` and ``optuna_gp``.  Build one with ``make_controller(name, space, seed=0, **options)``
and rebuild a run's controller with `rebuild_controller`.
"""

from __future__ import annotations

from typing import Any

from nas.controllers import gp_bandit, optuna_samplers, random_search  # noqa: F401  (registers them)
from nas.controllers.base import CONTROLLERS, Controller, Proposal, ReplayError, make_controller
from nas.space.space import SearchSpace
from nas.store import TrialStore


def rebuild_controller(name: str, space: SearchSpace, store: TrialStore, seed: int = 0, **options: Any) -> Controller:
    """The controller of a run, in the state the store's history left it."""
    controller = make_controller(name, space, seed=seed, **options)
    controller.replay(store.events())
    return controller


__all__ = ["CONTROLLERS", "Controller", "Proposal", "ReplayError", "make_controller", "rebuild_controller"]
