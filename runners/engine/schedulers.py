"""Trial schedulers of a search: FIFO (every trial trains to the end), ASHA and asynchronous Hyperband.

Both early-stopping schedulers are Ray Tune's `AsyncHyperBandScheduler` (of which Tune's
``ASHAScheduler`` is an alias): ``asha`` is one bracket of asynchronous successive halving (Li et
al., MLSys 2020) with rungs at ``grace_period * reduction_factor**k`` epochs; ``hyperband`` loops
ASHA over every bracket Hyperband would run (Li et al. 2020, section 3.3: brackets s = 0 ..
floor(log_rf(max_epochs / grace_period)), bracket s starting its rungs at grace * rf**s), so some
trials are never stopped before epochs a low rung could misjudge.  A trial is stopped at a rung
when its value there is below the (1 - 1/rf) quantile of the values recorded at that rung so far.

Tune's synchronous ``HyperBandScheduler`` is not offered: it pauses trials until a bracket fills
and resumes them from Tune checkpoints, which a search of one or two workers spends waiting, and
which would restart a trial's per-epoch record in the store.

Two things are ours on top of Tune's class (`SeededASHA`), both so that a search stays the record
of itself: (1) the bracket of a trial is drawn from ``default_rng([seed, trial number])`` with
Tune's probabilities instead of NumPy's global generator, so a search repeats exactly; (2) a
resumed search's scheduler starts with the rungs filled from the store (every finished trial's
value at each rung it reached), so trials after a resume are judged against the whole search,
not against an empty rung.  Both use Tune's internal bracket layout (``_brackets``, ``_rungs``,
``_trial_info``), pinned by tests/test_schedulers.py.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from ray.tune.schedulers import AsyncHyperBandScheduler

TIME_ATTR = "epoch"  # what a trial's results count rungs in (Tune's own iteration count would also do)
METRIC = "value"  # the score so far after the FLOPs penalty, maximised


def hyperband_brackets(max_epochs: int, grace_period: int, reduction_factor: float) -> int:
    """How many brackets Hyperband has: floor(log_rf(max_epochs / grace_period)) + 1."""
    return int(math.floor(math.log(max_epochs / grace_period) / math.log(reduction_factor) + 1e-9)) + 1


def rungs(max_epochs: int, grace_period: int, reduction_factor: float, bracket: int = 0) -> list[int]:
    """The epochs at which a trial of `bracket` can be stopped (ascending; Tune's milestones)."""
    count = int(math.log(max_epochs / grace_period) / math.log(reduction_factor) - bracket + 1)
    return [int(grace_period * reduction_factor ** (k + bracket)) for k in range(count)]


def make_scheduler(name: str, seed: int, max_epochs: int | None, grace_period: int, reduction_factor: float,
                   history: Sequence[tuple[int, Sequence[float]]] = ()) -> Any:
    """The Tune scheduler `name` (None for fifo); `history` is (trial number, value after each epoch)
    of the trials already finished, which a resumed search's rungs start from."""
    if name == "fifo":
        return None
    if max_epochs is None:
        raise ValueError(f"scheduler {name!r} needs an objective that reports epochs")
    brackets = 1 if name == "asha" else hyperband_brackets(max_epochs, grace_period, reduction_factor)
    scheduler = SeededASHA(seed, time_attr=TIME_ATTR, metric=METRIC, mode="max", max_t=max_epochs,
                                grace_period=grace_period, reduction_factor=reduction_factor, brackets=brackets)
    for number, curve in history:
        scheduler.record(number, curve)
    return scheduler


class SeededASHA(AsyncHyperBandScheduler):
    """Tune's asynchronous Hyperband with seeded brackets and rungs filled from a store (module docstring)."""

    def __init__(self, seed: int, **options: Any) -> None:
        super().__init__(**options)
        self._seed = int(seed)

    def bracket_of(self, number: int) -> int:
        """The bracket of trial `number`: Tune's probabilities, drawn from (seed, number)."""
        sizes = np.array([len(b._rungs) for b in self._brackets])
        probs = np.exp(sizes - sizes.max())
        return int(np.random.default_rng([self._seed, number]).choice(len(sizes), p=probs / probs.sum()))

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        """Put a new trial in its seeded bracket (Tune's own draws from NumPy's global generator)."""
        if not self._metric or not self._metric_op:
            raise ValueError("the scheduler needs a metric and a mode")
        self._trial_info[trial.trial_id] = self._brackets[self.bracket_of(int(trial.config["number"]))]

    def record(self, number: int, curve: Sequence[float]) -> None:
        """Enter a finished trial's value at each rung of its bracket that it reached."""
        bracket = self._brackets[self.bracket_of(number)]
        for milestone, recorded in bracket._rungs:
            if len(curve) >= milestone:
                recorded[f"stored-{number}"] = self._metric_op * float(curve[int(milestone) - 1])
