"""The search driver: between the controller, the trial store, the FLOPs budget and the log.

It knows nothing of Ray.  The executor (`runners.engine.ray_backend`) asks it what to run next
(`next_trial`), runs `evaluate_trial` on a worker and hands back the outcome
(`record_outcome`); the driver is the only writer of the store and the only caller of the
controller.

- Proposals are asked in batches of the free worker slots; each is recorded in the store
  before it runs.  A cell above the hard FLOPs budget is recorded ``over_budget``, told to
  the controller as a failure and replaced, without counting towards ``trials``.
- A failed attempt (an exception in the objective, a NaN score, a lost worker) is retried
  up to ``retries`` times, then the trial is recorded ``failed`` with its error and the search
  goes on.  (The retry budget counts failures seen by this session: a resumed trial starts
  with a fresh one.)
- Resume: trials the store has as pending or running (a killed driver's in-flight trials)
  are run again first, with the same proposal; finished trials are never run again.
- Epochs: an attempt that reports after every epoch (`epoch_reported`) gets a row per epoch in
  the store and a progress line with the best so far.  A scheduler may end it early
  (`attempt_stopped`): it is recorded ``stopped`` with the value of the last epoch it trained,
  counts as a trained trial, and is told to the controller with its fidelity (the metrics
  ``epochs_trained``, ``max_epochs`` and ``value_curve``, the value after each epoch); a
  complete trial that reported epochs is told the same metrics, so a controller can learn
  from a mixed-fidelity history (`nas.controllers.gp_bandit`).
"""

from __future__ import annotations

import json
import math
import time
import traceback
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np

from nas.budget import FlopsBudget
from nas.controllers import Controller
from nas.objectives import Objective
from nas.io import atomic_write_text
from nas.space import ModelGenotype
from nas.store import NewTrial, TrialRecord, TrialStore
from runners.engine.run_folder import RunFolder, SearchConfig
from runners.engine.trial_lines import epoch_line, trial_line

MAX_SKIPS = 1000  # consecutive over-budget proposals before the search gives up
LOST = "the trial's worker was lost or killed before it reported (see the run's ray/ folder)"


@dataclass(frozen=True)
class TrialOrder:
    """One attempt of one trial, as an executor runs it."""

    proposal_id: str
    number: int
    genotype_json: str
    attempt: int
    seed: int  # the trial's seed (the same for every attempt)
    objective: str
    objective_options: dict[str, Any]
    value_factor: float = 1.0  # value = score * value_factor (the soft FLOPs budget's penalty of this cell)
    gflops: float | None = None  # the model's counted GFLOPs, if the objective counts them

    def as_config(self) -> dict[str, Any]:
        """The JSON-ready config an executor ships to a worker (`evaluate_trial` reads it)."""
        return asdict(self)


def evaluate_trial(config: dict[str, Any], workdir: str | None = None,
                   report: Callable[[Any], None] | None = None) -> dict[str, Any]:
    """Run one attempt in this process: ``{"ok": True, "score", "metrics"}`` or ``{"ok": False, "error"}``.

    The objective's exceptions become the outcome's error text (the trial's record), never a
    crash of the caller.  The metrics get ``trial_seconds``, the time the attempt took in this
    process (what a search's overhead is measured against, benchmarks/trial_overhead.py).
    `report` receives the objective's `EpochReport` after every epoch, if it reports.
    """
    from nas.objectives import TrialContext, make_objective
    from nas.space import Genotype

    start = time.perf_counter()
    try:
        objective = make_objective(config["objective"], config["objective_options"])
        genotype = Genotype.from_json(config["genotype_json"], source=f"trial {config['proposal_id']}")
        context = TrialContext(seed=config["seed"], proposal_id=config["proposal_id"], attempt=config["attempt"],
                               workdir=workdir, report=report)
        result = objective.evaluate(genotype, context)
        metrics = {str(k): v.item() if hasattr(v, "item") else v for k, v in result.metrics.items()}  # numpy -> plain
        metrics.setdefault("trial_seconds", time.perf_counter() - start)  # the attempt's work in the worker
        json.dumps(metrics)  # metrics the store cannot keep fail the attempt here, with the reason
        return {"ok": True, "score": float(result.score), "metrics": metrics}
    except Exception:
        return {"ok": False, "error": traceback.format_exc(limit=20)[-8000:]}


class SearchDriver:
    """Runs a search's bookkeeping (see the module docstring)."""

    def __init__(self, run: RunFolder, config: SearchConfig, controller: Controller, store: TrialStore,
                 objective: Objective, budget: FlopsBudget, echo: Callable[[str], None] = print) -> None:
        self.run, self.config, self.controller, self.store = run, config, controller, store
        self.objective, self.budget, self.echo = objective, budget, echo
        self._ready: deque[str] = deque()  # recorded proposals waiting for a worker
        self._retry: deque[str] = deque()
        self._running: set[str] = set()
        self._failures: dict[str, int] = {}
        self._exhausted = False
        self._stopped: str | None = None  # why the search stopped early, if it did
        self._best = store.best()
        for record in store.trials(("pending", "running")):
            self._ready.append(record.proposal_id)

    # --- what the executor calls ---------------------------------------------------------------
    def done(self) -> bool:
        """True when every trial is finished (or no more can be proposed) and none is in flight."""
        if self._running or self._retry:
            return False
        if self._stopped or self._exhausted and not self._ready:
            return True
        return self._trained() >= self.config.trials

    def next_trial(self) -> TrialOrder | None:
        """The next attempt to run, or None when nothing should start now."""
        if self._retry:
            return self._start(self._retry.popleft())
        if self._trained() + len(self._running) >= self.config.trials or self._stopped:
            return None
        if not self._ready and not self._exhausted:
            left = self.config.trials - self._trained() - len(self._running)
            self._ask(min(self.config.workers - len(self._running), left))
        return self._start(self._ready.popleft()) if self._ready else None

    def record_outcome(self, proposal_id: str, outcome: dict[str, Any] | None) -> None:
        """An attempt's outcome from `evaluate_trial`, or None when its worker was lost."""
        if outcome is None or "ok" not in outcome:
            self.attempt_failed(proposal_id, LOST)
        elif outcome["ok"]:
            self.attempt_succeeded(proposal_id, outcome["score"], outcome.get("metrics") or {})
        else:
            self.attempt_failed(proposal_id, outcome["error"])

    def epoch_reported(self, proposal_id: str, row: dict[str, Any], echo: bool = True) -> None:
        """An attempt's report after one epoch (`epoch_row`): store it, print progress."""
        record = self.store.trial(proposal_id)
        self.store.add_epoch(proposal_id, record.attempts, int(row["epoch"]), row.get("value"), row.get("score"),
                             row_metrics(row), time.time())
        if echo:
            self.echo(epoch_line(record, row, self._best))

    def attempt_stopped(self, proposal_id: str, row: dict[str, Any]) -> None:
        """A scheduler ended the attempt after the epoch of `row`, its last report: record it ``stopped``."""
        self._running.discard(proposal_id)
        self.epoch_reported(proposal_id, row, echo=False)
        value, score = row.get("value"), row.get("score")
        if value is None or not math.isfinite(value):
            self.attempt_failed(proposal_id, f"stopped by the scheduler with a non-finite value {value}")
            return
        metrics = {**row_metrics(row), **self._fidelity(proposal_id)}
        self.store.finish(proposal_id, "stopped", time.time(), value=value, score=score, metrics=metrics)
        self.controller.tell(proposal_id, value, **metrics)
        self._after_finish(self.store.trial(proposal_id))

    def fidelity_history(self) -> list[tuple[int, list[float]]]:
        """(trial number, value after each epoch) of the finished trials that reported epochs (what a
        resumed scheduler starts from)."""
        out = []
        for record in self.store.trials(("complete", "stopped")):
            curve = record.metrics.get("value_curve")
            if isinstance(curve, list) and curve:
                out.append((record.number, [float(v) for v in curve]))
        return out

    def attempt_succeeded(self, proposal_id: str, score: float, metrics: dict[str, Any]) -> None:
        """An attempt returned a score (a non-finite one counts as a failure)."""
        if not math.isfinite(score):
            self.attempt_failed(proposal_id, f"non-finite score {score} (NaN or infinite loss)")
            return
        self._running.discard(proposal_id)
        record = self.store.trial(proposal_id)
        value = self.budget.value(score, record.gflops)
        metrics = {**metrics, **self._fidelity(proposal_id)}
        self.store.finish(proposal_id, "complete", time.time(), value=value, score=score, metrics=metrics)
        self.controller.tell(proposal_id, value, **metrics)
        self._after_finish(self.store.trial(proposal_id))

    def attempt_failed(self, proposal_id: str, error: str) -> None:
        """An attempt raised, returned NaN, or its worker was lost: retry or record the failure."""
        self._running.discard(proposal_id)
        self._failures[proposal_id] = self._failures.get(proposal_id, 0) + 1
        last = error.strip().splitlines()[-1] if error.strip() else "unknown error"
        if self._failures[proposal_id] <= self.config.retries:
            self.store.set_error(proposal_id, error)
            self.run.log(f"trial {proposal_id} attempt {self._failures[proposal_id]} failed, retrying: {last}")
            self._retry.append(proposal_id)
            return
        self.store.finish(proposal_id, "failed", time.time(), error=error)
        self.controller.tell(proposal_id, None)
        self._after_finish(self.store.trial(proposal_id))

    def error_detail(self, proposal_id: str, error: str) -> None:
        """Fuller error text of a trial's latest attempt, when the executor learns it later."""
        self.store.set_error(proposal_id, error)

    def stop_reason(self) -> str | None:
        """Why the search ended before its trial count, if it did."""
        return self._stopped or ("the space has no untried cells left" if self._exhausted else None)

    # --- internals -----------------------------------------------------------------------------
    def _trained(self) -> int:
        counts = self.store.counts()
        return counts["complete"] + counts["failed"] + counts["stopped"]

    def _fidelity(self, proposal_id: str) -> dict[str, Any]:
        """``epochs_trained``, ``max_epochs`` and ``value_curve`` of the latest attempt, if it reported epochs."""
        attempt = self.store.trial(proposal_id).attempts
        rows = [r for r in self.store.epochs(proposal_id) if r.attempt == attempt and r.value is not None]
        if not rows:
            return {}
        return {"epochs_trained": rows[-1].epoch, "max_epochs": int(rows[-1].metrics.get("max_epochs", rows[-1].epoch)),
                "value_curve": [r.value for r in rows]}

    def _start(self, proposal_id: str) -> TrialOrder:
        attempt = self.store.start_attempt(proposal_id, time.time())
        self._running.add(proposal_id)
        record = self.store.trial(proposal_id)
        seed = int(np.random.SeedSequence([self.config.seed, record.number]).generate_state(1)[0])
        return TrialOrder(proposal_id, record.number, record.genotype_json, attempt, seed,
                          self.config.objective, self.config.objective_options,
                          self.budget.value(1.0, record.gflops), record.gflops)

    def _ask(self, n: int) -> None:
        skips = 0
        while not self._ready and skips < MAX_SKIPS:
            proposals = self.controller.ask(max(1, n))
            if not proposals:
                self._exhausted = True
                return
            new = [NewTrial(p.number, p.id, p.key, p.genotype.to_json(indent=None)) for p in proposals]
            self.store.add_batch(new, time.time())
            for p in proposals:
                if self._admit(p.id, p.genotype):
                    self._ready.append(p.id)
                else:
                    skips += 1
        if not self._ready:
            self._stopped = f"no untried cell within --max-gflops {self.budget.max_gflops} in {skips} proposals"

    def _admit(self, proposal_id: str, genotype) -> bool:
        """Record the cell's FLOPs and parameters when the objective counts them; refuse an over-budget cell."""
        cost = self.objective.cost(genotype)
        if cost is None:
            if self.budget.needs_flops:
                raise RuntimeError("the objective stopped counting FLOPs")  # checked before the search starts
            return True
        self.store.set_cost(proposal_id, cost.gflops, cost.params)
        if self.budget.admits(cost.gflops):
            return True
        self.store.finish(proposal_id, "over_budget", time.time())
        self.controller.tell(proposal_id, None)
        self.run.log(f"trial {proposal_id} over budget: {cost.gflops:.4g} GFLOPs > {self.budget.max_gflops}")
        return False

    def _after_finish(self, record: TrialRecord) -> None:
        if record.state == "complete" and (self._best is None or record.value > self._best.value):
            self._best = record
            write_best(self.run, record)
        line = trial_line(record, self._trained(), self.config.trials, self._best)
        self.run.log(line)
        self.echo(line)


def row_metrics(row: dict[str, Any]) -> dict[str, Any]:
    """An epoch row's numbers besides its epoch, value and score (what the store keeps as its metrics)."""
    return {k: v for k, v in row.items() if k not in ("epoch", "value", "score")}


def epoch_row(config: dict[str, Any], report: Any) -> dict[str, Any]:
    """What a worker sends after an epoch: the objective's `EpochReport` as plain numbers, with the
    value (the score after the cell's FLOPs penalty, what a scheduler compares) and the epoch budget."""
    row = {"epoch": int(report.epoch), "max_epochs": int(report.max_epochs), "score": float(report.score),
           "value": float(report.score) * float(config.get("value_factor", 1.0))}
    if config.get("gflops") is not None:
        row["gflops"] = float(config["gflops"])
    row.update({str(k): float(v) for k, v in report.metrics.items()})
    return row


def genotype_text(run: RunFolder, record: TrialRecord) -> str:
    """A trial's cell as model-genotype JSON (the cell everywhere), with where it came from."""
    meta = {"run": str(run.path), "trial": record.number, "key": record.key, "state": record.state,
            "value": record.value, "score": record.score, "gflops": record.gflops}
    return ModelGenotype.everywhere(record.genotype, **meta).to_json() + "\n"


def write_best(run: RunFolder, record: TrialRecord) -> None:
    """Write a trial's cell as RUN/best_genotype.json and its diagram as RUN/best_cell.png."""
    from nas.viz import cell_figure, model_graphs, save_figure

    atomic_write_text(run.best_path, genotype_text(run, record))
    title = f"best cell: trial {record.number}, value {record.value:.4f}"
    save_figure(cell_figure(model_graphs({"*": record.genotype}), title), run.path / "best_cell.png")
