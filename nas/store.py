"""The trial store of a search run: one SQLite database, the single source of truth.

One row per proposal (a cell the controller asked to evaluate): its genotype JSON and
canonical key, state, value, score, metrics, FLOPs, parameters, times, attempt count and
error text.  It also keeps the order of events (each ``ask`` batch and each ``tell``), so a
controller can be rebuilt by replaying exactly what it was asked and told (`events`).

Only the search driver writes it.  Every change is one SQLite transaction in WAL mode with
``synchronous=FULL``: a kill at any moment (SIGKILL, power loss) leaves the store as it was
after the last committed change, never half-updated.  Readers (``nas export`` while a search
runs) see a consistent snapshot.

States: ``pending`` (asked, not started), ``running``, ``complete``, ``failed`` (error after
the bounded retries, or a NaN score), ``over_budget`` (above ``--max-gflops``; never trained),
``stopped`` (a scheduler such as ASHA ended it early: its value is the one after the last epoch
it trained, ``metrics["epochs_trained"]`` says which; it is finished, never retried or rerun).

Every epoch a trial reports is a row of the ``epochs`` table (proposal, attempt, epoch, value,
score, metrics): the learning curves a scheduler compared.  The table is added on open to a
store made before it existed, so older runs still open and resume.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from nas.errors import UserError
from nas.space.genotype import Genotype

SQLITE_MAGIC = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""
STORE_SCHEMA = "attention-nas/trial-store@1"
STATES = ("pending", "running", "complete", "failed", "over_budget", "stopped")
FINISHED = ("complete", "failed", "over_budget", "stopped")

_EPOCHS = """
CREATE TABLE IF NOT EXISTS epochs (
    proposal_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    epoch INTEGER NOT NULL,              -- from 1
    value REAL, score REAL,
    metrics TEXT NOT NULL DEFAULT '{}',
    time REAL NOT NULL,
    PRIMARY KEY (proposal_id, attempt, epoch)
);
"""
_TABLES = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE trials (
    number INTEGER PRIMARY KEY,          -- order of asking, from 0
    proposal_id TEXT NOT NULL UNIQUE,
    batch INTEGER NOT NULL,              -- which ask() call proposed it
    ask_event INTEGER NOT NULL,          -- position of that ask among all events
    tell_event INTEGER,                  -- position of the tell, NULL while unfinished
    key TEXT NOT NULL,
    genotype TEXT NOT NULL,
    state TEXT NOT NULL,
    value REAL, score REAL,
    metrics TEXT NOT NULL DEFAULT '{}',
    gflops REAL, params INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created REAL NOT NULL, started REAL, finished REAL
);
""" + _EPOCHS


@dataclass(frozen=True)
class TrialRecord:
    """One row of the store."""

    number: int
    proposal_id: str
    batch: int
    ask_event: int
    tell_event: int | None
    key: str
    genotype_json: str
    state: str
    value: float | None  # what the controller maximises (the score after any FLOPs penalty)
    score: float | None  # what the objective returned
    metrics: Mapping[str, Any]
    gflops: float | None
    params: int | None
    attempts: int
    error: str | None
    created: float
    started: float | None
    finished: float | None

    @property
    def genotype(self) -> Genotype:
        """The cell genotype of this trial."""
        return Genotype.from_json(self.genotype_json, source=f"trial {self.number}")


@dataclass(frozen=True)
class EpochRecord:
    """What one attempt of a trial reported after one epoch."""

    proposal_id: str
    attempt: int
    epoch: int  # from 1
    value: float | None  # the score so far after any FLOPs penalty (what a scheduler compares)
    score: float | None  # the objective's score so far
    metrics: Mapping[str, Any]
    time: float


@dataclass(frozen=True)
class AskEvent:
    """An ``ask`` call: the proposals it returned, in order, as (id, key, genotype)."""

    batch: int
    proposals: tuple[tuple[str, str, Genotype], ...]


@dataclass(frozen=True)
class TellEvent:
    """A ``tell`` call."""

    proposal_id: str
    value: float | None
    metrics: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewTrial:
    """What `TrialStore.add_batch` needs of a proposal."""

    number: int
    proposal_id: str
    key: str
    genotype_json: str


class TrialStore:
    """A run's SQLite trial store (see the module docstring).  Use `create` or `open`."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path

    # --- opening -----------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, meta: Mapping[str, Any] | None = None) -> "TrialStore":
        """A new, empty store at `path` (which must not exist yet) with `meta` (JSON values).

        The database is built under a temporary name and renamed, so a store either exists
        complete or not at all.
        """
        path = Path(path)
        if path.exists():
            raise UserError(f"trial store already exists: {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.unlink(missing_ok=True)
        db = sqlite3.connect(str(tmp))
        try:
            rows = {"schema": STORE_SCHEMA, "clock": 0, **(meta or {})}
            db.executescript("BEGIN;" + _TABLES + "COMMIT;")
            with db:
                db.executemany("INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in rows.items()])
        finally:
            db.close()
        tmp.replace(path)
        return cls.open(path)

    @classmethod
    def open(cls, path: str | Path) -> "TrialStore":
        """An existing store; a missing file or another kind of database is a `UserError`."""
        path = Path(path)
        if not path.is_file():
            raise UserError(f"trial store not found: {path}")
        with open(path, "rb") as handle:  # refuse other files before SQLite adds -wal/-shm files next to them
            if handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
                raise UserError(f"{path} is not a trial store (not an SQLite database)")
        try:
            db = _connect(path)
            row = db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
        except sqlite3.OperationalError:  # a full disk, a lost permission: the machine, not the file
            raise
        except sqlite3.DatabaseError as exc:
            raise UserError(f"{path} is not a trial store: {exc}") from None
        if row is None or json.loads(row[0]) != STORE_SCHEMA:
            db.close()
            raise UserError(f"{path} is not a trial store of schema {STORE_SCHEMA}")
        try:  # a store made before the epochs table gets it (empty); a read-only one reads without it
            with db:
                db.execute(_EPOCHS)
        except sqlite3.OperationalError:
            pass
        return cls(db, path)

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def __enter__(self) -> "TrialStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- metadata ----------------------------------------------------------------------------
    def meta(self, name: str, default: Any = None) -> Any:
        """A metadata value (JSON-decoded)."""
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_meta(self, name: str, value: Any) -> None:
        """Set a metadata value (JSON-encodable)."""
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, json.dumps(value)))

    # --- writing (the driver only) ---------------------------------------------------------------
    def add_batch(self, trials: Sequence[NewTrial], now: float) -> int:
        """Record one ask: `trials` as pending rows sharing a batch number; returns the batch."""
        with self._db:
            event = self._tick()
            batch = self._db.execute("SELECT COALESCE(MAX(batch) + 1, 0) FROM trials").fetchone()[0]
            self._db.executemany(
                "INSERT INTO trials (number, proposal_id, batch, ask_event, key, genotype, state, created)"
                " VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
                [(t.number, t.proposal_id, batch, event, t.key, t.genotype_json, now) for t in trials],
            )
        return batch

    def set_cost(self, proposal_id: str, gflops: float, params: int | None) -> None:
        """Record the counted FLOPs (GFLOPs) and parameters of a trial's model."""
        self._update(proposal_id, "gflops = ?, params = ?", (gflops, params))

    def start_attempt(self, proposal_id: str, now: float) -> int:
        """Mark a trial running and count one more attempt; returns the attempt number."""
        with self._db:
            self._check(proposal_id, unfinished=True)
            self._db.execute(
                "UPDATE trials SET state = 'running', attempts = attempts + 1, started = COALESCE(started, ?)"
                " WHERE proposal_id = ?",
                (now, proposal_id),
            )
            return self._db.execute("SELECT attempts FROM trials WHERE proposal_id = ?", (proposal_id,)).fetchone()[0]

    def set_error(self, proposal_id: str, error: str) -> None:
        """Record the error text of a trial's latest failed attempt."""
        self._update(proposal_id, "error = ?", (error,))

    def finish(
        self,
        proposal_id: str,
        state: str,
        now: float,
        value: float | None = None,
        score: float | None = None,
        metrics: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> int:
        """Record a trial's end (one tell event); returns the event number."""
        if state not in FINISHED:
            raise ValueError(f"finish state must be one of {FINISHED}, got {state!r}")
        with self._db:
            self._check(proposal_id, unfinished=True)
            event = self._tick()
            self._db.execute(
                "UPDATE trials SET state = ?, value = ?, score = ?, metrics = ?, error = COALESCE(?, error),"
                " finished = ?, tell_event = ? WHERE proposal_id = ?",
                (state, value, score, json.dumps(dict(metrics or {})), error, now, event, proposal_id),
            )
        return event

    def add_epoch(self, proposal_id: str, attempt: int, epoch: int, value: float | None, score: float | None,
                  metrics: Mapping[str, Any], now: float) -> None:
        """Record what an attempt reported after `epoch` (from 1); a repeated report replaces it."""
        with self._db:
            self._check(proposal_id)
            self._db.execute(
                "INSERT OR REPLACE INTO epochs (proposal_id, attempt, epoch, value, score, metrics, time)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (proposal_id, int(attempt), int(epoch), value, score, json.dumps(dict(metrics)), now),
            )

    # --- reading -----------------------------------------------------------------------------
    def epochs(self, proposal_id: str | None = None) -> list[EpochRecord]:
        """Per-epoch reports (of one trial, or all), by trial number, attempt and epoch."""
        query = ("SELECT e.* FROM epochs e JOIN trials t ON t.proposal_id = e.proposal_id"
                 + (" WHERE e.proposal_id = ?" if proposal_id is not None else "")
                 + " ORDER BY t.number, e.attempt, e.epoch")
        try:
            rows = self._db.execute(query, () if proposal_id is None else (proposal_id,)).fetchall()
        except sqlite3.OperationalError:  # a read-only store made before the table existed
            return []
        return [EpochRecord(r["proposal_id"], r["attempt"], r["epoch"], r["value"], r["score"],
                            json.loads(r["metrics"]), r["time"]) for r in rows]

    def trials(self, states: Sequence[str] | None = None) -> list[TrialRecord]:
        """Rows in proposal order, optionally only those in `states`."""
        if states:
            marks = ", ".join("?" for _ in states)
            rows = self._db.execute(f"SELECT * FROM trials WHERE state IN ({marks}) ORDER BY number", tuple(states))
        else:
            rows = self._db.execute("SELECT * FROM trials ORDER BY number")
        return [_record(row) for row in rows]

    def trial(self, proposal_id: str) -> TrialRecord:
        """One row by proposal id (KeyError when absent)."""
        row = self._db.execute("SELECT * FROM trials WHERE proposal_id = ?", (proposal_id,)).fetchone()
        if row is None:
            raise KeyError(proposal_id)
        return _record(row)

    def best(self) -> TrialRecord | None:
        """The complete trial with the highest value (earliest on ties), or None."""
        row = self._db.execute(
            "SELECT * FROM trials WHERE state = 'complete' AND value IS NOT NULL ORDER BY value DESC, number LIMIT 1"
        ).fetchone()
        return None if row is None else _record(row)

    def counts(self) -> dict[str, int]:
        """Number of rows per state (every state present, zero when none)."""
        found = dict(self._db.execute("SELECT state, COUNT(*) FROM trials GROUP BY state").fetchall())
        return {state: int(found.get(state, 0)) for state in STATES}

    def events(self) -> Iterator[AskEvent | TellEvent]:
        """Every ask and tell in the order they happened (what a controller replays)."""
        records = self.trials()
        asks: dict[int, list[TrialRecord]] = {}
        for record in records:
            asks.setdefault(record.ask_event, []).append(record)
        timeline: list[tuple[int, AskEvent | TellEvent]] = []
        for event, group in asks.items():
            proposals = tuple((r.proposal_id, r.key, r.genotype) for r in sorted(group, key=lambda r: r.number))
            timeline.append((event, AskEvent(group[0].batch, proposals)))
        for r in records:
            if r.tell_event is not None:
                timeline.append((r.tell_event, TellEvent(r.proposal_id, r.value, dict(r.metrics))))
        for _, item in sorted(timeline, key=lambda pair: pair[0]):
            yield item

    # --- internals ---------------------------------------------------------------------------
    def _tick(self) -> int:
        """The next event number (inside the caller's transaction)."""
        clock = json.loads(self._db.execute("SELECT value FROM meta WHERE name = 'clock'").fetchone()[0])
        self._db.execute("UPDATE meta SET value = ? WHERE name = 'clock'", (json.dumps(clock + 1),))
        return clock

    def _check(self, proposal_id: str, unfinished: bool = False) -> None:
        row = self._db.execute("SELECT state FROM trials WHERE proposal_id = ?", (proposal_id,)).fetchone()
        if row is None:
            raise KeyError(f"no trial with proposal id {proposal_id!r}")
        if unfinished and row[0] in FINISHED:
            raise ValueError(f"trial {proposal_id!r} is already finished ({row[0]})")

    def _update(self, proposal_id: str, assignments: str, values: tuple) -> None:
        with self._db:
            self._check(proposal_id)
            self._db.execute(f"UPDATE trials SET {assignments} WHERE proposal_id = ?", (*values, proposal_id))


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), timeout=30.0)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    return db


def _record(row: sqlite3.Row) -> TrialRecord:
    return TrialRecord(
        number=row["number"],
        proposal_id=row["proposal_id"],
        batch=row["batch"],
        ask_event=row["ask_event"],
        tell_event=row["tell_event"],
        key=row["key"],
        genotype_json=row["genotype"],
        state=row["state"],
        value=row["value"],
        score=row["score"],
        metrics=json.loads(row["metrics"]),
        gflops=row["gflops"],
        params=row["params"],
        attempts=row["attempts"],
        error=row["error"],
        created=row["created"],
        started=row["started"],
        finished=row["finished"],
    )
