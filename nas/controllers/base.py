"""The ask/tell protocol every search controller speaks, and the controller registry.

Contract (checked for every registered controller by ``tests/test_controllers_conformance.py``):

- ``ask(n)`` returns up to ``n`` proposals whose cells have pairwise different canonical keys
  (`Genotype.key`), none equal to the key of any earlier proposal (told or still pending).
  Fewer than ``n`` only when the space has no more untried cells (`_propose` is never asked
  for more cells than remain).  Proposal ids are
  ``"0"``, ``"1"``, ... in the order proposals are made, so a replay gives the same ids.
- ``tell(proposal_id, value, **metrics)`` reports a result once per proposal: ``value`` is a
  finite float to *maximise*, or ``None`` when the trial failed (its key stays tried).
  Metrics are JSON-ready extras a controller may use or ignore.
- Determinism: the same space, seed, options and sequence of ask/tell calls give the same
  proposals.  Randomness of the i-th ``ask`` comes from ``numpy.random.default_rng([seed, i])``.
- Rebuild: ``replay(events)`` applies a recorded history (``nas.store`` ``AskEvent`` and
  ``TellEvent`` in order) to a fresh controller; afterwards it proposes exactly what the live
  controller would.  Controllers whose state is a function of the proposals, the told values
  and the number of asks (``replays_by_adoption = True``) adopt recorded proposals without
  recomputing them; the others re-run each ask and check it reproduces the record.

Controllers depend on the search space and the store's event types only: no torch modules,
no ray.  Subclasses implement ``_propose(n, rng)`` and, if they learn, ``_observe``.
"""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable

import numpy as np

from nas.errors import UserError
from nas.io import short
from nas.registry import Registry
from nas.space.genotype import Genotype
from nas.space.schema import check_type
from nas.space.space import SearchSpace
from nas.store import AskEvent, TellEvent


@dataclass(frozen=True)
class Proposal:
    """A cell the controller wants evaluated."""

    id: str
    genotype: Genotype
    number: int  # order of proposing, from 0 (id == str(number))
    key: str  # canonical key of the cell


class ReplayError(UserError):
    """A recorded history that this controller does not reproduce (other version or options)."""


class Controller(ABC):
    """Base class of search controllers; its module docstring is the contract."""

    replays_by_adoption: ClassVar[bool] = False

    def __init__(self, space: SearchSpace, seed: int = 0) -> None:
        self.space = space
        self.seed = int(seed)
        self._proposals: dict[str, Proposal] = {}
        self._told: dict[str, float | None] = {}  # in tell order
        self._keys: set[str] = set()
        self._asks = 0
        self._size: int | None = None  # distinct cells in the space, counted on first use

    # --- the protocol ------------------------------------------------------------------------
    def ask(self, n: int = 1) -> list[Proposal]:
        """Up to `n` new proposals with distinct, untried canonical keys."""
        if n < 1:
            raise ValueError(f"ask(n) needs n >= 1, got {n}")
        if self._size is None:
            self._size = self.space.size()
        n = min(n, self._size - len(self._keys))
        if n == 0:
            return []  # every cell was proposed; an empty ask is not an event (the store records none)
        rng = np.random.default_rng([self.seed, self._asks])
        genotypes = self._propose(n, rng)
        proposals = self._register(genotypes)
        self._asks += 1
        return proposals

    def tell(self, proposal_id: str, value: float | None, /, **metrics: Any) -> None:
        """Report the result of a proposal (`value` None: the trial failed); metrics may use any name."""
        if proposal_id not in self._proposals:
            raise KeyError(f"unknown proposal id {proposal_id!r}")
        if proposal_id in self._told:
            raise ValueError(f"proposal {proposal_id!r} was already told")
        if value is not None:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"told value must be finite or None, got {value}")
        self._told[proposal_id] = value
        self._observe(self._proposals[proposal_id], value, metrics)

    def replay(self, events: Iterable[AskEvent | TellEvent]) -> None:
        """Apply a recorded history to this (fresh) controller; see the module docstring."""
        for event in events:
            if isinstance(event, TellEvent):
                self.tell(event.proposal_id, event.value, **event.metrics)
            elif self.replays_by_adoption:
                self._adopt(event)
            else:
                got = self.ask(len(event.proposals))
                expected = [(pid, key) for pid, key, _ in event.proposals]
                if [(p.id, p.key) for p in got] != expected:
                    raise ReplayError(
                        f"controller {type(self).__name__} does not reproduce the recorded ask {event.batch} "
                        "(was the run made with other options or library versions?)"
                    )

    # --- views -------------------------------------------------------------------------------
    @property
    def num_asks(self) -> int:
        """How many times `ask` was called (or adopted during a replay)."""
        return self._asks

    def proposals(self) -> list[Proposal]:
        """Every proposal so far, in order."""
        return list(self._proposals.values())

    def pending(self) -> list[Proposal]:
        """Proposals not yet told, in order."""
        return [p for p in self._proposals.values() if p.id not in self._told]

    def observations(self) -> list[tuple[Proposal, float]]:
        """Told proposals with a value, in tell order."""
        return [(self._proposals[pid], v) for pid, v in self._told.items() if v is not None]

    def is_tried(self, key: str) -> bool:
        """Whether a cell with canonical key `key` was already proposed."""
        return key in self._keys

    # --- for subclasses ------------------------------------------------------------------------
    @abstractmethod
    def _propose(self, n: int, rng: np.random.Generator) -> list[Genotype]:
        """Up to `n` cells with distinct keys, none tried (use only `rng` for randomness)."""

    def _observe(self, proposal: Proposal, value: float | None, metrics: dict[str, Any]) -> None:
        """Learn from a told result (default: nothing beyond the base bookkeeping)."""

    def _adopted(self, proposals: list[Proposal]) -> None:
        """Hook after `replay` adopted a recorded ask (default: nothing)."""

    # --- internals -----------------------------------------------------------------------------
    def _register(self, genotypes: list[Genotype]) -> list[Proposal]:
        proposals = []
        batch_keys: set[str] = set()
        for genotype in genotypes:
            key = genotype.key()
            if key in self._keys or key in batch_keys:
                raise RuntimeError(f"{type(self).__name__} proposed an already tried cell {key}")
            batch_keys.add(key)
            number = len(self._proposals) + len(proposals)
            proposals.append(Proposal(str(number), genotype, number, key))
        for p in proposals:
            self._proposals[p.id] = p
            self._keys.add(p.key)
        return proposals

    def _adopt(self, event: AskEvent) -> None:
        genotypes = [g for _, _, g in event.proposals]
        proposals = self._register(genotypes)
        if [(p.id, p.key) for p in proposals] != [(pid, key) for pid, key, _ in event.proposals]:
            raise ReplayError(f"recorded ask {event.batch} does not continue this controller's numbering")
        self._asks += 1
        self._adopted(proposals)


CONTROLLERS: Registry[type[Controller]] = Registry("controller")
"""Controller classes by name.  Import `nas.controllers` to get every built-in one registered."""


def make_controller(name: str, space: SearchSpace, seed: int = 0, **options: Any) -> Controller:
    """The controller `name` over `space`; unknown names or options are a one-line `UserError`."""
    cls = CONTROLLERS.get(name)
    parameters = {k: p for k, p in inspect.signature(cls.__init__).parameters.items() if k not in ("self", "space", "seed")}
    for option, value in options.items():
        if option not in parameters:
            allowed = ", ".join(parameters) or "none"
            raise UserError(f"controller {name!r} has no option {short(option)} (options: {allowed})")
        default = parameters[option].default
        if default is not inspect.Parameter.empty and default is not None:  # typed by its default
            fail = lambda msg, option=option: UserError(f"controller {name!r} option {option!r}: {msg}")  # noqa: E731
            check_type(value, type(default), fail)
            if isinstance(value, float) and not math.isfinite(value):
                raise fail(f"expected a finite number, got {value}")
    return cls(space, seed=seed, **options)


def draw_untried(space: SearchSpace, n: int, rng: np.random.Generator, taken: set[str], max_draws: int = 2000) -> list[Genotype]:
    """Up to `n` uniformly drawn cells whose keys are not in `taken` (which is updated)."""
    out: list[Genotype] = []
    for _ in range(max_draws):
        if len(out) == n:
            break
        genotype = space.sample(rng)
        key = genotype.key()
        if key not in taken:
            taken.add(key)
            out.append(genotype)
    if len(out) < n and space.raw_size() <= 200_000:
        for genotype in space.enumerate():
            if len(out) == n:
                break
            if genotype.key() not in taken:
                taken.add(genotype.key())
                out.append(genotype)
    return out
