"""`gp_bandit`: the Gaussian-process bandit of AttentionNAS.

1. The first `initial` proposals are uniform random cells (the initial design).
2. Afterwards each ask fits a GP (`gp_model.Surrogate`, MAP hyperparameters) to the canonical
   codes of the cells told so far and their values; failed cells are left out of the fit but
   never proposed again.  A value told with a ``score_se`` metric (a trial that averaged
   several training seeds) enters with that squared standard error as its own noise, on top
   of the kernel's fitted noise.
3. Pending proposals (asked, not told) and the cells already chosen for this batch enter the
   GP as *fantasies*: observations equal to the GP's own mean there (the kriging believer),
   so a batch spreads out instead of proposing the same region W times.
4. The acquisition (EI by default, or UCB) is maximised by `acquisition.CandidateSearch`:
   a pool of uniform samples and mutations of the best cells, then hill climbing from the
   best of the pool and from the best observed cells.  The best untried cell is proposed.

The state is fully given by the proposals, the told values and the number of asks (the
randomness of ask i is ``default_rng([seed, i])``), so a rebuild adopts recorded proposals
without refitting anything.
"""

from __future__ import annotations

import math

import numpy as np
from threadpoolctl import threadpool_limits

from nas.controllers.acquisition import CandidateSearch, CanonicalMemo, expected_improvement, upper_confidence_bound
from nas.controllers.base import CONTROLLERS, Controller, draw_untried
from nas.controllers.encoding import CellEncoder, canonical_form
from nas.controllers.gp_model import Surrogate
from nas.space.genotype import Genotype
from nas.space.space import SearchSpace


@CONTROLLERS.decorator("gp_bandit")
class GPBandit(Controller):
    """GP bandit over cells (see the module docstring); options are keyword arguments."""

    replays_by_adoption = True

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        initial: int = 8,  # random proposals before the GP takes over
        acquisition: str = "ei",  # "ei" | "ucb"
        kernel: str = "hamming",  # "hamming" (per-variable) | "matern" (Matern 5/2, per column)
        bag: bool = False,  # add bag-of-ops columns to the code
        xi: float = 0.01,  # EI margin, in units of the observed values' spread
        beta: float = 2.0,  # UCB width
        pool: int = 256,  # uniform samples scored before climbing
        mutations: int = 64,  # mutations of the best observed cells added to the pool
        starts: int = 8,  # pool cells to climb from (besides the best observed cells)
        anchors: int = 3,  # best observed cells to climb from
        steps: int = 8,  # hill-climbing steps per start
        restarts: int = 1,  # extra random restarts of the hyperparameter fit
    ) -> None:
        super().__init__(space, seed)
        if acquisition not in ("ei", "ucb"):
            raise ValueError(f"acquisition must be 'ei' or 'ucb', got {acquisition!r}")
        self.initial, self.acquisition, self.kernel, self.bag = int(initial), acquisition, kernel, bool(bag)
        self.xi, self.beta = float(xi), float(beta)
        self.pool, self.mutations, self.starts, self.anchors, self.steps = pool, mutations, starts, anchors, steps
        self.restarts = restarts
        self.encoder = CellEncoder(space, bag=self.bag)
        self._codes: dict[str, np.ndarray] = {}  # proposal id -> canonical code
        self._memo = CanonicalMemo(space, self.encoder)  # a cache only: results do not depend on it
        self._noise: dict[str, float] = {}  # proposal id -> known noise variance of its value

    def _observe(self, proposal, value: float | None, metrics: dict) -> None:
        """Keep a told standard error (metric ``score_se``, e.g. from ``repeats=K``) as noise."""
        se = metrics.get("score_se")
        if value is not None and isinstance(se, (int, float)) and math.isfinite(se) and se > 0:
            self._noise[proposal.id] = float(se) ** 2

    def _propose(self, n: int, rng: np.random.Generator) -> list[Genotype]:
        with threadpool_limits(limits=1):  # BLAS threads only slow down these small matrices
            return self._propose_cells(n, rng)

    def _propose_cells(self, n: int, rng: np.random.Generator) -> list[Genotype]:
        observed = self.observations()
        random_left = max(0, self.initial - len(self._proposals))
        if len(observed) < 2 or random_left >= n:
            return draw_untried(self.space, n, rng, set(self._keys))
        out = draw_untried(self.space, random_left, rng, set(self._keys)) if random_left else []
        X = np.stack([self._code(p.id, p.genotype) for p, _ in observed])  # (n_obs, D)
        y = np.array([v for _, v in observed])
        noise = np.array([self._noise.get(p.id, 0.0) for p, _ in observed]) if self._noise else None
        model = Surrogate.fit(X, y, self.encoder.groups, self.kernel, self.restarts, seed=int(rng.integers(2**31)),
                              noise=noise)
        taken = {self._code(p.id, p.genotype).tobytes() for p in self._proposals.values()}
        fantasies = [self._code(p.id, p.genotype) for p in self.pending()]
        fantasies += [self.encoder.encode(canonical_form(self.space, g)) for g in out]
        taken.update(code.tobytes() for code in fantasies)
        best_cells = [p.genotype for p, _ in sorted(observed, key=lambda pv: -pv[1])[: max(self.anchors, 1)]]
        while len(out) < n:
            believer = self._with_fantasies(model, X, y, fantasies)
            found = self._maximise(believer, float(y.max()), taken, best_cells, rng)
            if found is None:
                break
            cell, code = found
            out.append(cell)
            taken.add(code)
            fantasies.append(np.frombuffer(code))
        return out

    def _with_fantasies(self, model: Surrogate, X: np.ndarray, y: np.ndarray, fantasies: list[np.ndarray]) -> Surrogate:
        if not fantasies:
            return model
        F = np.stack(fantasies)  # (n_pending, D)
        mean, _ = model.predict(F)
        return model.condition(np.vstack([X, F]), np.concatenate([y, mean]))

    def _maximise(self, model: Surrogate, best: float, taken: set[bytes], best_cells: list[Genotype],
                  rng: np.random.Generator) -> tuple[Genotype, bytes] | None:
        spread = float(np.std([v for _, v in self.observations()])) or 1.0

        def acquisition(codes: np.ndarray) -> np.ndarray:
            """EI (or UCB) of codes (m, D) under the believer model, (m,)."""
            mean, std = model.predict(codes)
            if self.acquisition == "ucb":
                return upper_confidence_bound(mean, std, self.beta)
            return expected_improvement(mean, std, best, self.xi * spread)

        pool = [self.space.sample(rng) for _ in range(self.pool)]
        for i in range(self.mutations):
            cell = best_cells[i % len(best_cells)]
            for _ in range(1 + int(rng.integers(3))):  # 1 to 3 mutation steps
                cell = self.space.mutate(cell, rng)
            pool.append(cell)
        search = CandidateSearch(self.space, self.encoder, acquisition, taken, self._memo)
        anchors = [canonical_form(self.space, g) for g in best_cells[: self.anchors]]
        return search.run(pool, anchors, self.starts, self.steps)

    def _code(self, proposal_id: str, genotype: Genotype) -> np.ndarray:
        if proposal_id not in self._codes:
            self._codes[proposal_id] = self.encoder.encode(canonical_form(self.space, genotype))
        return self._codes[proposal_id]
