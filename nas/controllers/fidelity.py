"""Fidelity bookkeeping of told results: values at a budget, and the budget to model (BOHB-style).

A multi-fidelity search (ASHA, Hyperband) stops bad trials early and tells them with the value
after their last epoch.  Their tell metrics say so: ``epochs_trained``, ``max_epochs`` (stopped
iff ``epochs_trained < max_epochs``) and ``value_curve`` (the value after each epoch
1..epochs_trained).  A result without them is a full-fidelity observation.

A *budget* is a number of epochs.  A trial's value at budget ``b``: its told value when ``b`` is
the number of epochs it trained (a result without fidelity metrics trained the full budget, the
largest ``max_epochs`` or ``epochs_trained`` any result states), ``value_curve[b-1]`` when it
trained more than ``b`` epochs, and none otherwise.  `choose_budget` picks, like BOHB (Falkner
et al. 2018), the largest budget with at least ``rung_min`` values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple, Sequence


@dataclass(frozen=True)
class Fidelity:
    """How much of its budget a told trial trained, and its value after each epoch."""

    epochs: int | None = None  # epochs trained; None: a full-fidelity result that does not say
    max_epochs: int | None = None  # the trial's full budget, if stated
    curve: tuple[float, ...] = ()  # value after epochs 1..len(curve)

    @classmethod
    def from_metrics(cls, metrics: Mapping[str, Any]) -> Fidelity:
        """The fidelity a tell's metrics state; missing or malformed ones mean full fidelity."""
        epochs, max_epochs = metrics.get("epochs_trained"), metrics.get("max_epochs")
        if not (_count(epochs) and _count(max_epochs)):
            return cls()
        curve = metrics.get("value_curve")
        if not isinstance(curve, (list, tuple)) or not all(_finite(v) for v in curve):
            curve = ()
        return cls(int(epochs), int(max_epochs), tuple(float(v) for v in curve[: int(epochs)]))

    @property
    def stopped(self) -> bool:
        """Whether a scheduler ended the trial before its full budget."""
        return self.epochs is not None and self.max_epochs is not None and self.epochs < self.max_epochs

    def reached(self, full: int) -> int:
        """Epochs trained (`full` for a result that does not say)."""
        return full if self.epochs is None else self.epochs

    def value_at(self, budget: int, told: float, full: int) -> float | None:
        """The value after `budget` epochs (`told` at the last epoch trained), or None if unknown."""
        reached = self.reached(full)
        if budget == reached:
            return told
        if budget < reached and budget <= len(self.curve):
            return self.curve[budget - 1]
        return None


class Point(NamedTuple):
    """One observation's value at a budget."""

    index: int  # position in the sequence of observations given
    value: float
    final: bool  # whether it is the told value (the trial's last epoch)


def _count(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 1


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def full_budget(fidelities: Sequence[Fidelity]) -> int | None:
    """The largest budget any result states (None when none states one)."""
    stated = [b for f in fidelities for b in (f.epochs, f.max_epochs) if b is not None]
    return max(stated) if stated else None


def values_at(observations: Sequence[tuple[float, Fidelity]], budget: int | None) -> list[Point]:
    """Values at `budget` of (told value, fidelity) pairs, in their order (`budget` None: the told values)."""
    if budget is None:
        return [Point(i, value, True) for i, (value, _) in enumerate(observations)]
    full = full_budget([f for _, f in observations]) or budget
    points = []
    for i, (told, fidelity) in enumerate(observations):
        value = fidelity.value_at(budget, told, full)
        if value is not None:
            points.append(Point(i, value, budget == fidelity.reached(full)))
    return points


def choose_budget(observations: Sequence[tuple[float, Fidelity]], rung_min: int) -> int | None:
    """The budget to model: None (every told value) when no trial was stopped, else the largest
    budget with at least `rung_min` values, or failing that the one with most values (ties: larger)."""
    fidelities = [f for _, f in observations]
    if not any(f.stopped for f in fidelities):
        return None
    full = full_budget(fidelities)
    assert full is not None  # a stopped trial states its budget
    counts = [0] * (full + 1)  # counts[b]: observations with a value at budget b
    for fidelity in fidelities:
        reached = fidelity.reached(full)
        for b in range(1, min(len(fidelity.curve), reached - 1) + 1):
            counts[b] += 1
        counts[reached] += 1
    enough = [b for b in range(1, full + 1) if counts[b] >= rung_min]
    if enough:
        return enough[-1]
    return max(range(1, full + 1), key=lambda b: (counts[b], b))
