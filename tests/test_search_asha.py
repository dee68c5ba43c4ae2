"""`nas search gpb --scheduler asha` on the embedded Ray (slow): trials stopped at the right epochs,
recorded as stopped, the search resumed (after it finished, and after a kill -9) without losing or
repeating a finished trial, and the resumed scheduler judging new trials against the old ones.

The toy objective with ``epochs=4`` reports a fixed learning curve per cell, and one worker runs
the trials one after another, so ASHA's decisions are fully determined: `asha_states` recomputes
them from the curves with Tune's rule and the test compares them with the store.
"""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import numpy as np
import pytest

from nas.objectives import TrialContext, make_objective
from nas.store import TrialStore
from tests.test_search_ray import GPB, kill_search_after, nas

pytestmark = pytest.mark.slow

EPOCHS, RF = 4, 2
ASHA = ["--controller", "random", "--seed", "5", "--workers", "1", "--objective", "toy", "--scheduler", "asha",
        "--grace-period", "1", "--reduction-factor", str(RF)]
RUNGS = (1, 2)  # Tune's milestones below max_t for grace 1, rf 2, max_t 4 (a trial at 4 is complete)


def store_rows(run: Path) -> list[tuple]:
    with TrialStore.open(run / "trials.db") as store:
        return [(r.number, r.key, r.state, r.value, r.metrics.get("epochs_trained"), r.attempts) for r in store.trials()]


def full_curve(genotype, sleep: float = 0.0) -> list[float]:
    """The toy cell's whole learning curve (the values ASHA sees, epoch by epoch)."""
    seen = []
    objective = make_objective("toy", {"epochs": EPOCHS})
    objective.evaluate(genotype, TrialContext(0, "x", report=lambda e: seen.append(e.score)))
    return seen


def asha_states(curves: list[list[float]]) -> list[tuple[str, int]]:
    """(state, epochs trained) of trials run one after another under Tune's ASHA rule: at a rung a
    trial stops when its value is below the (1 - 1/rf) percentile of the values recorded there."""
    recorded: dict[int, list[float]] = {m: [] for m in RUNGS}
    out = []
    for curve in curves:
        state = ("complete", EPOCHS)
        for epoch in RUNGS:
            cutoff = np.nanpercentile(recorded[epoch], (1 - 1 / RF) * 100) if recorded[epoch] else None
            recorded[epoch].append(curve[epoch - 1])
            if cutoff is not None and curve[epoch - 1] < cutoff:
                state = ("stopped", epoch)
                break
        out.append(state)
    return out


def expected(run: Path) -> list[tuple[str, int]]:
    with TrialStore.open(run / "trials.db") as store:
        return asha_states([full_curve(r.genotype) for r in store.trials()])


@pytest.fixture(scope="module")
def asha_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("asha") / "run"
    done = nas("search", "gpb", "--space", GPB, "--out", run, "--trials", "10", *ASHA,
               "--objective-option", f"epochs={EPOCHS}")
    assert done.returncode == 0, done.stderr[-3000:]
    return run


def test_asha_stops_trials_at_its_rungs_and_the_store_records_them(asha_run):
    rows = store_rows(asha_run)
    assert [(r[2], r[4]) for r in rows] == expected(asha_run)
    states = [r[2] for r in rows]
    assert states.count("stopped") >= 3 and states.count("complete") >= 2
    with TrialStore.open(asha_run / "trials.db") as store:
        for record in store.trials():
            epochs = store.epochs(record.proposal_id)
            assert [e.epoch for e in epochs] == list(range(1, record.metrics["epochs_trained"] + 1))
            assert record.value == pytest.approx(epochs[-1].value)
            assert epochs[-1].value == pytest.approx(full_curve(record.genotype)[len(epochs) - 1])
        assert store.best().state == "complete"
    # Tune's loggers got one row per epoch trained, as numbers (TensorBoard's curves)
    for record in rows:
        progress = next((asha_run / "ray").glob(f"session-*/trial-{record[0]}-attempt-1/progress.csv"))
        lines = progress.read_text().splitlines()
        assert len(lines) - 1 == record[4] and lines[0].startswith("epoch,max_epochs,score,value")
        for number, cells in enumerate(csv.DictReader(lines), 1):  # the epoch is Tune's training iteration
            assert int(cells["epoch"]) == int(cells["training_iteration"]) == number
    assert list((asha_run / "ray").glob("session-*/trial-0-attempt-1/events.out.tfevents.*"))


def test_resume_with_more_trials_judges_new_trials_against_the_stored_rungs(asha_run, tmp_path):
    run = tmp_path / "run"
    subprocess.run(["cp", "-r", str(asha_run), str(run)], check=True)
    before = store_rows(run)
    done = nas("search", "resume", run, "--trials", "14")
    assert done.returncode == 0, done.stderr[-3000:]
    after = store_rows(run)
    assert after[:10] == before and len(after) == 14
    assert [(r[2], r[4]) for r in after] == expected(run)  # the 4 new trials met rungs filled from the store


def test_kill_9_then_resume_repeats_no_finished_trial_and_ends_as_uninterrupted(asha_run, tmp_path):
    run = tmp_path / "run"
    args = ["search", "gpb", "--space", GPB, "--out", run, "--trials", "10", *ASHA,
            "--objective-option", f"epochs={EPOCHS}", "--objective-option", "sleep=1.2"]
    kill_search_after(args, run, 4, ("complete", "stopped"))
    before = [r for r in store_rows(run) if r[2] in ("complete", "stopped")]
    assert 4 <= len(before) < 10 and any(r[2] == "stopped" for r in before)
    done = nas("search", "resume", run)
    assert done.returncode == 0, done.stderr[-3000:]
    after = store_rows(run)
    assert [r for r in after if r[0] in {b[0] for b in before}] == before  # kept as they were, never rerun
    strip = lambda rows: [r[:5] for r in rows]  # noqa: E731  (a trial in flight at the kill ran twice)
    assert strip(after) == strip(store_rows(asha_run))  # the same search as the uninterrupted one

