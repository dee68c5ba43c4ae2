"""`gp_bandit`: the Gaussian-process bandit of AttentionNAS.

1. The first `initial` proposals are uniform random cells (the initial design).
2. Afterwards each ask fits a GP (`gp_hamming.HammingGP`: exponentiated-Hamming kernel, MAP
   hyperparameters, likelihood and gradient written out) to the canonical codes of the cells
   told so far and their values; failed cells are left out of the fit but never proposed
   again.  A value told with a ``score_se`` metric (a trial that averaged several training
   seeds) enters with that squared standard error as its own noise, on top of the kernel's
   fitted noise.  The hyperparameters are searched afresh (from the prior's mean and
   `restarts` draws from the prior) only on every `refit_every`-th model-based ask; in
   between, L-BFGS starts from the previous ask's values, and a fresh search is made anyway
   when that warm fit's log posterior per observation drops by more than `drop_tol`.
   Beyond `fit_subset` observations the hyperparameters are fitted to a subset (the best half
   and a random half of the rest); predictions always condition on every observation.
   ``engine="sklearn"`` is the earlier surrogate (`gp_model.Surrogate`, a full scikit-learn
   fit with restarts on every ask), kept for comparison and for ``kernel="matern"``.
3. Pending proposals (asked, not told) and the cells already chosen for this batch enter the
   GP as *fantasies*: observations equal to the GP's own mean there (the kriging believer),
   so a batch spreads out instead of proposing the same region W times.
4. The acquisition (EI by default, or UCB) is maximised by `acquisition.CandidateSearch`:
   a pool of uniform samples and mutations of the best cells, then hill climbing from the
   best of the pool and from the best observed cells.  The best untried cell is proposed.
5. Mixed fidelity (a scheduler such as ASHA stopped some trials early; their tell metrics
   carry ``epochs_trained``, ``max_epochs`` and ``value_curve``, see `fidelity`): like BOHB
   (Falkner et al. 2018) the GP models ONE budget, the largest number of epochs at which at
   least `rung_min` told trials have a value (failing that, the budget with most values);
   a trial's value there is its curve's entry, or its told value at its last epoch.  EI's
   incumbent, the anchors and the values' spread are those of that budget; trials without a
   value there stay out of the fit (but are never proposed again); an ask with fewer than two
   values there draws at random.  With no stopped trial the fit uses every told value, exactly
   as without fidelity metrics.  Fidelity is not a GP input: the exponentiated-Hamming kernel
   over categorical codes has no continuous dimension to add it to, a product with a
   learning-curve kernel would need hyperparameters fitted from few points, and ASHA itself
   only compares cells at the same rung, so the model is fitted where the scheduler's
   decisions are made.

The state is fully given by the proposals, the told values and metrics and the number of asks
(the randomness of ask i is ``default_rng([seed, i])``, that of its hyperparameter fit
``default_rng([seed, i, 1])``), so a rebuild adopts recorded proposals without refitting
anything; the warm-start chain is recomputed lazily at the next ask, back to the last fresh
search at most `refit_every` asks earlier (each model-based ask records how many
observations it saw and the budget it modelled, live or adopted).
"""

from __future__ import annotations

import math

import numpy as np
from threadpoolctl import threadpool_limits

from nas.controllers.acquisition import CandidateSearch, expected_improvement, upper_confidence_bound
from nas.controllers.base import CONTROLLERS, Controller, Proposal, draw_untried
from nas.controllers.cell_codes import CodeBook, Light
from nas.controllers.encoding import CellEncoder
from nas.controllers.fidelity import Fidelity, Point, choose_budget, values_at
from nas.controllers.gp_hamming import HammingGP, fit_theta, hamming_prior
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
        kernel: str = "hamming",  # "hamming" (per-variable) | "matern" (Matern 5/2, per column; engine sklearn)
        bag: bool = False,  # add bag-of-ops columns to the code
        xi: float = 0.01,  # EI margin, in units of the observed values' spread
        beta: float = 2.0,  # UCB width
        pool: int = 256,  # uniform samples scored before climbing
        mutations: int = 64,  # mutations of the best observed cells added to the pool
        starts: int = 8,  # pool cells to climb from (besides the best observed cells)
        anchors: int = 3,  # best observed cells to climb from
        steps: int = 8,  # hill-climbing steps per start
        restarts: int = 1,  # random restarts of a fresh hyperparameter search (besides the prior's mean)
        engine: str = "exact",  # "exact" (gp_hamming) | "sklearn" (the earlier full refit on every ask)
        refit_every: int = 5,  # a fresh hyperparameter search every this many model-based asks
        drop_tol: float = 0.05,  # ... or when a warm fit's -log posterior per observation grows by more
        fit_subset: int = 256,  # hyperparameters fitted to at most this many observations
        rung_min: int = 6,  # model the largest budget (epochs) at which this many trials have a value
    ) -> None:
        super().__init__(space, seed)
        if acquisition not in ("ei", "ucb"):
            raise ValueError(f"acquisition must be 'ei' or 'ucb', got {acquisition!r}")
        if engine not in ("exact", "sklearn"):
            raise ValueError(f"engine must be 'exact' or 'sklearn', got {engine!r}")
        if kernel != "hamming" and engine == "exact":
            engine = "sklearn"  # only the Hamming kernel is written out
        if refit_every < 1 or fit_subset < 4 or rung_min < 1:
            raise ValueError("refit_every must be >= 1, fit_subset >= 4 and rung_min >= 1")
        self.initial, self.acquisition, self.kernel, self.bag = int(initial), acquisition, kernel, bool(bag)
        self.xi, self.beta = float(xi), float(beta)
        self.pool, self.mutations, self.starts, self.anchors, self.steps = pool, mutations, starts, anchors, steps
        self.restarts, self.engine = int(restarts), engine
        self.refit_every, self.drop_tol, self.fit_subset = int(refit_every), float(drop_tol), int(fit_subset)
        self.rung_min = int(rung_min)
        self.encoder = CellEncoder(space, bag=self.bag)
        self._lights: dict[str, Light] = {}  # proposal id -> light cell (its code is cached in the book)
        self.book = CodeBook(space, self.encoder)  # light cells, canonical forms and codes (a cache inside)
        self._noise: dict[str, float] = {}  # proposal id -> known noise variance of its value
        self._fidelity: dict[str, Fidelity] = {}  # proposal id -> epochs trained and value curve
        self._fit_log: list[tuple[int, int, int | None]] = []  # per model-based ask: (ask, observations, budget)
        self._thetas: dict[int, tuple[np.ndarray, float]] = {}  # model-based ask -> (theta, -log posterior / n)

    def _observe(self, proposal, value: float | None, metrics: dict) -> None:
        """Keep a told standard error (metric ``score_se``, e.g. from ``repeats=K``) as noise, and the fidelity."""
        self._fidelity[proposal.id] = Fidelity.from_metrics(metrics)
        se = metrics.get("score_se")
        if value is not None and isinstance(se, (int, float)) and math.isfinite(se) and se > 0:
            self._noise[proposal.id] = float(se) ** 2

    def _propose(self, n: int, rng: np.random.Generator) -> list[Genotype]:
        with threadpool_limits(limits=1):  # BLAS threads only slow down these small matrices
            return self._propose_cells(n, rng)

    def _rung(self, count: int) -> tuple[int | None, list[tuple[Proposal, Point]]]:
        """The budget modelled after the first `count` observations, and their values there (tell order)."""
        budget = choose_budget(self._with_fidelity(count), self.rung_min)
        return budget, self._at(count, budget)

    def _at(self, count: int, budget: int | None) -> list[tuple[Proposal, Point]]:
        """The first `count` observations' values at `budget` (None: their told values)."""
        observed = self.observations()[:count]
        return [(observed[point.index][0], point) for point in values_at(self._with_fidelity(count), budget)]

    def _with_fidelity(self, count: int) -> list[tuple[float, Fidelity]]:
        """(told value, fidelity) of the first `count` observations."""
        return [(value, self._fidelity.get(p.id, Fidelity())) for p, value in self.observations()[:count]]

    def _model_based(self, n: int, proposals_before: int, points: int) -> bool:
        """Whether an ask of `n` after `proposals_before` proposals, with `points` values to fit, fits a GP."""
        return points >= 2 and max(0, self.initial - proposals_before) < n

    def _adopted(self, proposals) -> None:
        """Record a replayed ask's place in the warm-start chain (nothing is fitted now)."""
        count = len(self.observations())
        budget, points = self._rung(count)
        if self._model_based(len(proposals), len(self._proposals) - len(proposals), len(points)):
            self._fit_log.append((self._asks - 1, count, budget))

    def _propose_cells(self, n: int, rng: np.random.Generator) -> list[Genotype]:
        count = len(self.observations())
        budget, observed = self._rung(count)
        random_left = max(0, self.initial - len(self._proposals))
        if not self._model_based(n, len(self._proposals), len(observed)):
            return draw_untried(self.space, n, rng, set(self._keys))
        out = draw_untried(self.space, random_left, rng, set(self._keys)) if random_left else []
        X = np.stack([self._code(p.id, p.genotype) for p, _ in observed])  # (n_obs, D)
        y = np.array([point.value for _, point in observed])
        noise = np.array([self._known_noise(p, point) for p, point in observed])
        if self.engine == "sklearn":
            model = Surrogate.fit(X, y, self.encoder.groups, self.kernel, self.restarts,
                                  seed=int(rng.integers(2**31)), noise=noise if self._noise else None)
        else:
            self._fit_log.append((self._asks, count, budget))
            model = HammingGP(X, y, self.encoder.groups, self._theta(len(self._fit_log) - 1), noise)
        taken = {self._code(p.id, p.genotype).tobytes() for p in self._proposals.values()}
        fantasies = [self._code(p.id, p.genotype) for p in self.pending()]
        fantasies += [self.book.canonical(self.book.from_genotype(g))[1] for g in out]
        taken.update(code.tobytes() for code in fantasies)
        ranked = sorted(observed, key=lambda pv: -pv[1].value)[: max(self.anchors, 1)]
        best_cells = [self._light(p.id, p.genotype) for p, _ in ranked]
        believer = model.with_believed(np.stack(fantasies)) if fantasies else model
        spread = float(np.std(y)) or 1.0
        while len(out) < n:
            found = self._maximise(believer, float(y.max()), spread, taken, best_cells, rng)
            if found is None:
                break
            cell, code = found
            out.append(self.book.genotype(cell))
            taken.add(code)
            believer = believer.with_believed(np.frombuffer(code)[None, :])
        return out

    def _theta(self, j: int) -> np.ndarray:
        """Hyperparameters of model-based ask `j` (fitted now unless known; see the module docstring)."""
        if j in self._thetas:
            return self._thetas[j][0]
        ask, count, budget = self._fit_log[j]
        X, y, known = self._fit_data(count, budget, np.random.default_rng([self.seed, ask, 1]))
        groups = self.encoder.groups
        prior = hamming_prior(groups)
        fresh = [prior.mean] + [np.random.default_rng([self.seed, ask, 2, r]).normal(prior.mean, prior.std)
                                for r in range(self.restarts)]
        if j % self.refit_every == 0:
            theta, value = fit_theta(X, y, known, groups, fresh)
        else:
            previous = self._theta(j - 1)
            theta, value = fit_theta(X, y, known, groups, [previous])
            if value / len(y) > self._thetas[j - 1][1] + self.drop_tol:
                theta, value = fit_theta(X, y, known, groups, [theta] + fresh)
        self._thetas[j] = (theta, value / len(y))
        return theta

    def _fit_data(self, count: int, budget: int | None,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Standardised codes, values and known noise of the first `count` observations at `budget`
        (a subset if many)."""
        observed = self._at(count, budget)
        y = np.array([point.value for _, point in observed])
        keep = np.arange(len(observed))
        if len(observed) > self.fit_subset:
            order = np.argsort(-y, kind="stable")
            best, rest = order[: self.fit_subset // 2], order[self.fit_subset // 2:]
            keep = np.sort(np.concatenate([best, rng.choice(rest, self.fit_subset - len(best), replace=False)]))
        X = np.stack([self._code(observed[i][0].id, observed[i][0].genotype) for i in keep])  # (m, D)
        mean, std = float(y.mean()), float(y.std()) or 1.0
        known = np.array([self._known_noise(*observed[i]) for i in keep]) / std**2
        return X, (y[keep] - mean) / std, known

    def _known_noise(self, proposal: Proposal, point: Point) -> float:
        """Known noise variance of an observation's value at a budget (a told ``score_se`` is the told value's)."""
        return self._noise.get(proposal.id, 0.0) if point.final else 0.0

    def _maximise(self, model, best: float, spread: float, taken: set[bytes], best_cells: list[Light],
                  rng: np.random.Generator) -> tuple[Light, bytes] | None:
        """The untried cell of highest acquisition found from a pool, mutations and hill climbing
        (`best`: EI's incumbent, `spread`: the modelled values' standard deviation)."""

        def acquisition(codes: np.ndarray) -> np.ndarray:
            """EI (or UCB) of codes (m, D) under the believer model, (m,)."""
            mean, std = model.predict(codes)
            if self.acquisition == "ucb":
                return upper_confidence_bound(mean, std, self.beta)
            return expected_improvement(mean, std, best, self.xi * spread)

        pool = [self.book.sample(rng) for _ in range(self.pool)]
        for i in range(self.mutations):
            cell = best_cells[i % len(best_cells)]
            for _ in range(1 + int(rng.integers(3))):  # 1 to 3 mutation steps
                cell = self.book.mutate(cell, rng)
            pool.append(cell)
        search = CandidateSearch(self.book, acquisition, taken)
        anchors = [self.book.canonical(cell)[0] for cell in best_cells[: self.anchors]]
        return search.run(pool, anchors, self.starts, self.steps)

    def _light(self, proposal_id: str, genotype: Genotype) -> Light:
        if proposal_id not in self._lights:
            self._lights[proposal_id] = self.book.from_genotype(genotype)
        return self._lights[proposal_id]

    def _code(self, proposal_id: str, genotype: Genotype) -> np.ndarray:
        return self.book.canonical(self._light(proposal_id, genotype))[1]
