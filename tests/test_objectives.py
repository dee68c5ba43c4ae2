"""Objectives: option checking, the toy landscape (invariance, exact optimum), failures, toy FLOPs."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from nas.errors import UserError
from nas.objectives import OBJECTIVES, TrialContext, make_objective
from nas.objectives.toy import all_labels, optimum
from nas.space.dsl import parse_space
from nas.space.genotype import OpInput

CTX = TrialContext(seed=0, proposal_id="0")

SMALL = {  # single-input ops, small enough to enumerate every cell
    "schema": "attention-nas/space@1", "name": "small",
    "cell": {"num_ops": 3, "inputs_per_op": 1, "kv_source": ["op_input", "cell_input"]},
    "preprocess": {"channels": [0.25], "height": [4], "width": [4], "frames": [4]},
    "ops": {"gating": [False, True], "kinds": {
        "dot_product": {"dimension": ["temporal", "spatial"], "activation": ["softmax"]},
        "map": {"dimension": ["temporal"], "activation": ["sigmoid"]}}},
}


def test_make_objective_checks_names_options_types_and_ranges():
    assert "toy" in OBJECTIVES
    toy = make_objective("toy", {"seed": 3, "noise": 1})
    assert toy.seed == 3 and toy.noise == 1.0 and isinstance(toy.noise, float)
    assert toy.options()["seed"] == 3
    with pytest.raises(UserError, match="unknown objective 'tyo'"):
        make_objective("tyo")
    with pytest.raises(UserError, match="no option 'sed'"):
        make_objective("toy", {"sed": 1})
    with pytest.raises(UserError, match="option 'seed': expected integer, got string"):
        make_objective("toy", {"seed": "one"})
    with pytest.raises(UserError, match="'fail_fraction': 1.5 is out of range"):
        make_objective("toy", {"fail_fraction": 1.5})
    with pytest.raises(UserError, match="'interaction': -1.0 is out of range"):
        make_objective("toy", {"interaction": -1})


def renumbered(genotype):
    """The same cell with op ids shifted by 10 (isomorphic, different numbering)."""
    ops = tuple(replace(s, id=s.id + 10, inputs=tuple(OpInput(e.source + 10 if e.source else 0, e.weight) for e in s.inputs))
                for s in genotype.ops)
    combine = replace(genotype.combine, outputs=tuple(o + 10 for o in genotype.combine.outputs))
    return replace(genotype, ops=ops, combine=combine)


def test_toy_score_is_deterministic_bounded_and_invariant_to_renumbering(gpb_space):
    toy, other = make_objective("toy", {"seed": 1}), make_objective("toy", {"seed": 2})
    cells = [gpb_space.sample(i) for i in range(40)]
    scores = [toy.evaluate(c, CTX).score for c in cells]
    assert all(0.0 < s < 1.0 for s in scores) and len(set(scores)) > 30
    assert scores == [make_objective("toy", {"seed": 1}).evaluate(c, CTX).score for c in cells]
    assert scores != [other.evaluate(c, CTX).score for c in cells]
    for cell in cells[:10]:
        twin = renumbered(cell)
        assert twin.key() == cell.key() and twin != cell
        assert toy.evaluate(twin, CTX).score == pytest.approx(toy.evaluate(cell, CTX).score, abs=1e-12)


def test_toy_noise_is_fixed_per_cell(gpb_space):
    noisy = make_objective("toy", {"seed": 1, "noise": 0.5})
    cell = gpb_space.sample(0)
    first = noisy.evaluate(cell, CTX).score
    assert first == noisy.evaluate(cell, TrialContext(9, "9")).score
    assert first != noisy.true_score(cell)


def test_exact_optimum_matches_brute_force():
    space = parse_space(SMALL, source="small")
    cells = space.enumerate()
    assert len(all_labels(space)) == 6
    for seed in (0, 1):
        toy = make_objective("toy", {"seed": seed})
        best = max(toy.true_score(c) for c in cells)
        assert optimum(space, seed) == pytest.approx(best, abs=1e-12)


def test_exact_optimum_with_stronger_interactions_matches_brute_force():
    space = parse_space(SMALL, source="small")
    cells = space.enumerate()
    for seed in (0, 1):
        toy, plain = make_objective("toy", {"seed": seed, "interaction": 3}), make_objective("toy", {"seed": seed})
        assert all(toy.true_score(c) != plain.true_score(c) for c in cells[:20])
        best = max(toy.true_score(c) for c in cells)
        assert optimum(space, seed, interaction=3.0) == pytest.approx(best, abs=1e-12)
        assert optimum(space, seed, interaction=3.0) != pytest.approx(optimum(space, seed), abs=1e-6)


def test_optimum_bounds_random_cells_of_the_gpb_space(gpb_space):
    toy = make_objective("toy", {"seed": 0})
    best = optimum(gpb_space, 0)
    assert max(toy.true_score(gpb_space.sample(i)) for i in range(300)) < best < 1.0


def test_injected_failures(gpb_space):
    cell = gpb_space.sample(0)
    with pytest.raises(RuntimeError, match="injected failure"):
        make_objective("toy", {"fail_fraction": 1.0}).evaluate(cell, CTX)
    flaky = make_objective("toy", {"flaky_fraction": 1.0})
    with pytest.raises(RuntimeError, match="first-attempt"):
        flaky.evaluate(cell, CTX)
    assert 0 < flaky.evaluate(cell, replace(CTX, attempt=2)).score < 1
    assert math.isnan(make_objective("toy", {"nan_fraction": 1.0}).evaluate(cell, CTX).score)
    some = make_objective("toy", {"fail_fraction": 0.3})
    failed = 0
    for i in range(200):
        try:
            some.evaluate(gpb_space.sample(i), CTX)
        except RuntimeError:
            failed += 1
    assert 30 < failed < 90  # about 30% of cells, fixed per cell


def test_toy_cost_is_the_attention_matmul_count(gpb_space):
    toy = make_objective("toy", {"channels": 64})
    cell = gpb_space.sample(0)
    ops = []
    for kind, dimension in (("dot_product", "temporal"), ("dot_product", "spatiotemporal"), ("map", "spatial")):
        spec = replace(cell.ops[0], kind=kind, choices={**({"scale": True} if kind == "dot_product" else {}),
                                                        "dimension": dimension, "activation": "softmax"}, gating=False)
        ops.append(toy.cost(replace(cell, ops=(spec,), combine=replace(cell.combine, outputs=(spec.id,)))))
    c, t, hw = 16, 8, 49  # C_reduction = 0.25 * 64, T_group, H_resize * W_resize of the GP-bandit space
    projection = 2 * c * c * t * hw
    assert ops[0].gflops * 1e9 == 3 * projection + 2 * 2 * t * t * (hw * c)
    assert ops[1].gflops * 1e9 == 3 * projection + 2 * 2 * (t * hw) ** 2 * c
    assert ops[2].gflops * 1e9 == 2 * projection + 3 * hw * (t * c)
    assert ops[0].params == 3 * c * c and ops[2].params == 2 * c * c + t * c


def test_train_repeats_average_training_seeds_and_record_each_score_and_the_standard_error(tmp_path):
    from nas.stats import standard_error
    from nas.space import load_genotype
    from tests.conftest import ROOT

    genotype = load_genotype(str(ROOT / "results" / "synthetic" / "temporal_dot_product.json"))
    small = {"num_videos": 80, "frames": 4, "size": 16, "epochs": 1, "batch_size": 8, "task": "relations"}
    single = [make_objective("train", {**small, "seed": s}).evaluate(genotype, CTX) for s in (3, 4, 5)]
    context = TrialContext(seed=0, proposal_id="0", workdir=str(tmp_path))
    repeated = make_objective("train", {**small, "seed": 3, "repeats": 3}).evaluate(genotype, context)
    scores = [r.score for r in single]
    assert [repeated.metrics[f"score_r{r}"] for r in range(3)] == scores  # repeat r is training seed 3 + r
    assert repeated.score == pytest.approx(sum(scores) / 3)
    assert repeated.metrics["score_se"] == pytest.approx(standard_error(scores))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repeat0", "repeat1", "repeat2"]
    assert "score_se" not in single[0].metrics
    assert standard_error([0.5, 0.7]) == pytest.approx(0.1) and standard_error([0.4]) is None
    with pytest.raises(UserError, match="'repeats' must be at least 1"):
        make_objective("train", {"repeats": 0})
    with pytest.raises(UserError, match="unknown task"):
        make_objective("train", {"task": "chess"})


def test_train_score_is_the_mean_or_the_final_search_val_top1_of_the_same_run():
    from nas.space import load_genotype
    from tests.conftest import ROOT

    genotype = load_genotype(str(ROOT / "results" / "synthetic" / "temporal_dot_product.json"))
    small = {"num_videos": 80, "frames": 4, "size": 16, "epochs": 3, "batch_size": 8}
    mean = make_objective("train", small).evaluate(genotype, CTX)
    final = make_objective("train", {**small, "score": "final"}).evaluate(genotype, CTX)
    def same_run(metrics):
        return {k: v for k, v in metrics.items() if not k.endswith("seconds")}

    assert same_run(mean.metrics) == same_run(final.metrics)  # one training run, two readings of it
    assert final.score == final.metrics["final_top1"]
    assert mean.score == mean.metrics["mean_top1"]
    assert 0 <= mean.score <= 1 and mean.score != final.score  # three epochs' values, not the last alone
    with pytest.raises(UserError, match="'score' must be one of mean, final"):
        make_objective("train", {"score": "best"})


def test_train_defaults_are_the_relational_proxy_recipe():
    objective = make_objective("train", {})
    assert (objective.task, objective.frames, objective.num_videos, objective.epochs) == ("relations", 4, 1800, 8)
    assert (objective.optimizer, objective.lr, objective.score) == ("adamw", 3e-3, "mean")
    with pytest.raises(UserError, match="optimizer must be sgd or adamw"):
        make_objective("train", {"optimizer": "lamb"})
