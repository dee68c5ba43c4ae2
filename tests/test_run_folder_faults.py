"""Run folders under faults: a kill at any moment of creation leaves nothing or a resumable run,
a second driver is refused, a refused resume writes nothing, tampered files are one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from nas.store import TrialStore
from runners.engine.run_folder import RunFolder, SearchConfig
from tests.conftest import ROOT, assert_one_line_error, run_nas

GPB = ROOT / "search_spaces" / "attentionnas_gpb.yaml"
STEPS = ("space", "config", "session", "store", "rename")

CREATOR = textwrap.dedent("""
    import os, sys, time
    import runners.engine.run_folder as rf
    step = sys.argv[2]

    def pause(name, real):
        def wrapped(*args, **kwargs):
            out = real(*args, **kwargs)
            if name == step:
                print("at", name, flush=True)
                time.sleep(60)
            return out
        return wrapped

    rf.atomic_write_text = pause("space", rf.atomic_write_text)
    rf.RunFolder.save_config = pause("config", rf.RunFolder.save_config)
    rf.RunFolder.add_session = pause("session", rf.RunFolder.add_session)
    rf.TrialStore.create = pause("store", rf.TrialStore.create)
    real_rename = os.rename
    def rename(src, dst):
        if step == "rename":
            print("at rename", flush=True)
            time.sleep(60)
        return real_rename(src, dst)
    rf.os.rename = rename
    config = rf.SearchConfig(trials=2, controller="random", objective="toy")
    rf.RunFolder.create(sys.argv[1], config, open(sys.argv[3]).read(), ["search", "gpb"])
    print("done", flush=True)
""")


def new_run(path, **settings) -> RunFolder:
    config = SearchConfig(**{"trials": 2, "controller": "random", "objective": "toy", **settings})
    return RunFolder.create(path, config, GPB.read_text(), ["search", "gpb"])


@pytest.mark.parametrize("step", STEPS)
def test_a_kill_during_creation_leaves_no_run_folder_and_a_new_one_can_be_made(tmp_path, step):
    out = tmp_path / "run"
    child = subprocess.Popen([sys.executable, "-c", CREATOR, str(out), step, str(GPB)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == f"at {step}"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert not out.exists()  # nothing at the run's name: `gpb` may use it, `resume` says it is not there
    assert [p.name.startswith(".run.partial-") for p in tmp_path.iterdir()] == [True]
    run = new_run(out)  # the same --out works again, and the killed attempt's leftovers are gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert run.config().trials == 2 and TrialStore.open(run.store_path).counts() is not None


def test_a_second_driver_on_a_run_folder_is_refused_and_writes_nothing(tmp_path):
    run = new_run(tmp_path / "run")
    before = {p.name: p.read_bytes() for p in run.path.iterdir() if p.is_file()}
    with run.lock():
        code, _, err = run_nas("search", "resume", run.path)
    assert_one_line_error(code, err, "is in use by another nas process", f"pid {os.getpid()}")
    after = {p.name: p.read_bytes() for p in run.path.iterdir() if p.is_file()}
    after.pop(".lock")
    assert after == before


def test_a_refused_resume_rewrites_no_config_and_adds_no_session(tmp_path):
    run = new_run(tmp_path / "run")
    run.store_path.write_bytes(b"not a database at all" * 10)
    before = {p.name: p.read_bytes() for p in run.path.iterdir() if p.is_file()}
    code, _, err = run_nas("search", "resume", run.path, "--trials", "5")
    assert_one_line_error(code, err, "is not a trial store (not an SQLite database)")
    after = {p.name: p.read_bytes() for p in run.path.iterdir() if p.is_file() and p.name != ".lock"}
    assert after == before  # no -wal/-shm files either


@pytest.mark.parametrize("config, fragment", [
    ([1, 2], "not a search-run config"),
    ({"trials": float("nan")}, "trials: expected integer"),
    ({"trials": 0}, "trials must be in 1 .. 1000000"),
    ({"controller_options": "x"}, "controller_options: expected mapping"),
    ({"cpus_per_trial": float("inf")}, "cpus-per-trial must be a finite number"),
    ({"colour": "red"}, "unknown key 'colour'"),
])
@pytest.mark.parametrize("verb", ["resume", "viz"])  # export reads only the store
def test_tampered_configs_are_one_line_errors_in_every_verb(tmp_path, config, fragment, verb):
    run = new_run(tmp_path / "run")
    stored = json.loads(run.config_path.read_text())
    run.config_path.write_text(json.dumps(config if isinstance(config, list) else {**stored, **config}))
    args = {"resume": ("search", "resume", run.path), "export": ("export", run.path),
            "viz": ("viz", "--run", run.path, "--plot", "trials", "-o", tmp_path / "x.png")}[verb]
    code, _, err = run_nas(*args)
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "x.png").exists()


def test_taking_the_lock_removes_temporaries_a_kill_left(tmp_path):
    run = new_run(tmp_path / "run")
    for name in (".best_genotype.k2j3.json", ".best_cell.x1.png", ".config.ab.json", ".provenance.zz.json"):
        (run.path / name).write_text("half")
    (run.path / ".keep.txt").write_text("not ours")
    with run.lock():
        pass
    assert sorted(p.name for p in run.path.iterdir() if p.name.startswith(".")) == [".keep.txt", ".lock"]
