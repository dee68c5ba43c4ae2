"""runners/ has two layers: verbs (runners/commands, parsing arguments) and the engine
(runners/engine, doing the work); the engine never imports a verb, and every verb module the
CLI loads lives in runners/commands."""

from __future__ import annotations

import ast

import pytest

from runners.cli import COMMAND_MODULES
from tests.conftest import ROOT

ENGINE = sorted((ROOT / "runners" / "engine").glob("*.py"))


def imported_modules(path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports inside functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", ENGINE, ids=lambda p: p.name)
def test_an_engine_module_never_imports_a_verb_or_argparse_helpers(path):
    imported = imported_modules(path)
    assert not {m for m in imported if m.startswith(("runners.commands", "runners.cli", "runners.arg_types"))}


def test_the_engine_layer_is_found_and_every_cli_module_is_a_verb():
    assert len(ENGINE) >= 8
    assert all(module.startswith("runners.commands.") for module in COMMAND_MODULES)
    assert not list((ROOT / "runners").glob("cmd_*.py"))


def test_the_check_sees_a_lazy_import_of_a_verb(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from runners.commands.train import run_train\n")
    assert "runners.commands.train" in imported_modules(bad)


@pytest.mark.parametrize("argv", [
    ["space", "validate", "search_spaces/attentionnas_gpb.yaml"],
    ["space", "size", "search_spaces/attentionnas_gpb.yaml"],
    ["genotype", "validate", "results/genotypes/gpb_fig_a_like.json"],
    ["supergraph", "validate", "supergraphs/sg1.yaml"],
    ["list", "ops"],
])
def test_the_file_checking_verbs_never_import_torch(argv):
    """The op registry is data (`nas.ops.catalog`): checking a file needs no torch (the slow import);
    benchmarks/cli_startup.py measures what that saves."""
    import subprocess
    import sys

    code = ("import sys, contextlib, io; from runners.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): rc = main(sys.argv[1:])\n"
            "print(rc, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["0", "False"], done.stderr


def test_building_an_op_imports_its_module_on_first_use():
    from nas.ops import OPS, FeatureShape
    from nas.space.genotype import OpInput, OpSpec

    entry = OPS.get("relational")
    assert entry.factory == "nas.ops.relational:RelationalSelfAttention"
    spec = OpSpec(id=1, kind="relational", choices={"window": "3x3x3", "queries": 2}, inputs=(OpInput(0),))
    module = OPS.build(spec, FeatureShape(8, 2, 4, 4), "cell_input")
    assert type(module).__name__ == "RelationalSelfAttention" and entry.resolve() is type(module)
