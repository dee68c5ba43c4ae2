"""The search driver without Ray: failures and retries, NaN, budgets, resume, run-folder files.

The executor here runs `evaluate_trial` in this process, one attempt at a time, exactly as
the Ray trainable does in a worker.
"""

from __future__ import annotations

import json

import pytest

from nas.budget import FlopsBudget
from nas.controllers import rebuild_controller
from nas.objectives import make_objective
from nas.space import ModelGenotype, load_space
from nas.store import TrialStore
from runners.engine.run_folder import RunFolder, SearchConfig
from runners.engine.search_driver import SearchDriver, evaluate_trial
from tests.conftest import ROOT

GPB = ROOT / "search_spaces" / "attentionnas_gpb.yaml"
FAST_GP = {"initial": 3, "pool": 24, "mutations": 8, "starts": 2, "anchors": 1, "steps": 2, "restarts": 0}


def new_run(path, **settings):
    config = SearchConfig(**{"trials": 6, "controller": "random", "objective": "toy", **settings})
    return RunFolder.create(path, config, GPB.read_text(), ["search", "gpb"])


def open_driver(run, lines=None):
    """The driver of a run as a session builds it: controller rebuilt from the store."""
    config = run.config()
    store = TrialStore.open(run.store_path)
    space = load_space(str(run.space_path))
    controller = rebuild_controller(config.controller, space, store, config.seed, **config.controller_options)
    budget = FlopsBudget(config.max_gflops, config.target_gflops, config.flops_penalty)
    objective = make_objective(config.objective, config.objective_options)
    sink = lines if lines is not None else []
    return SearchDriver(run, config, controller, store, objective, budget, echo=sink.append)


def drive(driver, attempts=None):
    """Run attempts in this process until the driver is done (or `attempts` were run)."""
    ran = 0
    while not driver.done() and (attempts is None or ran < attempts):
        order = driver.next_trial()
        assert order is not None, "a sequential executor always has a next trial until done"
        driver.record_outcome(order.proposal_id, evaluate_trial(order.as_config()))
        ran += 1


def finished(run):
    with TrialStore.open(run.store_path) as store:
        return [(r.number, r.key, r.state, r.value, r.attempts) for r in store.trials()]


def test_a_search_fills_the_run_folder(tmp_path):
    run = new_run(tmp_path / "run", controller="gp_bandit", controller_options=FAST_GP)
    lines = []
    drive(open_driver(run, lines))
    rows = finished(run)
    assert [r[2] for r in rows] == ["complete"] * 6 and len({r[1] for r in rows}) == 6
    assert len(lines) == 6 and lines[-1].startswith("[6/6] trial")
    assert run.log_path.read_text().splitlines() == lines
    best = max(rows, key=lambda r: r[3])
    exported = ModelGenotype.from_json(run.best_path.read_text())
    assert exported.meta["trial"] == best[0] and exported.cells["*"].key() == best[1]
    assert json.loads(run.config_path.read_text())["controller_options"] == FAST_GP
    session = json.loads(run.provenance_path.read_text())["sessions"][0]
    assert session["command"] == ["nas", "search", "gpb"] and session["seed"] == 0 and session["version"]
    assert len(session["git_commit"]) == 40


def test_failing_cells_are_retried_then_recorded_and_the_search_goes_on(tmp_path):
    options = {"seed": 1, "fail_fraction": 0.3, "flaky_fraction": 0.3, "nan_fraction": 0.1}
    run = new_run(tmp_path / "run", trials=20, retries=2, objective_options=options)
    drive(open_driver(run))
    with TrialStore.open(run.store_path) as store:
        records = store.trials()
    assert len(records) == 20 and all(r.state in ("complete", "failed") for r in records)
    failed = [r for r in records if r.state == "failed"]
    assert failed, "with 30% failing cells some trial must fail"
    for r in failed:  # always-failing cells: 3 attempts, the error kept; NaN scores too
        assert r.attempts == 3 and r.value is None
        assert "injected failure" in r.error or "non-finite score nan" in r.error
    flaky = [r for r in records if r.state == "complete" and r.attempts == 2]
    assert flaky and all("first-attempt failure" in r.error for r in flaky)
    assert "retrying" in run.log_path.read_text()


def test_hard_budget_skips_cells_and_soft_budget_penalises(tmp_path):
    toy = make_objective("toy")
    space = load_space(str(GPB))
    costs = sorted(toy.cost(space.sample(i)).gflops for i in range(50))
    limit, target = costs[25], costs[10]
    run = new_run(tmp_path / "run", trials=8, max_gflops=limit, target_gflops=target, flops_penalty=0.5)
    drive(open_driver(run))
    with TrialStore.open(run.store_path) as store:
        over = store.trials(("over_budget",))
        done = store.trials(("complete",))
        assert len(done) == 8 and over, "about half the cells are over the limit"
        assert all(r.gflops > limit and r.attempts == 0 for r in over)
        assert all(r.gflops <= limit for r in done)
        for r in done:
            expected = r.score * (r.gflops / target) ** -0.5 if r.gflops > target else r.score
            assert r.value == pytest.approx(expected)
        assert any(r.value < r.score for r in done)


@pytest.mark.parametrize("controller", ["gp_bandit", "tpe"])
def test_resume_after_a_crash_repeats_nothing_and_ends_where_an_uninterrupted_run_does(tmp_path, controller):
    options = FAST_GP if controller == "gp_bandit" else {"initial": 3}
    straight = new_run(tmp_path / "straight", trials=8, controller=controller, controller_options=options)
    drive(open_driver(straight))
    crashed = new_run(tmp_path / "crashed", trials=8, controller=controller, controller_options=options)
    driver = open_driver(crashed)
    drive(driver, attempts=4)
    driver.next_trial()  # a fifth trial starts, and the driver dies before it reports
    driver.store.close()
    before = [r for r in finished(crashed) if r[2] == "complete"]
    assert len(before) == 4 and finished(crashed)[4][2] == "running"
    drive(open_driver(crashed))
    after = finished(crashed)
    assert after[:4] == before[:4]  # finished trials kept as they were
    assert after == finished(straight)[:4] + [r[:4] + (r[4] + (i == 0),) for i, r in enumerate(finished(straight)[4:])]
    assert len({r[1] for r in after}) == 8


def test_a_finished_search_does_nothing_more(tmp_path):
    run = new_run(tmp_path / "run", trials=3)
    drive(open_driver(run))
    driver = open_driver(run)
    assert driver.done() and driver.next_trial() is None


class Stopped(BaseException):
    """What a scheduler's stop is inside a worker: it ends the attempt at a report (Ray: SystemExit)."""


def drive_with_stops(driver, stop):
    """A sequential executor whose scheduler stops a trial at the first epoch row where stop(row)."""
    from runners.engine.search_driver import epoch_row

    while not driver.done():
        order = driver.next_trial()
        config = order.as_config()

        def report(epoch, config=config, pid=order.proposal_id):
            row = epoch_row(config, epoch)
            if row["epoch"] < row["max_epochs"] and stop(row):
                raise Stopped(row)
            driver.epoch_reported(pid, row)

        try:
            outcome = evaluate_trial(config, report=report)
        except Stopped as stopped:
            driver.attempt_stopped(order.proposal_id, stopped.args[0])
        else:
            driver.record_outcome(order.proposal_id, outcome)


def test_stopped_trials_are_recorded_with_their_epochs_and_told_with_their_fidelity(tmp_path):
    run = new_run(tmp_path / "run", trials=8, controller="gp_bandit", controller_options=FAST_GP,
                  objective_options={"epochs": 4}, target_gflops=0.003)
    driver, lines = open_driver(run), []
    driver.echo = lines.append
    drive_with_stops(driver, lambda row: row["epoch"] == 2 and row["value"] < 0.45)
    with TrialStore.open(run.store_path) as store:
        records = store.trials()
        stopped = [r for r in records if r.state == "stopped"]
        complete = [r for r in records if r.state == "complete"]
        assert stopped and complete and len(stopped) + len(complete) == 8  # stopped trials count as trained
        for r in stopped:
            rows = store.epochs(r.proposal_id)
            assert [e.epoch for e in rows] == [1, 2] and r.metrics["epochs_trained"] == 2
            assert r.metrics["max_epochs"] == 4 and r.value == rows[-1].value < 0.45
            assert r.metrics["value_curve"] == [e.value for e in rows]
        for r in complete:
            rows = store.epochs(r.proposal_id)
            assert [e.epoch for e in rows] == [1, 2, 3, 4] and r.metrics["epochs_trained"] == 4
            assert r.value == pytest.approx(rows[-1].value)  # the curve ends at the trial's value
            factor = min(1.0, (r.gflops / 0.003) ** -0.07)  # the soft budget's penalty reaches every epoch
            assert rows[0].value == pytest.approx(rows[0].score * factor)
        assert store.best().state == "complete"
        live = [(p.key, v) for p, v in driver.controller.observations()]
        rebuilt = rebuild_controller("gp_bandit", load_space(str(run.space_path)), store, 0, **FAST_GP)
        assert [(p.key, v) for p, v in rebuilt.observations()] == live
        assert [p.key for p in rebuilt.ask(2)] == [p.key for p in driver.controller.ask(2)]
    assert any(" stopped " in line and "at epoch 2/4" in line for line in lines)
    assert any("epoch 1/4 value" in line for line in lines)


def test_resume_keeps_stopped_trials_and_gives_the_scheduler_their_curves(tmp_path):
    run = new_run(tmp_path / "run", trials=6, objective_options={"epochs": 3})
    stop = lambda row: row["epoch"] == 1 and row["value"] < 0.47  # noqa: E731
    drive_with_stops(open_driver(run), stop)
    before = finished(run)
    assert {r[2] for r in before} == {"complete", "stopped"}
    driver = open_driver(run)
    assert driver.done() and driver.next_trial() is None  # nothing is run again, stopped trials included
    history = dict(driver.fidelity_history())
    assert sorted(history) == [r[0] for r in before]
    assert all(len(history[r[0]]) == (1 if r[2] == "stopped" else 3) for r in before)
