"""A search run folder: resolved config, provenance, the trial store, the log and the results.

Layout::

    RUN/config.json          the resolved search configuration (every option, after presets)
    RUN/space.yaml           a copy of the search space, so the run does not depend on the original
    RUN/provenance.json      per session (start and each resume): command line, seed, package
                             version, git commit, Python, host, start time
    RUN/trials.db            the trial store (nas.store), the single source of truth
    RUN/trials.log           one line per finished trial (also printed while the search runs)
    RUN/best_genotype.json   the best cell so far, as a model genotype (the cell everywhere)
    RUN/best_cell.png        its diagram
    RUN/pareto.json          score versus FLOPs Pareto front (when FLOPs are counted)
    RUN/ray/                 Ray Tune's own records of the trials
    RUN/.lock                the process driving the search holds it (`RunFolder.lock`)
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Iterator

from nas.budget import DEFAULT_PENALTY
from nas.errors import UserError
from nas.io import atomic_write_json, atomic_write_text, load_json, read_text, short
from nas.space.schema import check_type
from nas.store import TrialStore
from nas.space.limits import SEED_MAX

CONFIG_SCHEMA = "attention-nas/search-run@1"
LOCK_NAME = ".lock"  # RunFolder.lock

DEFAULT_OBJECTIVE = "train"  # train the backbone with the cell, score on search-val
SCHEDULERS = ("fifo", "asha", "hyperband")
"""Trial schedulers (`runners.engine.schedulers`): fifo trains every trial to the end."""

PRESETS: dict[str, dict[str, Any]] = {
    # finishes in a few minutes on a 2-core machine
    "quick": {"trials": 12, "workers": 2},
}


@dataclass
class SearchConfig:
    """Everything a GP-bandit search run needs (stored as RUN/config.json)."""

    trials: int = 50  # trained trials (complete, stopped or failed); over-budget cells do not count
    workers: int = 1  # trials at once
    controller: str = "gp_bandit"
    controller_options: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    objective: str = DEFAULT_OBJECTIVE
    objective_options: dict[str, Any] = field(default_factory=dict)
    max_gflops: float | None = None
    target_gflops: float | None = None
    flops_penalty: float = DEFAULT_PENALTY
    retries: int = 2  # extra attempts of a failing trial before it is recorded as failed
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    address: str | None = None  # Ray cluster to join; None starts Ray inside the process
    preset: str | None = None
    space_source: str = ""  # where the space was read from (the run uses its copy)
    scheduler: str = "fifo"  # fifo | asha | hyperband (runners.engine.schedulers)
    grace_period: int = 1  # epochs before a scheduler may stop a trial (its first rung)
    reduction_factor: float = 3.0  # a rung keeps the top 1/reduction_factor of the trials it has seen

    def check(self) -> None:
        """Refuse impossible values with a one-line `UserError` (the CLI's bounds, for a stored config too)."""
        bounds = {"trials": (1, 1_000_000), "workers": (1, 4096), "seed": (0, SEED_MAX), "retries": (0, 100),
                  "grace_period": (1, 1_000_000)}
        if self.scheduler not in SCHEDULERS:
            raise UserError(f"--scheduler must be one of {', '.join(SCHEDULERS)}, got {short(self.scheduler)}")
        for name, (low, high) in bounds.items():
            if not low <= getattr(self, name) <= high:
                raise UserError(f"--{name.replace('_', '-')} must be in {low} .. {high}, got {getattr(self, name)}")
        if not (math.isfinite(self.reduction_factor) and 1 < self.reduction_factor <= 100):
            raise UserError(f"--reduction-factor must be a finite number above 1 and at most 100, got {self.reduction_factor}")
        numbers = {"cpus_per_trial": (0, 1024), "gpus_per_trial": (0, 64), "flops_penalty": (0, 10),
                   "max_gflops": (0, None), "target_gflops": (0, None)}
        for name, (low, high) in numbers.items():
            value = getattr(self, name)
            if value is None:
                continue
            strict = name in ("cpus_per_trial", "max_gflops", "target_gflops")
            if not math.isfinite(value) or value < low or (strict and value == low) or (high is not None and value > high):
                where = f"{'above' if strict else 'at least'} {low}" + (f" and at most {high}" if high else "")
                raise UserError(f"--{name.replace('_', '-')} must be a finite number {where}, got {value}")

    @classmethod
    def from_dict(cls, data: Any, source: str) -> "SearchConfig":
        """The config stored in a run folder: unknown keys, wrong types and impossible values refused."""
        if not isinstance(data, dict) or data.get("schema") != CONFIG_SCHEMA:
            raise UserError(f"{source}: not a search-run config of schema {CONFIG_SCHEMA}")
        body = {k: v for k, v in data.items() if k != "schema"}
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(body) - set(known))
        if unknown:
            raise UserError(f"{source}: unknown key {short(unknown[0])} in a search-run config")
        for name, value in body.items():
            annotation = str(known[name].type)
            if value is None and "None" in annotation:
                continue
            kind = {"int": int, "float": float, "str": str, "dict": dict}[annotation.split("[")[0].split(" ")[0]]
            check_type(value, kind, lambda msg, name=name: UserError(f"{source}: {name}: {msg}"))
            if kind is dict and not all(isinstance(k, str) for k in value):
                raise UserError(f"{source}: {name}: keys must be strings")
        config = cls(**body)
        try:
            config.check()
        except UserError as exc:
            raise UserError(f"{source}: {exc}") from None
        return config

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with the schema name."""
        return {"schema": CONFIG_SCHEMA, **asdict(self)}


class RunFolder:
    """Paths and files of one run folder; `create` a new one or `open` an existing one."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).resolve()

    config_path = property(lambda self: self.path / "config.json")
    space_path = property(lambda self: self.path / "space.yaml")
    provenance_path = property(lambda self: self.path / "provenance.json")
    store_path = property(lambda self: self.path / "trials.db")
    log_path = property(lambda self: self.path / "trials.log")
    best_path = property(lambda self: self.path / "best_genotype.json")
    pareto_path = property(lambda self: self.path / "pareto.json")
    ray_path = property(lambda self: self.path / "ray")

    @classmethod
    def create(cls, path: str | Path, config: SearchConfig, space_text: str, argv: list[str]) -> "RunFolder":
        """A new run folder with an empty store; an existing non-empty folder is refused (resume it instead).

        The folder is built under a hidden temporary name next to it and renamed into place, so a
        kill at any moment leaves either no run folder or a complete one (and at most a hidden
        ``.NAME.partial-*`` folder, which the next `create` of the same name removes).
        """
        run = cls(path)
        if run.path.exists() and (not run.path.is_dir() or any(run.path.iterdir())):
            raise UserError(f"{path} already exists and is not empty (continue a run with: nas search resume {path})")
        run.path.parent.mkdir(parents=True, exist_ok=True)
        for stale in run.path.parent.glob(f".{run.path.name}.partial-*"):  # left by a killed create
            shutil.rmtree(stale, ignore_errors=True)
        partial = cls(tempfile.mkdtemp(prefix=f".{run.path.name}.partial-", dir=run.path.parent))
        try:
            atomic_write_text(partial.space_path, space_text)
            partial.save_config(config)
            partial.add_session(argv, config.seed)
            TrialStore.create(partial.store_path, {"controller": config.controller, "seed": config.seed}).close()
            if run.path.is_dir():
                run.path.rmdir()  # the empty folder the user made for it
            os.rename(partial.path, run.path)
        except BaseException:
            shutil.rmtree(partial.path, ignore_errors=True)
            raise
        return run

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run folder for one process (an advisory lock on RUN/.lock, released when the
        process ends, however it ends); a second driver on the same folder gets a one-line refusal."""
        fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "another process"
                raise UserError(f"{self.path} is in use by another nas process (pid {holder}); wait for it or stop it") \
                    from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self._remove_temporaries()
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _remove_temporaries(self) -> None:
        """Delete the atomic writer's temporaries a killed process left (only the lock holder writes here)."""
        for name in (self.config_path, self.provenance_path, self.best_path, self.pareto_path,
                     self.path / "best_cell.png"):
            for stale in self.path.glob(f".{name.stem}.*{name.suffix}"):
                stale.unlink(missing_ok=True)

    @classmethod
    def open(cls, path: str | Path) -> "RunFolder":
        """An existing run folder; anything else is a one-line `UserError`."""
        run = cls(path)
        if not run.path.is_dir():
            raise UserError(f"run folder not found: {path}")
        if not run.config_path.is_file() or not run.store_path.is_file():
            raise UserError(f"{path} is not a search run folder (no config.json and trials.db)")
        return run

    def config(self) -> SearchConfig:
        """The stored configuration."""
        return SearchConfig.from_dict(load_json(self.config_path, "run config"), str(self.config_path))

    def save_config(self, config: SearchConfig) -> None:
        """Store the configuration (atomically)."""
        atomic_write_json(self.config_path, config.to_dict())

    def space_text(self) -> str:
        """The run's copy of the search space."""
        return read_text(self.space_path, "run search space")

    def add_session(self, argv: list[str], seed: int) -> None:
        """Append this session's provenance (command line, seed, version, git commit, ...)."""
        kept = load_json(self.provenance_path, "provenance") if self.provenance_path.exists() else {"sessions": []}
        sessions = kept.get("sessions") if isinstance(kept, dict) else None
        if not isinstance(sessions, list):
            raise UserError(f"{self.provenance_path}: expected {{\"sessions\": [...]}}")
        sessions.append(provenance(argv, seed))
        atomic_write_json(self.provenance_path, {"sessions": sessions})

    def log(self, line: str) -> None:
        """Append one line to the trial log."""
        with open(self.log_path, "a", encoding="utf-8") as handle:
            handle.write(line.rstrip("\n") + "\n")
            handle.flush()


def provenance(argv: list[str], seed: int) -> dict[str, Any]:
    """Who made a run and with what: command line, seed, version, git commit, the machine (Python,
    torch, CPU capability, GPUs, host) and the time."""
    from nas import __version__
    from runners.engine.machine import git, machine

    return {
        "command": ["nas", *argv],
        "seed": seed,
        "version": __version__,
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        **machine(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
