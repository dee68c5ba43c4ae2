"""Acquisition functions and their maximisation over the discrete space of cells.

The maximiser evaluates a pool of candidates (uniform samples and mutations of the best
observed cells), then hill-climbs from the best of them and from the best observed cells:
each step moves to the best neighbour (every cell one variable away), until no neighbour
improves.  It returns the untried cell with the highest acquisition value it evaluated.
Cells are compared by their canonical code (`CellEncoder`), so isomorphic cells count once.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.stats import norm

from nas.controllers.encoding import CellEncoder, canonical_form
from nas.space.genotype import Genotype
from nas.space.space import SearchSpace
from nas.space.variables import same_value


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float, xi: float) -> np.ndarray:
    """E[max(f - best - xi, 0)] under N(mean, std^2), elementwise."""
    std = np.maximum(std, 1e-12)
    z = (mean - best - xi) / std
    return (mean - best - xi) * norm.cdf(z) + std * norm.pdf(z)


def upper_confidence_bound(mean: np.ndarray, std: np.ndarray, beta: float) -> np.ndarray:
    """mean + beta * std, elementwise."""
    return mean + beta * std


def neighbours(space: SearchSpace, encoder: CellEncoder, cell: Genotype) -> list[Genotype]:
    """Every cell one variable away from the canonical `cell`.

    A changed op kind keeps the values of same-named choices where the new kind allows them
    (dot_product <-> map keeps dimension and activation) and takes the first value otherwise.
    """
    params = encoder.params(cell)
    out = []
    for var in space.variables():
        if var.name not in params or len(var.choices) < 2:
            continue
        for value in var.choices:
            if same_value(value, params[var.name]):
                continue
            new = {**params, var.name: value}
            if var.name.endswith(".kind"):
                prefix = var.name[: -len("kind")]
                kind = next(kc for kc in space.kinds if kc.kind == value)
                for name, allowed in kind.choices:
                    old = next((v for k, v in params.items() if k.startswith(prefix) and k.endswith("." + name)), None)
                    keep = old is not None and any(same_value(old, a) for a in allowed)
                    new[f"{prefix}{value}.{name}"] = old if keep else allowed[0]
            out.append(space.from_params(new))
    return out


class CanonicalMemo:
    """Canonical form and code of cells, remembered by their raw code (canonicalising is the slow part)."""

    def __init__(self, space: SearchSpace, encoder: CellEncoder, capacity: int = 50_000) -> None:
        self.space = space
        self.encoder = encoder
        self.capacity = capacity
        self._memo: dict[bytes, tuple[Genotype, np.ndarray]] = {}

    def lookup(self, cell: Genotype) -> tuple[Genotype, np.ndarray]:
        """(canonical form, canonical code) of `cell`, whose op ids are 1..K in list order."""
        raw = self.encoder.encode(cell).tobytes() + cell.kv_source.encode()
        found = self._memo.get(raw)
        if found is None:
            if len(self._memo) >= self.capacity:
                self._memo.clear()
            canonical = canonical_form(self.space, cell)
            found = self._memo[raw] = (canonical, self.encoder.encode(canonical))
        return found


class CandidateSearch:
    """Maximise `acquisition` (codes (m, D) -> values (m,)) over cells not in `taken` codes."""

    def __init__(self, space: SearchSpace, encoder: CellEncoder, acquisition: Callable[[np.ndarray], np.ndarray],
                 taken: set[bytes], memo: CanonicalMemo | None = None) -> None:
        self.space = space
        self.encoder = encoder
        self.acquisition = acquisition
        self.taken = taken
        self.memo = memo or CanonicalMemo(space, encoder)
        self._value: dict[bytes, float] = {}
        self._cell: dict[bytes, Genotype] = {}

    def score(self, cells: list[Genotype]) -> list[tuple[float, bytes]]:
        """(acquisition, code) of each cell, evaluating only codes not seen before."""
        codes = []
        fresh: dict[bytes, np.ndarray] = {}
        for cell in cells:
            canonical, code = self.memo.lookup(cell)
            key = code.tobytes()
            codes.append(key)
            if key not in self._value and key not in fresh:
                fresh[key] = code
                self._cell[key] = canonical
        if fresh:
            values = self.acquisition(np.stack(list(fresh.values())))
            self._value.update(zip(fresh.keys(), map(float, values)))
        return [(self._value[key], key) for key in codes]

    def climb(self, start: Genotype, max_steps: int) -> None:
        """Best-improvement hill climbing from `start` (every evaluated cell is remembered)."""
        [(value, key)] = self.score([start])
        for _ in range(max_steps):
            scored = self.score(neighbours(self.space, self.encoder, self._cell[key]))
            best_value, best_key = max(scored, key=lambda pair: pair[0])
            if best_value <= value:
                return
            value, key = best_value, best_key

    def best_untried(self) -> tuple[Genotype, bytes] | None:
        """The evaluated cell with the highest acquisition whose code is not taken."""
        ranked = sorted(self._value.items(), key=lambda item: -item[1])
        for key, _ in ranked:
            if key not in self.taken:
                return self._cell[key], key
        return None

    def run(self, pool: list[Genotype], anchors: list[Genotype], starts: int, max_steps: int) -> tuple[Genotype, bytes] | None:
        """Score `pool`, climb from its `starts` best cells and from every anchor, return the best untried."""
        scored = self.score(pool)
        order = sorted(range(len(pool)), key=lambda i: -scored[i][0])
        for i in order[:starts]:
            self.climb(pool[i], max_steps)
        for anchor in anchors:
            self.climb(anchor, max_steps)
        return self.best_untried()
