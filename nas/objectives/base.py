"""The trial body of a search, behind one small interface: an *objective* chosen by name.

A search trial asks an objective two things about a cell genotype:

- ``cost(genotype) -> Cost | None``: the FLOPs (and parameters) of the model built with the
  cell, computed *before* training, so that a hard FLOPs budget can skip a cell without
  training it.  ``None`` means the objective does not count FLOPs (then the FLOPs budget
  options are refused with a one-line error).
- ``evaluate(genotype, context) -> TrialResult``: the score to maximise (for the real
  objective: accuracy on the search-val split after training on search-train) and any extra
  metrics.  It may raise; the search records the error and retries a bounded number of times.

An objective is a frozen dataclass whose fields are its options (``--objective-option
name=value`` on the command line); it is built in the driver for ``cost`` and again in every
Ray worker for ``evaluate``, so it must be cheap to construct and hold no open resources.
Register one with ``@OBJECTIVES.decorator("name")``; adding the training objective is one
such class with an ``evaluate`` method (and ``cost`` once FLOPs counting exists).
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from nas.errors import UserError
from nas.registry import Registry
from nas.space.genotype import Genotype
from nas.space.schema import check_type


@dataclass(frozen=True)
class Cost:
    """What a model with the cell costs, counted before it is trained."""

    gflops: float  # a multiply-add counts as two FLOPs
    params: int | None = None  # parameter count, when the objective knows it


@dataclass(frozen=True)
class TrialContext:
    """What a trial knows besides its cell."""

    seed: int  # the trial's own seed (same for every attempt of the trial)
    proposal_id: str  # the controller's id of the proposal
    attempt: int = 1  # 1 for the first try, 2 for the first retry, ...
    workdir: str | None = None  # a scratch folder of this attempt (checkpoints, logs), if any
    report: Callable[[EpochReport], None] | None = None  # called after every epoch, when the caller listens


@dataclass(frozen=True)
class EpochReport:
    """What a trial says after one epoch: the score so far (the one the trial would return if it
    ended now, so trials at the same epoch compare) and numbers to plot."""

    epoch: int  # from 1
    max_epochs: int  # the trial's full budget
    score: float
    metrics: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialResult:
    """The outcome of a trial: the score to maximise and extra numbers to record."""

    score: float
    metrics: Mapping[str, float] = field(default_factory=dict)


class Objective(ABC):
    """A trial body (see the module docstring for the contract)."""

    def cost(self, genotype: Genotype) -> Cost | None:
        """FLOPs/params of the model with `genotype`; None when this objective does not count them."""
        return None

    @abstractmethod
    def evaluate(self, genotype: Genotype, context: TrialContext) -> TrialResult:
        """Train/score the cell; raise on failure (a NaN score also counts as a failure)."""

    def max_epochs(self) -> int | None:
        """The epochs a full trial trains when `evaluate` reports after each (to `context.report`), else None.

        A scheduler (ASHA, Hyperband) can stop only trials of an objective that reports."""
        return None

    def options(self) -> dict[str, Any]:
        """The objective's options as a JSON-ready dict (its dataclass fields)."""
        return dataclasses.asdict(self) if dataclasses.is_dataclass(self) else {}


OBJECTIVES: Registry[type[Objective]] = Registry("objective")
"""Objective classes by name.  Import `nas.objectives` to get every built-in one registered."""


def make_objective(name: str, options: Mapping[str, Any] | None = None) -> Objective:
    """The objective `name` with `options`; unknown names or options are a one-line `UserError`."""
    cls = OBJECTIVES.get(name)
    options = dict(options or {})
    known = {f.name: f for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else {}
    for key, value in options.items():
        if key not in known:
            allowed = ", ".join(known) or "none"
            raise UserError(f"objective {name!r} has no option {key!r} (options: {allowed})")
        kind = _field_type(known[key])
        if kind is not None:
            check_type(value, kind, lambda msg, key=key: UserError(f"objective {name!r} option {key!r}: {msg}"))
            if kind is float:
                options[key] = float(value)
                if not math.isfinite(options[key]):
                    raise UserError(f"objective {name!r} option {key!r}: expected a finite number, got {value}")
    objective = cls(**options)
    check = getattr(objective, "check", None)
    if check is not None:
        check()
    return objective


def _field_type(f: dataclasses.Field) -> type | None:
    """The plain type of a dataclass field (annotations are strings under `from __future__`)."""
    names = {"int": int, "float": float, "str": str, "bool": bool}
    annotation = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
    return names.get(annotation)
