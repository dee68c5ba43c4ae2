"""The SQLite trial store: round trips, event order, refusals, and survival of SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from nas.errors import UserError
from nas.store import AskEvent, NewTrial, TellEvent, TrialStore
from tests.conftest import ROOT


def new_trials(space, numbers):
    return [NewTrial(n, str(n), space.sample(n).key(), space.sample(n).to_json(indent=None)) for n in numbers]


def test_rows_round_trip_and_best(tmp_path, gpb_space):
    store = TrialStore.create(tmp_path / "t.db", {"controller": "random", "seed": 7})
    assert store.meta("controller") == "random" and store.meta("seed") == 7
    assert store.add_batch(new_trials(gpb_space, [0, 1, 2]), now=1.0) == 0
    store.set_cost("1", 1.5, 1234)
    assert store.start_attempt("1", now=2.0) == 1
    assert store.start_attempt("1", now=3.0) == 2  # a retry keeps the first start time
    store.finish("1", "complete", now=4.0, value=0.7, score=0.75, metrics={"raw": 2.5})
    store.finish("2", "failed", now=5.0, error="Traceback...\nRuntimeError: boom")
    record = store.trial("1")
    assert (record.state, record.value, record.score, record.gflops, record.params) == ("complete", 0.7, 0.75, 1.5, 1234)
    assert (record.attempts, record.started, record.finished, dict(record.metrics)) == (2, 2.0, 4.0, {"raw": 2.5})
    assert record.genotype == gpb_space.sample(1)
    assert store.trial("2").error.endswith("RuntimeError: boom")
    assert store.best().proposal_id == "1"
    assert store.counts() == {"pending": 1, "running": 0, "complete": 1, "failed": 1, "over_budget": 0, "stopped": 0}
    store.close()
    reopened = TrialStore.open(tmp_path / "t.db")
    assert [r.proposal_id for r in reopened.trials(("pending",))] == ["0"]


def test_events_interleave_asks_and_tells_in_order(tmp_path, gpb_space):
    store = TrialStore.create(tmp_path / "t.db")
    store.add_batch(new_trials(gpb_space, [0, 1]), now=0.0)
    store.finish("1", "complete", now=1.0, value=0.5, score=0.5)
    store.add_batch(new_trials(gpb_space, [2]), now=2.0)
    store.finish("0", "failed", now=3.0)
    events = list(store.events())
    assert [type(e).__name__ for e in events] == ["AskEvent", "TellEvent", "AskEvent", "TellEvent"]
    assert isinstance(events[0], AskEvent) and [p[0] for p in events[0].proposals] == ["0", "1"]
    assert events[0].proposals[1][2] == gpb_space.sample(1)
    assert events[1] == TellEvent("1", 0.5, {}) and events[3] == TellEvent("0", None, {})
    assert events[2].batch == 1


def test_refusals(tmp_path, gpb_space):
    store = TrialStore.create(tmp_path / "t.db")
    store.add_batch(new_trials(gpb_space, [0]), now=0.0)
    store.finish("0", "complete", now=1.0, value=1.0, score=1.0)
    with pytest.raises(ValueError, match="already finished"):
        store.finish("0", "failed", now=2.0)
    with pytest.raises(KeyError):
        store.start_attempt("9", now=0.0)
    with pytest.raises(ValueError):
        store.finish("0", "running", now=0.0)
    with pytest.raises(sqlite3.IntegrityError):  # proposal ids are unique
        store.add_batch(new_trials(gpb_space, [0]), now=3.0)
    with pytest.raises(UserError, match="already exists"):
        TrialStore.create(tmp_path / "t.db")
    (tmp_path / "junk.db").write_text("not a database")
    with pytest.raises(UserError, match="not a trial store"):
        TrialStore.open(tmp_path / "junk.db")
    with pytest.raises(UserError, match="not found"):
        TrialStore.open(tmp_path / "missing.db")


WRITER = """
import sys, time
from nas.store import NewTrial, TrialStore
store = TrialStore.open(sys.argv[1])
n = 0
while True:
    batch = [NewTrial(n + i, str(n + i), f"key{n + i}", sys.argv[2]) for i in range(4)]
    store.add_batch(batch, now=time.time())
    for i in range(4):
        store.start_attempt(str(n + i), now=time.time())
        store.finish(str(n + i), "complete", now=time.time(), value=float(n + i), score=float(n + i), metrics={"i": n + i})
    n += 4
    print(n, flush=True)
"""


def test_store_survives_sigkill_mid_write(tmp_path, gpb_space):
    path = tmp_path / "t.db"
    TrialStore.create(path).close()
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), gpb_space.sample(0).to_json()], stdout=subprocess.PIPE, cwd=ROOT)
    assert writer.stdout.readline()  # it has committed at least one batch
    time.sleep(0.5)  # then it is killed somewhere in its loop of transactions
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    with TrialStore.open(path) as store:
        assert store._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        records = store.trials()
        assert records, "nothing committed"
        for r in records:  # every row is consistent: a finished row has all its fields
            if r.state == "complete":
                assert r.value == float(r.number) and r.metrics == {"i": r.number} and r.tell_event is not None
                assert r.attempts == 1
            else:
                assert r.state in ("pending", "running") and r.value is None and r.tell_event is None
        complete = [r.number for r in records if r.state == "complete"]
        assert complete == list(range(len(complete)))  # finished in order, none lost in between
        events = list(store.events())
        assert sum(isinstance(e, TellEvent) for e in events) == len(complete)


def test_stopped_trials_and_epoch_rows(tmp_path, gpb_space):
    with TrialStore.create(tmp_path / "t.db") as store:
        store.add_batch(new_trials(gpb_space, [0, 1]), now=1.0)
        store.start_attempt("0", now=2.0)
        for epoch, value in ((1, 0.5), (2, 0.6)):
            store.add_epoch("0", 1, epoch, value, value + 0.1, {"val_loss": 1.0 / epoch}, now=2.0 + epoch)
        store.add_epoch("0", 1, 2, 0.65, 0.75, {}, now=5.0)  # a repeated report replaces the row
        store.finish("0", "stopped", now=6.0, value=0.65, score=0.75, metrics={"epochs_trained": 2})
        store.add_epoch("1", 1, 1, 0.4, 0.4, {}, now=7.0)
        rows = store.epochs("0")
        assert [(r.attempt, r.epoch, r.value, r.score) for r in rows] == [(1, 1, 0.5, 0.6), (1, 2, 0.65, 0.75)]
        assert dict(rows[0].metrics) == {"val_loss": 1.0}
        assert [r.proposal_id for r in store.epochs()] == ["0", "0", "1"]
        assert store.counts()["stopped"] == 1 and store.best() is None  # a stopped trial is never the best
        with pytest.raises(ValueError):
            store.start_attempt("0", now=8.0)  # finished: never run again
        tells = [e for e in store.events() if isinstance(e, TellEvent)]
        assert [(t.proposal_id, t.value, dict(t.metrics)) for t in tells] == [("0", 0.65, {"epochs_trained": 2})]


def test_a_store_made_before_the_epochs_table_opens_and_gets_it(tmp_path, gpb_space):
    path = tmp_path / "old.db"
    with TrialStore.create(path) as store:
        store.add_batch(new_trials(gpb_space, [0]), now=1.0)
    db = sqlite3.connect(path)
    db.execute("DROP TABLE epochs")
    db.commit()
    db.close()
    os.chmod(path, 0o444)
    try:
        if not os.access(path, os.W_OK):  # (root writes read-only files: then only the migration is tested)
            with TrialStore.open(path) as store:  # read-only: opens, reads no epochs
                assert store.epochs() == [] and len(store.trials()) == 1
    finally:
        os.chmod(path, 0o644)
    with TrialStore.open(path) as store:
        store.add_epoch("0", 1, 1, 0.3, 0.3, {}, now=2.0)
        assert [r.epoch for r in store.epochs()] == [1]
