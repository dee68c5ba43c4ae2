"""`nas search gpb|resume` and `nas export` on bad input (exit 2, one line, nothing left behind) and export."""

from __future__ import annotations

import json
import socket

import pytest

from nas.space import ModelGenotype
from nas.store import TrialStore
from tests.conftest import ROOT, assert_one_line_error, run_nas
from tests.test_search_driver import GPB, drive, new_run, open_driver


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    "extra, fragments",
    [
        (["--space", "missing.yaml"], ["search space not found: missing.yaml"]),
        (["--controller", "bandit"], ["unknown controller 'bandit'"]),
        (["--controller-option", "pool"], ["--controller-option expects NAME=VALUE"]),
        (["--controller-option", "temperature=2"], ["controller 'gp_bandit' has no option 'temperature'"]),
        (["--objective", "train2"], ["unknown objective 'train2'"]),
        (["--objective-option", "seed=abc"], ["option 'seed': expected integer"]),
        (["--trials", "0"], ["argument --trials: must be in 1 .. 1000000, got 0"]),
        (["--max-gflops", "-1"], ["argument --max-gflops: must be above 0"]),
        (["--seed", "-1"], ["argument --seed: must be in 0 .. 4294967295"]),
        (["--cpus-per-trial", "inf"], ["argument --cpus-per-trial: expected a finite number"]),
        (["--cpus-per-trial", "nan"], ["argument --cpus-per-trial: expected a finite number"]),
        (["--flops-penalty", "nan"], ["argument --flops-penalty: expected a finite number"]),
        (["--workers", "1000000"], ["argument --workers: must be in 1 .. 4096"]),
        (["--controller-option", "initial=abc"], ["gp_bandit", "initial"]),
        (["--address", "nohost"], ["--address must be HOST:PORT"]),
        (["--gpus-per-trial", "1"], ["--gpus-per-trial 1 but this machine has 0 GPUs"]),
        (["--controller", "tpe", "--gpus-per-trial", "1"], ["0 GPUs"]),
        (["--address", f"127.0.0.1:{closed_port()}"], ["cannot reach the Ray cluster at 127.0.0.1:"]),
        (["--scheduler", "bohb"], ["argument --scheduler: invalid choice: 'bohb'"]),
        (["--scheduler", "asha", "--objective", "toy"], ["--scheduler asha needs trials that report after every epoch"]),
        (["--scheduler", "hyperband", "--objective-option", "repeats=3"], ["objective 'train' with these options does not"]),
        (["--scheduler", "asha", "--objective-option", "epochs=2", "--grace-period", "2"],
         ["--grace-period 2 must be below the 2 epochs a trial trains"]),
        (["--reduction-factor", "1"], ["argument --reduction-factor: must be above 1"]),
        (["--grace-period", "0"], ["argument --grace-period: must be in 1 .. 1000000"]),
    ],
)
def test_bad_search_input_is_one_line_and_leaves_no_run_folder(tmp_path, extra, fragments):
    out = tmp_path / "run"
    args = ["search", "gpb", "--space", str(GPB), "--out", out, *extra]
    if "--space" in extra:
        args = ["search", "gpb", "--out", out, *extra]
    code, _, err = run_nas(*args)
    assert_one_line_error(code, err, *fragments)
    assert not out.exists()


def test_invalid_space_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("cell: [unclosed\n")
    code, _, err = run_nas("search", "gpb", "--space", bad, "--out", tmp_path / "run")
    assert_one_line_error(code, err, "invalid YAML", "bad.yaml")
    assert not (tmp_path / "run").exists()


def test_an_existing_run_folder_is_not_overwritten(tmp_path):
    run = new_run(tmp_path / "run", trials=2)
    before = run.config_path.read_text()
    code, _, err = run_nas("search", "gpb", "--space", GPB, "--out", run.path)
    assert_one_line_error(code, err, "already exists", "nas search resume")
    assert run.config_path.read_text() == before


def test_resume_and_export_refuse_what_is_not_a_run(tmp_path):
    (tmp_path / "empty").mkdir()
    for args in (["search", "resume", tmp_path / "empty"], ["export", tmp_path / "empty"], ["export", tmp_path / "nope"]):
        code, _, err = run_nas(*args)
        assert_one_line_error(code, err, "run folder")
    run = new_run(tmp_path / "fresh", trials=2)
    code, _, err = run_nas("export", run.path)
    assert_one_line_error(code, err, "has no complete trial yet")


def test_export_writes_the_best_cell_a_chosen_trial_and_the_pareto_front(tmp_path):
    run = new_run(tmp_path / "run", trials=6, target_gflops=0.002)
    drive(open_driver(run))
    with TrialStore.open(run.store_path) as store:
        best, records = store.best(), store.trials()
    code, out, err = run_nas("export", run.path, "-o", tmp_path / "best.json")
    assert code == 0, err
    exported = ModelGenotype.from_json((tmp_path / "best.json").read_text())
    assert exported.cells["*"].key() == best.key and exported.meta["value"] == best.value
    code, out, _ = run_nas("export", run.path, "--trial", "3")
    assert ModelGenotype.from_json(out).cells["*"] == records[3].genotype
    code, _, err = run_nas("export", run.path, "--trial", "99")
    assert_one_line_error(code, err, "has no trial 99")
    code, out, _ = run_nas("export", run.path, "--pareto")
    front = json.loads(out)
    assert front and front == json.loads(run.pareto_path.read_text())["front"]
    points = [(r.score, r.gflops) for r in records]
    for p in front:  # nothing in the store beats a front point on both counts
        assert not any(s > p["score"] and g <= p["gflops"] or s >= p["score"] and g < p["gflops"] for s, g in points)
    assert [p["gflops"] for p in front] == sorted(p["gflops"] for p in front)


def test_flops_budgets_need_an_objective_that_counts_flops(tmp_path, monkeypatch):
    from nas.objectives import OBJECTIVES, Objective, TrialResult

    class Blind(Objective):
        def evaluate(self, genotype, context):
            return TrialResult(0.5)

    monkeypatch.setitem(OBJECTIVES._entries, "blind", Blind)
    code, _, err = run_nas("search", "gpb", "--space", GPB, "--out", tmp_path / "run", "--objective", "blind",
                           "--max-gflops", "1")
    assert_one_line_error(code, err, "objective 'blind' does not count FLOPs")
    assert not (tmp_path / "run").exists()


def test_cluster_yaml_is_a_valid_ray_cluster_config():
    import yaml
    from ray.autoscaler._private.util import prepare_config, validate_config

    from tests.conftest import ROOT

    config = yaml.safe_load((ROOT / "runners" / "cluster.yaml").read_text())
    validate_config(prepare_config(config))
    assert config["available_node_types"]["head"]["resources"] == {"CPU": 0}  # trials never run on the head
    assert any("pip install -e ~/attention-nas" in c for c in config["setup_commands"])


def test_resuming_a_finished_search_starts_no_trial_and_records_the_session(tmp_path):
    run = new_run(tmp_path / "run", trials=3)
    drive(open_driver(run))
    run.best_path.unlink()  # as if the driver had died between the store and this file
    code, out, err = run_nas("search", "resume", run.path)
    assert code == 0, err
    assert "done: 3 complete; best trial" in out
    assert len(json.loads(run.provenance_path.read_text())["sessions"]) == 2
    with TrialStore.open(run.store_path) as store:
        assert ModelGenotype.from_json(run.best_path.read_text()).meta["key"] == store.best().key
        assert len(store.trials()) == 3


def test_optuna_controllers_add_no_log_lines_to_a_refusal(tmp_path):
    """Optuna logs "A new study created" on the handler it made at import; a real process shows it."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "runners.cli", "search", "gpb", "--space", str(GPB), "--controller",
                           "tpe", "--gpus-per-trial", "1", "--out", str(tmp_path / "run")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        "nas: error: --gpus-per-trial 1 but this machine has 0 GPUs (join a cluster with --address)"], done.stderr
