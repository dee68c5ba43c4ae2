"""One suite every registered controller passes (the contract in `nas.controllers.base`).

Determinism for a seed, distinct proposals in a batch, never a tried key (failures included),
rebuilding from the trial store gives the same next proposals as the live controller, and a
space with fewer cells than asked for runs dry without repeating.  Determinism and the rebuild
are checked over a full-fidelity history and over a mixed one, where a scheduler stopped some
trials early (store state "stopped", tell metrics with ``epochs_trained < max_epochs``).
"""

from __future__ import annotations

import pytest

from nas.controllers import CONTROLLERS, make_controller, rebuild_controller
from nas.errors import UserError
from nas.objectives import TrialContext, make_objective
from nas.space.dsl import parse_space
from nas.store import NewTrial, TrialStore

# small enough that the model-based controllers leave their initial design within the test
FAST = {
    "gp_bandit": {"initial": 3, "pool": 24, "mutations": 8, "starts": 2, "anchors": 1, "steps": 2, "restarts": 0,
                  "rung_min": 3},  # the mixed history's 5 told trials: 3 have a value after 2 epochs
    "tpe": {"initial": 3},
    "optuna_gp": {"initial": 3},
    "random": {},
}
NAMES = sorted(CONTROLLERS.names())
MAX_EPOCHS = 3


def test_every_registered_controller_is_in_this_suite():
    assert set(NAMES) == set(FAST)


def controller(name, space, seed=0):
    return make_controller(name, space, seed=seed, **FAST[name])


def fidelity_metrics(proposal, value):
    """Mixed history: proposal n trained 1 + n % 3 of 3 epochs, its value curve rising to the value."""
    epochs = 1 + proposal.number % MAX_EPOCHS
    curve = [value - 0.05 * (epochs - e) for e in range(1, epochs + 1)]
    return {"raw": 1.0, "epochs_trained": epochs, "max_epochs": MAX_EPOCHS, "value_curve": curve}


class Recorder:
    """Drives a controller like the search driver does: every ask and tell goes to a store.

    ``mixed=True``: results carry fidelity metrics and those of proposals 1, 2, 4, 5, ... are
    told as stopped early (store state "stopped", the told value the curve's last)."""

    def __init__(self, ctrl, store, mixed=False):
        self.ctrl, self.store, self.mixed = ctrl, store, mixed
        self.toy = make_objective("toy", {"seed": 3, "fail_fraction": 0.15})

    def ask(self, n):
        proposals = self.ctrl.ask(n)
        self.store.add_batch([NewTrial(p.number, p.id, p.key, p.genotype.to_json(indent=None)) for p in proposals], 0.0)
        return proposals

    def tell(self, proposal):
        try:
            value = self.toy.evaluate(proposal.genotype, TrialContext(0, proposal.id)).score
        except RuntimeError:
            value = None  # an injected failure: told as None
        if value is None:
            self.store.finish(proposal.id, "failed", 0.0, metrics={})
            self.ctrl.tell(proposal.id, None)
            return
        metrics = fidelity_metrics(proposal, value) if self.mixed else {"raw": 1.0}
        stopped = self.mixed and metrics["epochs_trained"] < MAX_EPOCHS
        self.store.finish(proposal.id, "stopped" if stopped else "complete", 0.0, value=value, score=value,
                          metrics=metrics)
        self.ctrl.tell(proposal.id, value, **metrics)


def scripted_history(recorder):
    """Batches of 2 with one proposal left pending across asks, as parallel workers leave them."""
    pending = []
    for _ in range(3):
        pending += recorder.ask(2)
        for proposal in pending[:-1]:
            recorder.tell(proposal)
        pending = pending[-1:]
    return pending


HISTORIES = pytest.mark.parametrize("mixed", [False, True], ids=["full", "mixed"])


@HISTORIES
@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_proposals_other_seed_other(name, gpb_space, tmp_path, mixed):
    runs = []
    for folder in ("a", "b"):
        rec = Recorder(controller(name, gpb_space, seed=5), TrialStore.create(tmp_path / folder / "t.db"), mixed)
        scripted_history(rec)
        rec.ask(2)  # one more ask, after the stopped trials were told
        runs.append([p.key for p in rec.ctrl.proposals()])
    assert len(runs[0]) == 8 and runs[0] == runs[1]
    assert [p.key for p in controller(name, gpb_space, seed=6).ask(2)] != runs[0][:2]


@pytest.mark.parametrize("name", NAMES)
def test_batches_are_distinct_and_never_repeat_a_tried_key(name, gpb_space, tmp_path):
    rec = Recorder(controller(name, gpb_space), TrialStore.create(tmp_path / "t.db"))
    pending = scripted_history(rec)
    batch = rec.ask(4)
    keys = [p.key for p in batch]
    assert len(batch) == 4 and len(set(keys)) == 4
    earlier = [p.key for p in rec.ctrl.proposals()[: -len(batch)]]
    assert not set(keys) & set(earlier)
    assert [p.key for p in batch] == [p.genotype.key() for p in batch]
    assert [p.id for p in batch] == [str(p.number) for p in batch]
    assert all(gpb_space.contains(p.genotype) for p in batch)
    assert pending[0].id in {p.id for p in rec.ctrl.pending()}


@HISTORIES
@pytest.mark.parametrize("name", NAMES)
def test_rebuilt_from_the_store_proposes_what_the_live_one_would(name, gpb_space, tmp_path, mixed):
    store = TrialStore.create(tmp_path / "t.db")
    live = Recorder(controller(name, gpb_space), store, mixed)
    scripted_history(live)
    stopped = store.trials(["stopped"])  # proposals 1, 2 and 4, unless the toy failed one
    assert len(stopped) >= 2 if mixed else not stopped
    rebuilt = rebuild_controller(name, gpb_space, store, seed=0, **FAST[name])
    assert [p.key for p in rebuilt.proposals()] == [p.key for p in live.ctrl.proposals()]
    assert [p.id for p in rebuilt.pending()] == [p.id for p in live.ctrl.pending()]
    assert [(p.key, p.id) for p in rebuilt.ask(2)] == [(p.key, p.id) for p in live.ctrl.ask(2)]


TINY = {
    "schema": "attention-nas/space@1", "name": "tiny",
    "cell": {"num_ops": 1, "inputs_per_op": 1, "kv_source": ["op_input", "cell_input"]},
    "preprocess": {"channels": [4], "height": [2], "width": [2], "frames": [2]},
    "ops": {"gating": [False], "kinds": {"map": {"dimension": ["temporal", "spatial", "spatiotemporal"],
                                                 "activation": ["sigmoid"]}}},
}


@pytest.mark.parametrize("name", NAMES)
def test_a_small_space_runs_dry_without_repeats(name):
    space = parse_space(TINY, source="tiny")  # 3 distinct cells (a map op ignores kv_source)
    ctrl = controller(name, space)
    first = ctrl.ask(2)
    ctrl.tell(first[0].id, 0.5)
    rest = ctrl.ask(5)
    keys = [p.key for p in first + rest]
    assert len(keys) == 3 == len(set(keys))
    assert ctrl.ask(1) == []


@pytest.mark.parametrize("name", NAMES)
def test_tell_refuses_unknown_repeated_and_nan(name, gpb_space):
    ctrl = controller(name, gpb_space)
    [p] = ctrl.ask(1)
    with pytest.raises(KeyError):
        ctrl.tell("99", 1.0)
    with pytest.raises(ValueError, match="finite"):
        ctrl.tell(p.id, float("nan"))
    ctrl.tell(p.id, 1.0)
    with pytest.raises(ValueError, match="already told"):
        ctrl.tell(p.id, 2.0)
    with pytest.raises(ValueError):
        ctrl.ask(0)


def test_unknown_controller_or_option_is_a_user_error(gpb_space):
    with pytest.raises(UserError, match="unknown controller 'bandit'"):
        make_controller("bandit", gpb_space)
    with pytest.raises(UserError, match="no option 'temperature'"):
        make_controller("gp_bandit", gpb_space, temperature=1.0)
