"""The search-space DSL: sizes counted exactly, enumeration, encoding, mutation."""

from __future__ import annotations

import copy
import re
from fractions import Fraction

import numpy as np
import pytest
import yaml

from nas.errors import UserError
from nas.space import load_space
from nas.space.dsl import parse_space
from tests.conftest import ROOT, SPACES, run_nas


def rooted_tree_count(labels: int) -> Fraction:
    """Distinct labellings of the 9 rooted trees on 5 vertices (root = cell input), by hand.

    K = 4 ops with one input each form a tree rooted at f_0.  Per shape, Burnside's lemma over
    its automorphisms (cycle counts on the 4 ops):
      3 shapes with no symmetry (path; a->{b->d, c}; r->{a->b->c, d})        L^4 each
      3 shapes with one swap of two leaves (a->b->{c,d}; r->{a->{b,c}, d}; r->{a->b, c, d})  (L^4 + L^3) / 2
      r->{a->b, c->d}: swap of two 2-paths                                      (L^4 + L^2) / 2
      r->a->{b, c, d}: S3 on three leaves                                       (L^4 + 3L^3 + 2L^2) / 6
      r->{a, b, c, d}: S4 on four leaves                                        (L^4 + 6L^3 + 11L^2 + 6L) / 24
    """
    L = labels
    return (
        3 * L**4
        + 3 * Fraction(L**4 + L**3, 2)
        + Fraction(L**4 + L**2, 2)
        + Fraction(L**4 + 3 * L**3 + 2 * L**2, 6)
        + Fraction(L**4 + 6 * L**3 + 11 * L**2 + 6 * L, 24)
    )


def test_gpb_space_size_matches_the_count_by_hand():
    # labels per op: 2 kinds x 3 dimensions x 4 activations x 2 gating = 48; map (24) ignores kv
    expected = 2 * rooted_tree_count(48) - rooted_tree_count(24)
    code, out, err = run_nas("space", "size", "search_spaces/attentionnas_gpb.yaml")
    assert code == 0, err
    assert int(out.strip()) == expected == 54_039_786
    code, out, _ = run_nas("space", "size", "search_spaces/attentionnas_gpb.yaml", "--raw")
    assert int(out.strip()) == 2 * 48**4 * 24


def small_space(inputs, kinds, num_ops=3, kv=("op_input", "cell_input"), gating=(False, True)):
    return parse_space(
        {
            "schema": "attention-nas/space@1",
            "name": "small",
            "cell": {"num_ops": num_ops, "inputs_per_op": inputs, "kv_source": list(kv)},
            "preprocess": {"channels": [0.5, 8], "height": [4], "width": [4], "frames": [2]},
            "ops": {"gating": list(gating), "kinds": kinds},
        }
    )


@pytest.mark.parametrize(
    "inputs,kinds,options",
    [
        (1, {"dot_product": {"dimension": ["temporal", "spatial"], "activation": ["softmax"]}}, {}),
        ({"min": 1, "max": 2}, {"dot_product": {"dimension": ["temporal"], "activation": ["softmax"]},
                                "map": {"dimension": ["spatial"], "activation": ["sigmoid"]}}, {}),
        ({"min": 1, "max": 3}, {"map": {"dimension": ["temporal", "spatial"], "activation": ["relu"]}},
         {"num_ops": 4, "kv": ("op_input",), "gating": (False,)}),
        ({"min": 2, "max": 2}, {"dot_product": {"dimension": ["temporal", "spatial"], "activation": ["none"]}},
         {"num_ops": 4, "gating": (True,)}),
    ],
)
def test_exact_size_equals_brute_force_enumeration(inputs, kinds, options):
    space = small_space(inputs, kinds, **options)
    cells = space.enumerate()
    assert len(cells) == space.size()
    assert len({c.key() for c in cells}) == len(cells)
    assert space.raw_size() == sum(1 for _ in space.assignments())


@pytest.mark.parametrize("path", SPACES, ids=lambda p: p.stem)
def test_encoding_is_fixed_length_and_inverts(path):
    space = load_space(str(path))
    codes = []
    for seed in range(200):
        genotype = space.sample(seed)
        code = space.encode(genotype)
        assert code.shape == (space.code_length(),)
        assert set(np.unique(code)) <= {0.0, 1.0}
        assert space.decode(code) == genotype
        codes.append(code)
    assert len({c.tobytes() for c in codes}) == 200


def test_mutation_is_deterministic_and_stays_in_the_space(gpb_space):
    g = gpb_space.sample(7)
    for seed in range(100):
        child = gpb_space.mutate(g, seed)
        assert child == gpb_space.mutate(g, seed)
        assert gpb_space.contains(child)
        assert child.key() != g.key()
        before, after = gpb_space.to_params(g), gpb_space.to_params(child)
        differing = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        if len(differing) > 1:  # a new kind for one op, with that kind's choices drawn afresh
            kind = next(k for k in differing if k.endswith(".kind"))
            assert all(k.startswith(kind[: -len("kind")]) for k in differing)
        assert differing


def test_cells_outside_the_space_are_named(gpb_space):
    general = load_space("search_spaces/attentionnas.yaml")
    two_inputs = next(g for g in (general.sample(s) for s in range(100)) if any(len(o.inputs) == 2 for o in g.ops))
    assert not gpb_space.contains(two_inputs)
    assert general.contains(gpb_space.sample(0))


def test_space_file_round_trips_through_yaml(tmp_path):
    data = yaml.safe_load(open("search_spaces/attentionnas.yaml"))
    path = tmp_path / "copy.yaml"
    path.write_text(yaml.safe_dump(data))
    assert load_space(str(path)) == load_space("search_spaces/attentionnas.yaml")


def test_sizes_beyond_the_documented_limits_are_refused_quickly(tmp_path):
    """Upper bounds (nas.space.limits) checked before any work: no hang, one line."""
    import time

    from nas.space.limits import MAX_CHOICES, MAX_OPS, MAX_SIZE

    base = yaml.safe_load((ROOT / "search_spaces" / "attentionnas_gpb.yaml").read_text())
    cases = {
        "num_ops": (lambda d: d["cell"].update(num_ops=1_000_000), f"must be in 1 .. {MAX_OPS}"),
        "choices": (lambda d: d["preprocess"].update(height=list(range(1, 30_001))), f"at most {MAX_CHOICES} choices"),
        "size": (lambda d: d["preprocess"].update(frames=[8, MAX_SIZE + 1]), f"must be at most {MAX_SIZE}"),
    }
    for name, (edit, fragment) in cases.items():
        data = copy.deepcopy(base)
        edit(data)
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data))
        started = time.perf_counter()
        with pytest.raises(UserError, match=re.escape(fragment)):
            load_space(str(path))
        assert time.perf_counter() - started < 10, name  # a bound against hangs, not a speed claim
