"""Every run names the machine that made it: scores can differ between CPUs for the same seed."""

from __future__ import annotations

import json

import torch

from runners.engine.machine import git_commit, machine
from runners.engine.run_folder import provenance
from tests.conftest import ROOT, run_nas


def test_the_machine_record_names_torch_and_the_cpu_capability_it_dispatches_to():
    record = machine()
    assert record["torch"] == torch.__version__
    assert record["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert record["cpus"] >= 1 and isinstance(record["gpus"], list)
    json.dumps(record)  # JSON data only


def test_a_search_session_and_a_training_run_record_the_machine_and_commit(tmp_path):
    session = provenance(["search", "gpb"], 3)
    assert session["cpu_capability"] == torch.backends.cpu.get_cpu_capability() and session["seed"] == 3
    if (ROOT / ".git").exists():
        assert session["git_commit"] == git_commit() and len(git_commit()) == 40
    code, _, err = run_nas("train", "--backbone", "tiny", "--num-videos", "48", "--frames", "4", "--size", "16",
                           "--epochs", "1", "--out", tmp_path / "run")
    assert code == 0, err
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["machine"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
