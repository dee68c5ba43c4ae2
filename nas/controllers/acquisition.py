"""Acquisition functions and their maximisation over the discrete space of cells.

The maximiser evaluates a pool of candidates (uniform samples and mutations of the best
observed cells), then hill-climbs from the best of them and from the best observed cells:
each step moves to the best neighbour (every cell one variable away), until no neighbour
improves.  It returns the untried cell with the highest acquisition value it evaluated.
Candidates are light cells (`cell_codes.CodeBook`) compared by their canonical code, so
isomorphic cells count once and no `Genotype` is built during the search.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.stats import norm

from nas.controllers.cell_codes import CodeBook, Light

def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float, xi: float) -> np.ndarray:
    """E[max(f - best - xi, 0)] under N(mean, std^2), elementwise."""
    std = np.maximum(std, 1e-12)
    z = (mean - best - xi) / std
    return (mean - best - xi) * norm.cdf(z) + std * norm.pdf(z)


def upper_confidence_bound(mean: np.ndarray, std: np.ndarray, beta: float) -> np.ndarray:
    """mean + beta * std, elementwise."""
    return mean + beta * std


class CandidateSearch:
    """Maximise `acquisition` (codes (m, D) -> values (m,)) over cells not in `taken` codes."""

    def __init__(self, book: CodeBook, acquisition: Callable[[np.ndarray], np.ndarray], taken: set[bytes]) -> None:
        self.book = book
        self.acquisition = acquisition
        self.taken = taken
        self._value: dict[bytes, float] = {}
        self._cell: dict[bytes, Light] = {}

    def score(self, cells: list[Light]) -> list[tuple[float, bytes]]:
        """(acquisition, code) of each cell, evaluating only codes not seen before."""
        keys = []
        fresh: dict[bytes, np.ndarray] = {}
        for cell in cells:
            canonical, code = self.book.canonical(cell)
            key = code.tobytes()
            keys.append(key)
            if key not in self._value and key not in fresh:
                fresh[key] = code
                self._cell[key] = canonical
        if fresh:
            values = self.acquisition(np.stack(list(fresh.values())))  # (m, D) -> (m,)
            self._value.update(zip(fresh.keys(), map(float, values)))
        return [(self._value[key], key) for key in keys]

    def climb(self, start: Light, max_steps: int) -> None:
        """Best-improvement hill climbing from `start` (every evaluated cell is remembered)."""
        [(value, key)] = self.score([start])
        for _ in range(max_steps):
            scored = self.score(self.book.neighbours(self._cell[key]))
            best_value, best_key = max(scored, key=lambda pair: pair[0])
            if best_value <= value:
                return
            value, key = best_value, best_key

    def best_untried(self) -> tuple[Light, bytes] | None:
        """The evaluated canonical cell with the highest acquisition whose code is not taken."""
        ranked = sorted(self._value.items(), key=lambda item: -item[1])
        for key, _ in ranked:
            if key not in self.taken:
                return self._cell[key], key
        return None

    def run(self, pool: list[Light], anchors: list[Light], starts: int, max_steps: int) -> tuple[Light, bytes] | None:
        """Score `pool`, climb from its `starts` best cells and from every anchor, return the best untried."""
        scored = self.score(pool)
        order = sorted(range(len(pool)), key=lambda i: -scored[i][0])
        for i in order[:starts]:
            self.climb(pool[i], max_steps)
        for anchor in anchors:
            self.climb(anchor, max_steps)
        return self.best_untried()
