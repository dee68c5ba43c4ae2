"""`tpe` and `optuna_gp`: Optuna's TPE and GP samplers behind the ask/tell protocol.

Each proposal is one trial of an in-memory Optuna study, asked through Optuna's ask-and-tell
interface.  Pending proposals stay RUNNING trials, which TPE (``constant_liar=True``) and the
GP sampler (q-batch EI over running trials) take into account when asked for a batch.

What Optuna sees (the *merged* parameterisation, the default).  Optuna's GP models only the
variables every trial has (the intersection search space) and samples the others at random, so
the controller suggests one fixed set of variables in every trial, with no conditional one:

- the space's unconditional variables (``kv_source``, ``preprocess.*``, ``op{k}.kind``,
  ``op{k}.gating``, ``op{k}.inputs``) under their own names;
- ``op{k}.{choice}`` for each choice name that two or more kinds have, all with the same set
  of values (``op{k}.dimension`` and ``op{k}.activation`` in the GP-bandit space): it sets
  ``op{k}.{kind}.{choice}`` of whichever of those kinds op k has;
- ``op{k}.{kind}.{choice}`` for every other choice (one kind has it, or the kinds' value sets
  differ), also suggested in every trial: it is dead (ignored) when op k has another kind.
  This keeps the search space fixed at the cost of a few dead variables per cell;
- variables with a single value are constants: they are not suggested at all (Optuna's GP
  drops them from its model anyway) and are filled in from the space.

The GP-bandit space so becomes 20 always-live variables (kv_source, 4 kinds, 4 gatings, the
inputs of ops 2-4, 4 dimensions, 4 activations) instead of 12 plus 16 conditional ones.  A
cell goes to Optuna (`enqueue_trial`) through ``space.to_params`` and `to_merged`, and comes
back through `from_merged` and ``space.from_params``.

With ``flat=True`` the controller suggests instead every variable of ``space.variables()`` in
every trial, active or not (inactive ones are ignored), constants included: for the GP-bandit
space 28 variables with more than one value, 8 of them dead in any cell.

Optuna knows nothing of canonical keys.  When it suggests a cell that was already proposed,
that trial is closed at once (with the cell's known value if it has one, as FAIL while it is
pending) and the sampler is asked again; after a few such repeats the controller steps from
the repeated cell to the nearest untried one by mutation and enqueues that instead.

A trial a scheduler stopped early (tell metrics ``epochs_trained < max_epochs`` with a
``value_curve``, see `fidelity`) is told to Optuna as PRUNED after reporting its value after
each epoch as the intermediate value of steps 1..epochs_trained: TPE ranks pruned trials by how
far and how well they got, below every complete one; Optuna's GP models complete trials only.
Complete trials are told their value alone, as without fidelity metrics.

Optuna's samplers keep state between asks (random generators, the GP's cached kernel
parameters), so these controllers rebuild by re-running every recorded ask (`replay`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from nas.controllers.base import CONTROLLERS, Controller, Proposal, draw_untried
from nas.controllers.fidelity import Fidelity
from nas.space.genotype import Genotype
from nas.space.space import SearchSpace
from nas.space.variables import same_value

MAX_RESAMPLES = 8  # repeated suggestions before falling back to a mutation of the repeat


@dataclass(frozen=True)
class MergedVariable:
    """One variable of the merged parameterisation and the space variables it sets."""

    name: str
    choices: tuple[Any, ...]
    covers: tuple[str, ...]  # names of the space variables that take its value

    @property
    def suggested(self) -> bool:
        """Whether Optuna is asked for it (a single value is a constant)."""
        return len(self.choices) > 1


def shared_choices(space: SearchSpace) -> set[str]:
    """Choice names that two or more kinds of `space` have, all with the same set of values."""
    values_of: dict[str, list[tuple[Any, ...]]] = {}
    for kc in space.kinds:
        for name, values in kc.choices:
            values_of.setdefault(name, []).append(values)
    # a choice named like an op's own variable (kind, gating, inputs) would clash with it
    fixed = {var.name.removeprefix("op1.") for var in space.variables() if var.name.startswith("op1.") and not var.active_if}
    return {name for name, sets in values_of.items()
            if len(sets) > 1 and name not in fixed and all(_same_set(sets[0], other) for other in sets[1:])}


def _same_set(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return all(any(same_value(x, y) for y in b) for x in a) and all(any(same_value(x, y) for y in a) for x in b)


def merged_variables(space: SearchSpace) -> list[MergedVariable]:
    """The merged parameterisation of `space` (see the module docstring), in the space's order."""
    shared = shared_choices(space)
    names: list[str] = []
    choices: dict[str, tuple[Any, ...]] = {}
    covers: dict[str, list[str]] = {}
    for var in space.variables():
        name = var.name
        if var.active_if is not None:  # op{k}.{kind}.{choice}, active when op{k}.kind == kind
            op = var.active_if[0].removesuffix(".kind")
            choice = var.name.removeprefix(f"{op}.{var.active_if[1]}.")
            name = f"{op}.{choice}" if choice in shared else var.name
        if name not in covers:
            names.append(name)
            choices[name] = var.choices
            covers[name] = []
        covers[name].append(var.name)
    return [MergedVariable(name, choices[name], tuple(covers[name])) for name in names]


def to_merged(merged: list[MergedVariable], params: dict[str, Any]) -> dict[str, Any]:
    """A space's params -> the suggested merged variables (dead ones, which no active variable sets, left out)."""
    out: dict[str, Any] = {}
    for mv in merged:
        values = [params[name] for name in mv.covers if name in params]
        if mv.suggested and values:
            out[mv.name] = values[0]
    return out


def from_merged(space: SearchSpace, merged: list[MergedVariable], values: dict[str, Any]) -> dict[str, Any]:
    """Values of the suggested merged variables (dead ones may be left out) -> the space's params."""
    value_of: dict[str, Any] = {}
    for mv in merged:
        if not mv.suggested:
            value_of.update(dict.fromkeys(mv.covers, mv.choices[0]))
        elif mv.name in values:
            value_of.update(dict.fromkeys(mv.covers, values[mv.name]))
    params: dict[str, Any] = {}
    for var in space.variables():
        if var.is_active(params):
            params[var.name] = value_of[var.name]
    return params


class OptunaController(Controller):
    """An Optuna sampler asked and told through an in-memory study."""

    replays_by_adoption = False

    def __init__(self, space: SearchSpace, seed: int = 0, initial: int = 10, flat: bool = False) -> None:
        super().__init__(space, seed)
        self.initial = int(initial)
        self.flat = bool(flat)
        self._merged = merged_variables(space)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._study = optuna.create_study(direction="maximize", sampler=self._sampler())
        self._trial_of: dict[str, optuna.trial.Trial] = {}
        self._fresh: list[optuna.trial.Trial] = []
        self._value_of_key: dict[str, tuple[float, tuple[float, ...] | None]] = {}  # key -> (value, pruned curve)

    @property
    def study(self) -> optuna.Study:
        """The Optuna study behind this controller (for inspection; do not ask or tell it)."""
        return self._study

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
                self._close(trial, *known)
        assert genotype is not None
        replacement = _nearest_untried(self.space, genotype, rng, taken)
        if replacement is None:
            return None
        self._study.enqueue_trial(self._optuna_params(replacement))
        trial = self._study.ask()
        self._suggest(trial)
        taken.add(replacement.key())
        self._fresh.append(trial)
        return replacement

    def _suggest(self, trial: optuna.trial.Trial) -> dict[str, Any]:
        """Suggest Optuna's variables in `trial`; return the space's params they describe."""
        if self.flat:
            return {var.name: trial.suggest_categorical(var.name, list(var.choices)) for var in self.space.variables()}
        values = {mv.name: trial.suggest_categorical(mv.name, list(mv.choices)) for mv in self._merged if mv.suggested}
        return from_merged(self.space, self._merged, values)

    def _optuna_params(self, genotype: Genotype) -> dict[str, Any]:
        """What to enqueue for `genotype`: its values of the variables Optuna sees."""
        params = self.space.to_params(genotype)
        return params if self.flat else to_merged(self._merged, params)

    def _observe(self, proposal: Proposal, value: float | None, metrics: dict[str, Any]) -> None:
        trial = self._trial_of[proposal.id]
        if value is None:
            self._study.tell(trial, state=TrialState.FAIL)
            return
        fidelity = Fidelity.from_metrics(metrics)
        curve = fidelity.curve if fidelity.stopped and fidelity.curve else None
        self._value_of_key[proposal.key] = (value, curve)
        self._close(trial, value, curve)

    def _close(self, trial: optuna.trial.Trial, value: float, curve: tuple[float, ...] | None) -> None:
        """Tell `trial` COMPLETE with `value`, or PRUNED after reporting `curve` (a stopped trial's)."""
        if curve is None:
            self._study.tell(trial, value)
            return
        for step, intermediate in enumerate(curve, start=1):
            trial.report(intermediate, step)
        self._study.tell(trial, state=TrialState.PRUNED)


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
