"""`nas space ...` and `nas genotype validate`: outputs, and one-line errors with exit 2."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
import yaml

from nas.space import Genotype
from tests.conftest import ROOT, assert_one_line_error, run_nas

GPB = str(ROOT / "search_spaces" / "attentionnas_gpb.yaml")
SPACE_DOC = yaml.safe_load(open(GPB))


def test_sample_writes_a_valid_genotype_and_is_reproducible(tmp_path):
    out = tmp_path / "cell.json"
    code, stdout, err = run_nas("space", "sample", GPB, "--seed", "5", "-o", out)
    assert code == 0, err
    genotype = Genotype.from_json(out.read_text())
    code, again, _ = run_nas("space", "sample", GPB, "--seed", "5")
    assert Genotype.from_json(again) == genotype
    assert genotype.key() in stdout
    code, stdout, _ = run_nas("genotype", "validate", out, "--space", GPB)
    assert code == 0 and genotype.key() in stdout


def test_validate_reports_the_space():
    code, out, _ = run_nas("space", "validate", GPB)
    assert code == 0 and "attentionnas_gpb" in out and "54039786" in out


def mutated(path: str, value) -> dict:
    """SPACE_DOC with the value at dotted `path` replaced (None deletes it)."""
    doc = copy.deepcopy(SPACE_DOC)
    *parents, last = path.split(".")
    node = doc
    for part in parents:
        node = node[part]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return doc


BAD_SPACES = {
    "unknown key": (mutated("cell.beta", 2), "cell.beta: unknown key"),
    "unknown op kind": (mutated("ops.kinds.warp", {}), "unknown op kind 'warp'"),
    "empty choice list": (mutated("ops.kinds.map.dimension", []), "ops.kinds.map.dimension: the list of choices is empty"),
    "bad choice value": (mutated("ops.kinds.map.activation", ["tanh"]), "ops.kinds.map.activation[0]: must be one of"),
    "unknown choice": (mutated("ops.kinds.map.heads", [2]), "ops.kinds.map.heads: unknown key"),
    "wrong type": (mutated("cell.num_ops", "four"), "cell.num_ops: expected integer, got string"),
    "bool as number": (mutated("preprocess.height", [True]), "preprocess.height: expected integer, got boolean"),
    "missing key": (mutated("cell.kv_source", None), "cell.kv_source: missing required key"),
    "bad kv": (mutated("cell.kv_source", ["values"]), "cell.kv_source[0]: must be one of"),
    "bad fraction": (mutated("preprocess.channels", [1.5]), "preprocess.channels[0]: a fraction must lie in (0, 1)"),
    "bad inputs": (mutated("cell.inputs_per_op", {"min": 3, "max": 2}), "cell.inputs_per_op: need 1 <= min <= max"),
    "duplicate choice": (mutated("ops.gating", [True, True]), "ops.gating[1]: duplicate choice"),
    "wrong schema": (mutated("schema", "attention-nas/space@9"), "schema: expected"),
    "not a mapping": ([1, 2], "expected a mapping, got list"),
}


@pytest.mark.parametrize("case", list(BAD_SPACES))
def test_malformed_space_gives_one_line_and_exit_2(tmp_path, case):
    doc, fragment = BAD_SPACES[case]
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(doc))
    for verb in ("validate", "size", "sample"):
        code, out, err = run_nas("space", verb, path)
        assert_one_line_error(code, err, str(path), fragment)
        assert out == ""


def test_invalid_yaml_and_missing_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("cell:\n  num_ops: [4\n")
    code, _, err = run_nas("space", "validate", path)
    assert_one_line_error(code, err, "invalid YAML", "line 3")
    code, _, err = run_nas("space", "validate", tmp_path / "absent.yaml")
    assert_one_line_error(code, err, "not found", "absent.yaml")
    code, _, err = run_nas("space", "validate", tmp_path)
    assert_one_line_error(code, err, "is a folder, not a file")


GOOD = json.loads(Genotype.from_json(
    {
        "schema": "attention-nas/genotype@1",
        "kv_source": "cell_input",
        "preprocess": {"channels": 0.25, "height": 7, "width": 7, "frames": 8},
        "ops": [
            {"id": 1, "kind": "dot_product", "choices": {"dimension": "temporal"}, "inputs": [{"from": 0}]},
            {"id": 2, "kind": "map", "choices": {"dimension": "spatial"}, "inputs": [{"from": 1}]},
            {"id": 3, "kind": "dot_product", "choices": {}, "inputs": [{"from": 0}]},
        ],
        "combine": {"mode": "concat", "outputs": [2, 3], "weights": None},
    }
).to_json())


def bad_genotype(edit) -> dict:
    doc = copy.deepcopy(GOOD)
    edit(doc)
    return doc


BAD_GENOTYPES = {
    "unknown key": (lambda d: d.update(colour="red"), "colour: unknown key"),
    "unknown op kind": (lambda d: d["ops"][1].update(kind="warp"), "ops[1].kind: unknown op kind 'warp'"),
    "unknown choice": (lambda d: d["ops"][0]["choices"].update(heads=4), "ops[0].choices.heads: op kind 'dot_product' has no such choice"),
    "bad choice": (lambda d: d["ops"][0]["choices"].update(dimension="diagonal"), "ops[0].choices.dimension: must be one of"),
    "forward input": (lambda d: d["ops"][0]["inputs"][0].update({"from": 3}), "ops[0].inputs[0].from: op 1 reads op 3, which comes later"),
    "cycle": (lambda d: d["ops"][0]["inputs"][0].update({"from": 2}), "ops[0].inputs[0].from: the ops form a cycle: 1 -> 2 -> 1"),
    "missing op": (lambda d: d["ops"][1]["inputs"][0].update({"from": 9}), "ops[1].inputs[0].from: no op has id 9"),
    "wrong type": (lambda d: d["ops"][0].update(gating="yes"), "ops[0].gating: expected boolean, got string"),
    "empty ops": (lambda d: d.update(ops=[]), "ops: must not be empty"),
    "empty inputs": (lambda d: d["ops"][2].update(inputs=[]), "ops[2].inputs: must not be empty"),
    "duplicate id": (lambda d: d["ops"][2].update(id=1), "ops[2].id: duplicate op id 1"),
    "dead op": (lambda d: d["combine"].update(outputs=[2]), "ops[2]: op 3 reaches no output"),
    "bad weight": (lambda d: d["ops"][1]["inputs"][0].update(weight=-1), "ops[1].inputs[0].weight: must be a positive"),
    "sum without weights": (lambda d: d["combine"].update(mode="sum"), "combine.weights: sum needs one weight per output"),
    "bad kv": (lambda d: d.update(kv_source="memory"), "kv_source: must be one of"),
    "bad schema": (lambda d: d.update(schema="other@1"), "schema: neither a cell genotype ('attention-nas/genotype@1') nor a model genotype"),
    "zero frames": (lambda d: d["preprocess"].update(frames=0), "preprocess.frames: must be at least 1"),
}


@pytest.mark.parametrize("case", list(BAD_GENOTYPES))
def test_malformed_genotype_gives_one_line_and_exit_2(tmp_path, case):
    edit, fragment = BAD_GENOTYPES[case]
    path = tmp_path / "cell.json"
    path.write_text(json.dumps(bad_genotype(edit)))
    code, out, err = run_nas("genotype", "validate", path)
    assert_one_line_error(code, err, str(path), fragment)


def test_invalid_json_missing_genotype_and_cell_outside_space(tmp_path):
    path = tmp_path / "cell.json"
    path.write_text('{"schema": "attention-nas/genotype@1",\n "ops": [}')
    code, _, err = run_nas("genotype", "validate", path)
    assert_one_line_error(code, err, "invalid JSON", "line 2")
    code, _, err = run_nas("genotype", "validate", tmp_path / "none.json")
    assert_one_line_error(code, err, "genotype file not found")
    path.write_text(json.dumps(GOOD))
    code, _, err = run_nas("genotype", "validate", path, "--space", GPB)
    assert_one_line_error(code, err, "not in space 'attentionnas_gpb'")


def test_bad_arguments_are_one_line():
    code, _, err = run_nas("space", "sample", GPB, "--seed", "x")
    assert_one_line_error(code, err, "argument --seed: expected an integer, got 'x'")
    code, _, err = run_nas("spaces")
    assert_one_line_error(code, err, "invalid choice")


def test_console_script_runs_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "runners.cli", "space", "validate", str(tmp_path / "x.yaml")],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert_one_line_error(result.returncode, result.stderr, "not found")
