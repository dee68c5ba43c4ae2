"""Searches on real Ray (slow): reproducibility, SIGKILL of the driver and resume, a two-node cluster.

Every search runs as `python -m runners.cli` in its own process group; whatever Ray processes
a test starts (the embedded instance of a killed driver, a loopback cluster) are ended by
that group id, never by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from nas.store import TrialStore
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

GPB = str(ROOT / "search_spaces" / "attentionnas_gpb.yaml")
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16),
       "PYTHONUNBUFFERED": "1"}  # Ray's token authentication, as the README tells cluster users to keep it
QUICK = ["--preset", "quick", "--workers", "1", "--seed", "3", "--objective", "toy"]


def end_group(pgid: int) -> None:
    """SIGKILL every process left in process group `pgid` (ours: started with a new session)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def nas(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the CLI in a new process group; end anything it left behind."""
    proc = subprocess.Popen([sys.executable, "-m", "runners.cli", *map(str, args)], cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        end_group(proc.pid)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def rows(run: Path) -> list[tuple]:
    with TrialStore.open(run / "trials.db") as store:
        return [(r.number, r.key, r.state, r.value, r.score) for r in store.trials()]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("quick") / "run"
    done = nas("search", "gpb", "--space", GPB, "--out", run, *QUICK)
    assert done.returncode == 0, done.stderr[-3000:]
    return run


def test_quick_preset_with_one_worker_repeats_exactly(quick_run, tmp_path):
    first = rows(quick_run)
    assert len(first) == 12 and all(r[2] == "complete" for r in first)
    for name in ("config.json", "space.yaml", "provenance.json", "trials.log", "best_genotype.json"):
        assert (quick_run / name).is_file(), name
    assert len((quick_run / "trials.log").read_text().splitlines()) == 12
    again = tmp_path / "again"
    done = nas("search", "gpb", "--space", GPB, "--out", again, *QUICK)
    assert done.returncode == 0, done.stderr[-3000:]
    assert rows(again) == first
    assert "[12/12]" in done.stdout


def finished_count(store_path: Path, states: tuple[str, ...] = ("complete",)) -> int:
    """Trials in `states` so far, read while the search writes (0 before the store exists)."""
    if not store_path.exists():
        return 0
    marks = ", ".join("?" for _ in states)
    try:
        with sqlite3.connect(store_path, timeout=5) as db:
            return db.execute(f"SELECT COUNT(*) FROM trials WHERE state IN ({marks})", states).fetchone()[0]
    except sqlite3.OperationalError:  # the table is not there yet
        return 0


def kill_search_after(args: list, run: Path, count: int, states: tuple[str, ...] = ("complete",)) -> None:
    """Start `nas ARGS` in its own process group, SIGKILL the driver once `count` trials of the run are
    in `states`, and end whatever it left behind."""
    proc = subprocess.Popen([sys.executable, "-m", "runners.cli", *map(str, args)], cwd=ROOT, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 600
        while finished_count(run / "trials.db", states) < count and proc.poll() is None and time.time() < deadline:
            time.sleep(0.1)
        assert proc.poll() is None, "the search ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        end_group(proc.pid)


def test_sigkill_of_the_driver_then_resume_keeps_finished_trials_and_repeats_none(quick_run, tmp_path):
    run = tmp_path / "run"
    kill_search_after(["search", "gpb", "--space", GPB, "--out", run, *QUICK, "--objective-option", "sleep=1.0"], run, 4)
    before = [r for r in rows(run) if r[2] == "complete"]
    assert 4 <= len(before) < 12
    done = nas("search", "resume", run)
    assert done.returncode == 0, done.stderr[-3000:]
    after = rows(run)
    assert [r for r in after if r[1] in {b[1] for b in before}] == before  # finished trials kept as they were
    assert len(after) == 12 and len({r[1] for r in after}) == 12 and all(r[2] == "complete" for r in after)
    assert after == rows(quick_run)  # the sleep changes no value: the same search as uninterrupted


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def two_node_cluster():
    """A Ray head and a second node on loopback, one CPU each; yields the address."""
    temp = tempfile.mkdtemp(prefix="nasray", dir="/tmp")  # short: Ray's socket paths must fit
    port = free_port()
    ray = str(Path(sys.executable).with_name("ray"))
    groups = []
    try:
        for extra in (["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}"],
                      [f"--address=127.0.0.1:{port}"]):
            proc = subprocess.Popen([ray, "start", "--node-ip-address=127.0.0.1", "--num-cpus=1", *extra],
                                    env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    start_new_session=True)
            groups.append(proc.pid)
            out, _ = proc.communicate(timeout=300)
            assert proc.returncode == 0, out[-3000:]
        yield f"127.0.0.1:{port}"
    finally:
        for pgid in groups:
            end_group(pgid)
        shutil.rmtree(temp, ignore_errors=True)


def test_a_search_runs_across_a_two_node_cluster_with_failing_cells_and_lost_workers(two_node_cluster, tmp_path):
    run = tmp_path / "run"
    done = nas("search", "gpb", "--space", GPB, "--out", run, "--address", two_node_cluster, "--workers", "2",
               "--trials", "8", "--controller", "random", "--retries", "1", "--objective", "toy", "--objective-option", "sleep=2.0",
               "--objective-option", "fail_fraction=0.3", "--objective-option", "crash_fraction=0.1")
    assert done.returncode == 0, done.stderr[-3000:]
    assert two_node_cluster in done.stdout
    with TrialStore.open(run / "trials.db") as store:
        records = store.trials()
    assert len(records) == 8 and len({r.key for r in records}) == 8
    # which cells raise or kill their worker is fixed by their keys: 3 raise, 2 kill, 3 complete
    raised = [r for r in records if r.state == "failed" and "injected failure" in r.error]
    lost = [r for r in records if r.state == "failed" and "worker process has died" in r.error]
    complete = [r for r in records if r.state == "complete"]
    assert (len(raised), len(lost), len(complete)) == (3, 2, 3)
    assert all(r.attempts == 2 for r in raised + lost)
    # Tune's record of every attempt that reported names the Ray node it ran on: both were used
    outcomes = [json.loads(json.loads(line)["outcome"]) for path in (run / "ray").rglob("result.json")
                for line in path.read_text().splitlines() if line.strip()]
    assert len(outcomes) == 3 + 3 * 2  # complete ones once, raising ones twice; lost workers never report
    assert len({o["node"] for o in outcomes}) == 2


TRAIN_SMALL = ["--objective", "train", "--objective-option", "num_videos=96", "--objective-option", "frames=4",
               "--objective-option", "size=16", "--objective-option", "epochs=1", "--objective-option", "batch_size=8"]


def test_training_trials_are_reproducible_and_record_flops(tmp_path):
    """The real objective: two searches with one worker and one seed train the same cells to the same values."""
    runs = [tmp_path / "a", tmp_path / "b"]
    for run in runs:
        done = nas("search", "gpb", "--space", GPB, "--out", run, "--trials", "3", "--workers", "1", "--seed", "5",
                   *TRAIN_SMALL)
        assert done.returncode == 0, done.stderr[-3000:]
    first, second = (rows(run) for run in runs)
    assert first == second and len(first) == 3
    with TrialStore.open(runs[0] / "trials.db") as store:
        records = store.trials()
    assert all(r.state == "complete" and 0.0 <= r.value <= 1.0 for r in records)
    assert all(r.gflops is not None and r.gflops > 0 and r.params > 0 for r in records)
    assert {"val_top5", "val_pair_accuracy", "train_seconds"} <= set(records[0].metrics)
    assert (runs[0] / "best_genotype.json").is_file() and (runs[0] / "best_cell.png").read_bytes()[:4] == b"\x89PNG"


def test_the_in_process_ray_keeps_token_authentication_and_warns_when_it_is_turned_off():
    """Ray's servers listen on every interface: the cluster a search starts for itself keeps Ray's
    token authentication (its default), and a user who turned it off is told what that means."""
    script = ("from runners.engine.ray_backend import connect; connect(None, 1, 1.0); "
              "from ray._private.authentication.authentication_utils import is_token_auth_enabled; "
              "import ray; print(is_token_auth_enabled()); ray.shutdown()")
    plain = {k: v for k, v in ENV.items() if not k.startswith("RAY_AUTH")}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=plain, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "True" and "RAY_AUTH_MODE=disabled" not in done.stderr
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**plain, "RAY_AUTH_MODE": "disabled"},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"
    assert "nas: warning: RAY_AUTH_MODE=disabled: the Ray this search starts accepts connections" in done.stderr


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs (skipped where this process cannot mount one)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_is_one_line_and_the_search_resumes_once_there_is_room(small_disk):
    run = small_disk / "run"
    toy = ["--objective", "toy", "--controller", "random", "--workers", "1"]
    done = nas("search", "gpb", "--space", GPB, "--out", run, "--trials", "2", *toy)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "starting Ray inside this process ..." in done.stdout and "Ray ready after" in done.stdout
    first = rows(run)
    filler = small_disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    with contextlib.suppress(OSError):  # fill the disk to the last block
        while True:
            os.write(fd, b"\0" * 4096)
    os.close(fd)
    done = nas("search", "resume", run, "--trials", "5")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert lines[-1].startswith("nas: error: ") and lines[-1].endswith("finished work is kept, rerun to continue")
    assert any(words in lines[-1] for words in ("No space left on device", "disk I/O error", "disk is full"))
    filler.unlink()
    done = nas("search", "resume", run, "--trials", "5")
    assert done.returncode == 0, done.stderr[-3000:]
    after = rows(run)
    assert len(after) == 5 and after[:2] == first  # the finished trials kept, none repeated


def test_after_a_kill_during_creation_a_fresh_search_with_the_same_out_runs(tmp_path):
    from tests.test_run_folder_faults import CREATOR

    run = tmp_path / "run"
    child = subprocess.Popen([sys.executable, "-c", CREATOR, str(run), "store", GPB], cwd=ROOT, env=ENV,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "at store"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert not run.exists()
    done = nas("search", "resume", run)  # nothing there to resume, said in one line
    assert done.returncode == 2 and "run folder not found" in done.stderr
    done = nas("search", "gpb", "--space", GPB, "--out", run, "--trials", "2", "--objective", "toy", "--quiet")
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(rows(run)) == 2 and sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert [line.split(":")[0] for line in done.stdout.splitlines()] == ["done"]  # --quiet: the summary only
    assert len((run / "trials.log").read_text().splitlines()) == 2  # the log still has every trial
