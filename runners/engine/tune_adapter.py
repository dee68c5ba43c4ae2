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
- Epochs: an objective that reports after each epoch makes one Tune result per epoch
  (`search_driver.epoch_row`: epoch, value, score, the objective's numbers, FLOPs, all plain
  numbers, so Tune's TensorBoard and CSV loggers draw a curve per trial); the last epoch's row
  goes out with the outcome, so a trial of E epochs has exactly E results.  Each row also
  travels as one JSON string (``row``) that the searcher hands to the driver
  (`on_trial_result`).  A trial that a scheduler stops ends with a result that has a row but
  no outcome: `on_trial_complete` records it as stopped at that row's epoch.

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

from runners.engine.search_driver import SearchDriver, epoch_row, evaluate_trial


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

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        """Hand an epoch's row to the driver (the store and the progress line)."""
        if "row" in result and trial_id in self.trial_to_proposal:
            self.driver.epoch_reported(self.trial_to_proposal[trial_id], json.loads(result["row"]))

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        """Hand the attempt's outcome to the driver: complete/failed, stopped by the scheduler, or lost."""
        proposal_id = self.trial_to_proposal[trial_id]
        if not error and result and "outcome" not in result and "row" in result:
            self.driver.attempt_stopped(proposal_id, json.loads(result["row"]))
            return
        if not error and result and "row" in result:  # the last epoch (not seen by on_trial_result if a scheduler stopped it)
            self.driver.epoch_reported(proposal_id, json.loads(result["row"]), echo=False)
        outcome = None if error or not result or "outcome" not in result else json.loads(result["outcome"])
        self.driver.record_outcome(proposal_id, outcome)

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
    """Tune trainable: evaluate one attempt of one trial, reporting each epoch, then its outcome."""
    last: dict[str, Any] = {}

    def report(epoch: Any) -> None:
        row = epoch_row(config, epoch)
        last.clear()
        last.update(_numbers(row))
        if epoch.epoch < epoch.max_epochs:  # a scheduler may stop the trial here (this call then ends the thread)
            tune.report(last)

    outcome = evaluate_trial(config, workdir=tune.get_context().get_trial_dir(), report=report)
    outcome["node"] = ray.get_runtime_context().get_node_id()[:12]
    if outcome["ok"]:
        outcome["metrics"]["node"] = outcome["node"]
    tune.report({**last, "outcome": json.dumps(outcome)})  # as one string: Tune flattens nested results


def _numbers(row: dict[str, Any]) -> dict[str, Any]:
    """An epoch row as Tune's result: its numbers under their names, and the row as one JSON string."""
    return {**row, "row": json.dumps(row)}
