"""The merged parameterisation `tpe` and `optuna_gp` show Optuna: no conditional variable."""

from __future__ import annotations

import pytest
from optuna.trial import TrialState

from nas.controllers import make_controller, optuna_samplers
from nas.controllers.optuna_samplers import from_merged, merged_variables, to_merged
from nas.objectives import TrialContext, make_objective
from nas.space.dsl import parse_space

# kv_source, op{1..4}.kind, op{1..4}.gating, op{2..4}.inputs (op1 reads f_0 only: a constant, not
# suggested, like preprocess.* and dot_product.scale), op{1..4}.dimension, op{1..4}.activation:
# 1 + 4 + 4 + 3 = 12, plus 4 + 4 = 8 merged kind choices, 20 in all.
GPB_MERGED = (
    {"kv_source"}
    | {f"op{k}.{name}" for k in range(1, 5) for name in ("kind", "gating", "dimension", "activation")}
    | {f"op{k}.inputs" for k in range(2, 5)}
)

UNSHARED = {  # dimension value sets differ between the kinds: no merged dimension
    "schema": "attention-nas/space@1", "name": "unshared",
    "cell": {"num_ops": 2, "inputs_per_op": 1, "kv_source": ["op_input", "cell_input"]},
    "preprocess": {"channels": [4], "height": [2], "width": [2], "frames": [2]},
    "ops": {"gating": [False], "kinds": {
        "dot_product": {"dimension": ["temporal", "spatial"], "activation": ["softmax", "relu"]},
        "map": {"dimension": ["temporal", "spatial", "spatiotemporal"], "activation": ["relu", "softmax"]}}},
}
UNSHARED_MERGED = {"kv_source", "op1.kind", "op2.kind", "op2.inputs", "op1.activation", "op2.activation",
                   "op1.dot_product.dimension", "op1.map.dimension", "op2.dot_product.dimension", "op2.map.dimension"}

ONE_OP = {  # 9 distinct cells: dot_product 3 dimensions x 2 kv sources, map 3 dimensions (no kv source)
    "schema": "attention-nas/space@1", "name": "one_op",
    "cell": {"num_ops": 1, "inputs_per_op": 1, "kv_source": ["op_input", "cell_input"]},
    "preprocess": {"channels": [4], "height": [2], "width": [2], "frames": [2]},
    "ops": {"gating": [False], "kinds": {
        "dot_product": {"dimension": ["temporal", "spatial", "spatiotemporal"], "activation": ["softmax"]},
        "map": {"dimension": ["temporal", "spatial", "spatiotemporal"], "activation": ["sigmoid"]}}},
}


def suggested_names(space):
    return {mv.name for mv in merged_variables(space) if mv.suggested}


def drive(ctrl, asks, batch=1, seed=0):
    """`asks` asks of `batch` proposals, each told its toy score; returns every proposal."""
    toy = make_objective("toy", {"seed": seed})
    out = []
    for _ in range(asks):
        proposals = ctrl.ask(batch)
        for p in proposals:
            ctrl.tell(p.id, toy.evaluate(p.genotype, TrialContext(seed, p.id)).score)
        out += proposals
    return out


def test_the_gpb_space_merges_into_20_unconditional_variables(gpb_space):
    assert len(GPB_MERGED) == 20
    assert suggested_names(gpb_space) == GPB_MERGED
    assert len([v for v in gpb_space.variables() if len(v.choices) > 1]) == 28  # what flat=true suggests


def test_choices_with_different_value_sets_stay_per_kind_and_are_always_suggested():
    space = parse_space(UNSHARED, source="unshared")
    assert suggested_names(space) == UNSHARED_MERGED  # activation is shared although its order differs


@pytest.mark.parametrize("name", ["optuna_gp", "tpe"])
def test_every_trial_suggests_the_same_variables_and_proposes_cells_of_the_space(name, gpb_space):
    ctrl = make_controller(name, gpb_space, seed=1, initial=4)
    proposals = drive(ctrl, 12)
    assert len(proposals) == 12 and all(gpb_space.contains(p.genotype) for p in proposals)
    trials = ctrl.study.trials
    assert len(trials) >= 12
    assert all(set(t.params) == GPB_MERGED for t in trials)


def test_optuna_gp_models_the_kind_choices(gpb_space):
    """Optuna's GP models the intersection search space: with merged names it is all 20 variables."""
    ctrl = make_controller("optuna_gp", gpb_space, seed=2, initial=3)
    drive(ctrl, 6)
    space = ctrl.study.sampler.infer_relative_search_space(ctrl.study, ctrl.study.trials[-1])
    assert set(space) == GPB_MERGED


def test_merged_variables_round_trip_every_cell(gpb_space):
    merged = merged_variables(gpb_space)
    for seed in range(60):
        cell = gpb_space.sample(seed)
        values = to_merged(merged, gpb_space.to_params(cell))
        assert set(values) == GPB_MERGED  # no variable is dead in this space
        assert gpb_space.from_params(from_merged(gpb_space, merged, values)).key() == cell.key()


def test_round_trip_leaves_out_the_dead_per_kind_choices():
    space = parse_space(UNSHARED, source="unshared")
    merged = merged_variables(space)
    for cell in space.enumerate():
        values = to_merged(merged, space.to_params(cell))
        dead = {f"op{k}.{kind}.dimension" for k, spec in enumerate(cell.ops, 1) for kind in ("dot_product", "map")
                if kind != spec.kind}
        assert set(values) == UNSHARED_MERGED - dead
        assert space.from_params(from_merged(space, merged, values)).key() == cell.key()


@pytest.mark.parametrize("name", ["optuna_gp", "tpe"])
def test_running_dry_enqueues_merged_names(name, monkeypatch):
    monkeypatch.setattr(optuna_samplers, "MAX_RESAMPLES", 1)  # the first repeat steps to the nearest untried cell
    space = parse_space(ONE_OP, source="one_op")
    ctrl = make_controller(name, space, seed=0, initial=3)
    proposals = drive(ctrl, 12)
    assert len(proposals) == 9 == len({p.key for p in proposals})
    trials = ctrl.study.trials
    enqueued = [t for t in trials if "fixed_params" in t.system_attrs]
    assert enqueued, "the sampler never repeated itself into the nearest-untried fallback"
    names = {"kv_source", "op1.kind", "op1.dimension"}
    assert all(set(t.system_attrs["fixed_params"]) <= names for t in enqueued)
    assert all(set(t.params) == names for t in trials)


def test_flat_still_suggests_every_variable_of_the_space(gpb_space):
    ctrl = make_controller("optuna_gp", gpb_space, seed=0, initial=3, flat=True)
    proposals = drive(ctrl, 5)
    assert len(proposals) == 5 and all(gpb_space.contains(p.genotype) for p in proposals)
    assert all(set(t.params) == {v.name for v in gpb_space.variables()} for t in ctrl.study.trials)


@pytest.mark.parametrize("name", ["optuna_gp", "tpe"])
def test_a_stopped_trial_is_pruned_with_its_intermediate_values_and_a_complete_one_is_not(name, gpb_space):
    ctrl = make_controller(name, gpb_space, seed=0, initial=3)
    stopped, complete, failed = ctrl.ask(3)
    ctrl.tell(stopped.id, 0.3, epochs_trained=3, max_epochs=9, value_curve=[0.1, 0.25, 0.3])
    ctrl.tell(complete.id, 0.5, epochs_trained=9, max_epochs=9, value_curve=[0.05 * e for e in range(1, 10)])
    ctrl.tell(failed.id, None)
    trials = {t.number: t for t in ctrl.study.trials}  # no repeats yet: trial n is proposal n
    assert trials[0].state == TrialState.PRUNED
    assert trials[0].intermediate_values == {1: 0.1, 2: 0.25, 3: 0.3} and trials[0].value == 0.3
    assert trials[1].state == TrialState.COMPLETE and trials[1].value == 0.5 and not trials[1].intermediate_values
    assert trials[2].state == TrialState.FAIL


def test_tpe_proposes_the_same_with_or_without_full_fidelity_metrics(gpb_space):
    runs = []
    for metrics in ({}, {"epochs_trained": 2, "max_epochs": 2, "value_curve": [0.0, 1.0]}):
        ctrl = make_controller("tpe", gpb_space, seed=4, initial=3)
        toy = make_objective("toy", {"seed": 0})
        for _ in range(6):
            [p] = ctrl.ask(1)
            ctrl.tell(p.id, toy.evaluate(p.genotype, TrialContext(0, p.id)).score, **metrics)
        runs.append([p.key for p in ctrl.proposals()])
    assert runs[0] == runs[1]
