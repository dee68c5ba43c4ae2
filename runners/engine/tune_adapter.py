"""The Ray Tune side of a search: the searcher adapting the driver, and the trial trainable.

- `ControllerSearcher.suggest` returns the driver's next attempt as the trial config (None
  while in-flight trials may still need a retry, FINISHED when the search is done);
  `on_trial_complete` reports the outcome.  Each attempt is its own Tune trial, so retries,
  their count and their errors stay with the driver and the store.  Tune's own searcher
  checkpoints are skipped: the trial store is the record a search resumes from.
- `run_trial` is the trainable.  It runs `evaluate_trial` in the worker (the objective built
  by name) and reports ``ok`` with the score and metrics (plus ``node``, the Ray node that
  ran it), or the error text when the objective raised;
  a lost worker reaches the searcher as a Tune trial error instead, and `ErrorText` hands
  the driver Ray's error file for it.

Tune pickles its searcher and callbacks with the experiment state; the driver (an open
database, a controller) is left out of that and stays in this process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ray
from ray import tune
from ray.tune.search import Searcher

from runners.engine.search_driver import SearchDriver, evaluate_trial


class _Unpickled:
    """Mixin: leave the driver out of Tune's pickles of this object."""

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "driver"}


class ControllerSearcher(_Unpickled, Searcher):
    """Ray Tune search algorithm that asks the search driver (see the module docstring)."""

    def __init__(self, driver: SearchDriver) -> None:
        super().__init__()
        self.driver = driver
        self.trial_to_proposal: dict[str, str] = {}

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        """The next attempt's config, None (not now) or FINISHED."""
        order = self.driver.next_trial()
        if order is None:
            return Searcher.FINISHED if self.driver.done() else None
        self.trial_to_proposal[trial_id] = order.proposal_id
        return order.as_config()

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        """Hand the attempt's outcome to the driver (None when Ray lost the trial)."""
        outcome = None if error or not result or "outcome" not in result else json.loads(result["outcome"])
        self.driver.record_outcome(self.trial_to_proposal[trial_id], outcome)

    def save_to_dir(self, checkpoint_dir: str, session_str: str = "default") -> None:
        """Nothing to save: the trial store is the search's record."""


class ErrorText(_Unpickled, tune.Callback):
    """Gives the driver the error file text of trials Ray saw fail (a lost worker, say)."""

    def __init__(self, driver: SearchDriver, searcher: ControllerSearcher) -> None:
        self.driver = driver
        self.searcher = searcher

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """Record Ray's error text for the trial's proposal."""
        proposal_id = self.searcher.trial_to_proposal.get(trial.trial_id)
        path = getattr(trial, "error_file", None)
        if proposal_id is not None and path and Path(path).is_file():
            self.driver.error_detail(proposal_id, Path(path).read_text(errors="replace")[-8000:])


def run_trial(config: dict[str, Any]) -> None:
    """Tune trainable: evaluate one attempt of one trial and report its outcome."""
    outcome = evaluate_trial(config, workdir=tune.get_context().get_trial_dir())
    outcome["node"] = ray.get_runtime_context().get_node_id()[:12]
    if outcome["ok"]:
        outcome["metrics"]["node"] = outcome["node"]
    tune.report({"outcome": json.dumps(outcome)})  # as one string: Tune flattens nested results
