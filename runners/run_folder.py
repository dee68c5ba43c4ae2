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
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from nas.budget import DEFAULT_PENALTY
from nas.errors import UserError
from nas.io import atomic_write_json, atomic_write_text, load_json, read_text
from nas.store import TrialStore

CONFIG_SCHEMA = "attention-nas/search-run@1"

DEFAULT_OBJECTIVE = "train"  # train the backbone with the cell, score on search-val
PRESETS: dict[str, dict[str, Any]] = {
    # finishes in a few minutes on a 2-core machine
    "quick": {"trials": 12, "workers": 2},
}


@dataclass
class SearchConfig:
    """Everything a GP-bandit search run needs (stored as RUN/config.json)."""

    trials: int = 50  # trained trials (complete or failed); over-budget cells do not count
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

    def check(self) -> None:
        """Refuse impossible values with a one-line `UserError`."""
        for name in ("trials", "workers"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name} must be at least 1, got {getattr(self, name)}")
        if self.retries < 0:
            raise UserError(f"--retries must be non-negative, got {self.retries}")
        if self.cpus_per_trial <= 0 or self.gpus_per_trial < 0:
            raise UserError("--cpus-per-trial must be positive and --gpus-per-trial non-negative")

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str) -> "SearchConfig":
        """The config stored in a run folder (unknown keys refused)."""
        known = {f.name for f in fields(cls)}
        body = {k: v for k, v in data.items() if k != "schema"}
        unknown = sorted(set(body) - known)
        if data.get("schema") != CONFIG_SCHEMA or unknown:
            raise UserError(f"{source}: not a search-run config of schema {CONFIG_SCHEMA}")
        return cls(**body)

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

        If anything fails on the way, a folder this call made is removed again.
        """
        run = cls(path)
        if run.path.exists() and (not run.path.is_dir() or any(run.path.iterdir())):
            raise UserError(f"{path} already exists and is not empty (continue a run with: nas search resume {path})")
        made = not run.path.exists()
        try:
            run.path.mkdir(parents=True, exist_ok=True)
            atomic_write_text(run.space_path, space_text)
            run.save_config(config)
            run.add_session(argv, config.seed)
            TrialStore.create(run.store_path, {"controller": config.controller, "seed": config.seed}).close()
        except BaseException:
            if made:
                shutil.rmtree(run.path, ignore_errors=True)
            raise
        return run

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
        sessions = load_json(self.provenance_path, "provenance")["sessions"] if self.provenance_path.exists() else []
        sessions.append(provenance(argv, seed))
        atomic_write_json(self.provenance_path, {"sessions": sessions})

    def log(self, line: str) -> None:
        """Append one line to the trial log."""
        with open(self.log_path, "a", encoding="utf-8") as handle:
            handle.write(line.rstrip("\n") + "\n")
            handle.flush()


def provenance(argv: list[str], seed: int) -> dict[str, Any]:
    """Who made a run and with what: command line, seed, version, git commit, Python, host, time."""
    from nas import __version__

    return {
        "command": ["nas", *argv],
        "seed": seed,
        "version": __version__,
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "python": sys.version.split()[0],
        "host": platform.node(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _git(*args: str) -> str | None:
    """Output of a git command in the package's checkout, or None outside one."""
    source = Path(__file__).resolve().parents[1]
    try:
        done = subprocess.run(["git", *args], cwd=source, capture_output=True, text=True, timeout=10,
                              env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None

