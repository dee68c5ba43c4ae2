"""The trial schedulers (runners.engine.schedulers): rungs, brackets, seeding, and rungs refilled
from a store; also pins the layout of Tune's brackets that `SeededASHA` relies on."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from ray.tune.schedulers import TrialScheduler

from runners.engine.schedulers import hyperband_brackets, make_scheduler, rungs


def trial(number: int, trial_id: str | None = None):
    return SimpleNamespace(trial_id=trial_id or f"t{number}", config={"number": number})


def test_rungs_and_brackets_follow_the_successive_halving_formulas():
    assert rungs(4, 1, 2) == [1, 2, 4] and rungs(8, 1, 3) == [1, 3]
    assert hyperband_brackets(9, 1, 3) == 3 and hyperband_brackets(8, 1, 3) == 2 and hyperband_brackets(4, 2, 3) == 1
    assert rungs(9, 1, 3, bracket=1) == [3, 9] and rungs(9, 1, 3, bracket=2) == [9]
    assert make_scheduler("fifo", 0, None, 1, 3.0) is None
    with pytest.raises(ValueError):
        make_scheduler("asha", 0, None, 1, 3.0)


@pytest.mark.parametrize("name, count", [("asha", 1), ("hyperband", 3)])
def test_tunes_brackets_have_the_rungs_we_compute(name, count):
    scheduler = make_scheduler(name, 0, 9, 1, 3.0)
    assert len(scheduler._brackets) == count
    for s, bracket in enumerate(scheduler._brackets):
        assert sorted(milestone for milestone, _ in bracket._rungs) == rungs(9, 1, 3.0, s)


def test_brackets_are_drawn_from_the_seed_and_the_trial_number():
    a, b = make_scheduler("hyperband", 4, 9, 1, 3.0), make_scheduler("hyperband", 4, 9, 1, 3.0)
    draws = [a.bracket_of(n) for n in range(300)]
    assert draws == [b.bracket_of(n) for n in range(300)]
    assert draws != [make_scheduler("hyperband", 5, 9, 1, 3.0).bracket_of(n) for n in range(300)]
    share = [draws.count(s) / 300 for s in range(3)]  # Tune's weights e^(rungs - max): 1, e^-1, e^-2
    assert share[0] > share[1] > share[2] > 0
    a.on_trial_add(None, trial(7))
    assert a._trial_info["t7"] is a._brackets[a.bracket_of(7)]


def test_rungs_refilled_from_a_store_decide_the_next_trial():
    history = [(0, [0.5, 0.6, 0.7, 0.8]), (1, [0.6, 0.7, 0.8, 0.9]), (2, [0.2])]
    scheduler = make_scheduler("asha", 0, 4, 1, 2.0, history)
    recorded = {m: dict(r) for m, r in scheduler._brackets[0]._rungs}
    assert recorded[1] == {"stored-0": 0.5, "stored-1": 0.6, "stored-2": 0.2}
    assert recorded[2] == {"stored-0": 0.6, "stored-1": 0.7} and recorded[4] == {"stored-0": 0.8, "stored-1": 0.9}
    for number, value, decision in ((3, 0.45, TrialScheduler.STOP), (4, 0.58, TrialScheduler.CONTINUE)):
        scheduler.on_trial_add(None, trial(number))  # cutoff at rung 1: median of the recorded values
        got = scheduler.on_trial_result(None, trial(number), {"epoch": 1, "value": value})
        assert got == decision, (number, value)
    fresh = make_scheduler("asha", 0, 4, 1, 2.0)
    fresh.on_trial_add(None, trial(3))
    assert fresh.on_trial_result(None, trial(3), {"epoch": 1, "value": 0.45}) == TrialScheduler.CONTINUE
