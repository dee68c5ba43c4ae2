"""`tpe` and `optuna_gp`: Optuna's TPE and GP samplers behind the ask/tell protocol.

Each proposal is one trial of an in-memory Optuna study, asked through Optuna's ask-and-tell
interface: ``suggest_categorical`` for every *active* variable of ``space.variables()`` in
order (so the choices of op k's kind are only suggested when op k has that kind).  Pending
proposals stay RUNNING trials, which TPE (``constant_liar=True``) and the GP sampler (q-batch
EI over running trials) take into account when asked for a batch.

With ``flat=True`` every variable is suggested in every trial, active or not (the inactive
ones are ignored): the samplers then see one fixed search space, which Optuna's GP needs to
model the kind-specific choices at all (it samples conditional variables at random).

Optuna knows nothing of canonical keys.  When it suggests a cell that was already proposed,
that trial is closed at once (with the cell's known value if it has one, as FAIL while it is
pending) and the sampler is asked again; after a few such repeats the controller steps from
the repeated cell to the nearest untried one by mutation and enqueues that instead.

Optuna's samplers keep state between asks (random generators, the GP's cached kernel
parameters), so these controllers rebuild by re-running every recorded ask (`replay`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from nas.controllers.base import CONTROLLERS, Controller, Proposal, draw_untried
from nas.space.genotype import Genotype
from nas.space.space import SearchSpace

MAX_RESAMPLES = 8  # repeated suggestions before falling back to a mutation of the repeat


class OptunaController(Controller):
    """An Optuna sampler asked and told through an in-memory study."""

    replays_by_adoption = False

    def __init__(self, space: SearchSpace, seed: int = 0, initial: int = 10, flat: bool = False) -> None:
        super().__init__(space, seed)
        self.initial = int(initial)
        self.flat = bool(flat)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._study = optuna.create_study(direction="maximize", sampler=self._sampler())
        self._trial_of: dict[str, optuna.trial.Trial] = {}
        self._fresh: list[optuna.trial.Trial] = []
        self._value_of_key: dict[str, float] = {}

    def _sampler(self) -> optuna.samplers.BaseSampler:
        raise NotImplementedError

    def ask(self, n: int = 1) -> list[Proposal]:
        """See `Controller.ask`; each proposal is backed by one RUNNING Optuna trial."""
        self._fresh = []
        proposals = super().ask(n)
        self._trial_of.update({p.id: trial for p, trial in zip(proposals, self._fresh)})
        return proposals

    def _propose(self, n: int, rng: np.random.Generator) -> list[Genotype]:
        taken = set(self._keys)
        out = []
        for _ in range(n):
            genotype = self._ask_one(rng, taken)
            if genotype is None:
                break
            out.append(genotype)
        return out

    def _ask_one(self, rng: np.random.Generator, taken: set[str]) -> Genotype | None:
        genotype = None
        for _ in range(MAX_RESAMPLES):
            trial = self._study.ask()
            genotype = self.space.from_params(self._suggest(trial))
            key = genotype.key()
            if key not in taken:
                taken.add(key)
                self._fresh.append(trial)
                return genotype
            known = self._value_of_key.get(key)
            if known is None:
                self._study.tell(trial, state=TrialState.FAIL)
            else:
                self._study.tell(trial, known)
        assert genotype is not None
        replacement = _nearest_untried(self.space, genotype, rng, taken)
        if replacement is None:
            return None
        self._study.enqueue_trial(self.space.to_params(replacement))
        trial = self._study.ask()
        self._suggest(trial)
        taken.add(replacement.key())
        self._fresh.append(trial)
        return replacement

    def _suggest(self, trial: optuna.trial.Trial) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for var in self.space.variables():
            if self.flat or var.is_active(params):
                params[var.name] = trial.suggest_categorical(var.name, list(var.choices))
        return params

    def _observe(self, proposal: Proposal, value: float | None, metrics: dict[str, Any]) -> None:
        trial = self._trial_of[proposal.id]
        if value is None:
            self._study.tell(trial, state=TrialState.FAIL)
        else:
            self._value_of_key[proposal.key] = value
            self._study.tell(trial, value)


def _nearest_untried(space: SearchSpace, genotype: Genotype, rng: np.random.Generator, taken: set[str]) -> Genotype | None:
    """A random walk of single mutations from `genotype` to the first untried cell."""
    current = genotype
    for _ in range(64):
        current = space.mutate(current, rng)
        if current.key() not in taken:
            return current
    found = draw_untried(space, 1, rng, set(taken))
    return found[0] if found else None


@CONTROLLERS.decorator("tpe")
class TPEController(OptunaController):
    """Optuna's TPE sampler (``constant_liar`` for pending proposals); `initial` random trials first."""

    def _sampler(self) -> optuna.samplers.BaseSampler:
        return optuna.samplers.TPESampler(seed=self.seed, n_startup_trials=self.initial, constant_liar=True)


@CONTROLLERS.decorator("optuna_gp")
class OptunaGPController(OptunaController):
    """Optuna's GP sampler (Matern 5/2, logEI, q-batch over running trials); `initial` random trials first."""

    def _sampler(self) -> optuna.samplers.BaseSampler:
        return optuna.samplers.GPSampler(seed=self.seed, n_startup_trials=self.initial, warn_independent_sampling=False)
