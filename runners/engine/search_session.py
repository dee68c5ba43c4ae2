"""The work of `nas search gpb|resume` and `nas export`: check a search's setup, run a session of
trials on Ray, and read a run's best cell and Pareto front.

`check_setup` builds everything once (space, controller, objective, FLOPs budget, a reachable
``--address``) so that bad input fails before a run folder is made; `run_session` rebuilds the
controller from the trial store and runs trials until the search is done.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from nas.budget import FlopsBudget, pareto_front
from nas.errors import UserError
from nas.io import atomic_write_json, load_json
from nas.space import load_space
from nas.store import TrialStore
from runners.engine.run_folder import RunFolder, SearchConfig


def check_setup(config: SearchConfig, space_path: str) -> None:
    """Build everything once (space, controller, objective, budget) so bad input fails early."""
    from nas.controllers import make_controller
    from nas.objectives import make_objective

    space = load_space(space_path)
    make_controller(config.controller, space, seed=config.seed, **config.controller_options)
    objective = make_objective(config.objective, config.objective_options)
    budget = budget_of(config)
    if budget.needs_flops and objective.cost(space.sample(config.seed)) is None:
        raise UserError(f"objective {config.objective!r} does not count FLOPs, which --max-gflops/--target-gflops need")
    check_scheduler(config, objective.max_epochs())
    if config.address:
        from runners.engine.ray_backend import check_address

        check_address(config.address)
    elif config.gpus_per_trial:  # Ray inside this process: a trial asking for absent GPUs would wait forever
        import torch

        if torch.cuda.device_count() < config.gpus_per_trial:
            raise UserError(f"--gpus-per-trial {config.gpus_per_trial:g} but this machine has "
                            f"{torch.cuda.device_count()} GPUs (join a cluster with --address)")


def check_scheduler(config: SearchConfig, max_epochs: int | None) -> None:
    """Refuse a scheduler the objective cannot serve: it must report every epoch of one run."""
    if config.scheduler == "fifo":
        return
    if max_epochs is None:
        raise UserError(f"--scheduler {config.scheduler} needs trials that report after every epoch, which objective "
                        f"{config.objective!r} with these options does not (train: repeats=1; toy: epochs=N)")
    if config.grace_period >= max_epochs:
        raise UserError(f"--grace-period {config.grace_period} must be below the {max_epochs} epochs a trial trains")


def budget_of(config: SearchConfig) -> FlopsBudget:
    """The FLOPs budget a config asks for."""
    return FlopsBudget(config.max_gflops, config.target_gflops, config.flops_penalty)


def run_session(run: RunFolder, config: SearchConfig, record: Callable[[], None] | None = None,
                quiet: bool = False) -> int:
    """Rebuild the controller from the store and run trials until the search is done (`record`, if
    given, is called once the store, controller and objective are built, before any trial).

    Prints a header, a line while Ray starts and when it is ready, a line per finished trial and a
    summary; `quiet` keeps only the summary (trials.log still gets every line)."""
    say = (lambda line: None) if quiet else (lambda line: print(line, flush=True))
    from nas.controllers import rebuild_controller
    from nas.objectives import make_objective
    from runners.engine import ray_backend
    from runners.engine.search_driver import SearchDriver, write_best

    space = load_space(str(run.space_path))
    with TrialStore.open(run.store_path) as store:
        controller = rebuild_controller(config.controller, space, store, config.seed, **config.controller_options)
        objective = make_objective(config.objective, config.objective_options)
        driver = SearchDriver(run, config, controller, store, objective, budget_of(config), echo=say)
        if record is not None:
            record()
        where = config.address or "Ray inside this process"
        say(f"search {run.path}: {config.controller} over {space.name}, objective {config.objective}, "
            f"{config.trials} trials, {config.workers} worker{'s' if config.workers != 1 else ''}, {where}")
        if not driver.done():
            started = time.perf_counter()
            say("starting Ray inside this process ..." if config.address is None else f"joining {config.address} ...")
            ray_backend.connect(config.address, config.workers, config.cpus_per_trial)
            say(f"Ray ready after {time.perf_counter() - started:.0f} s; trials running, a line as each finishes")
            try:
                sessions = len(load_json(run.provenance_path, "provenance")["sessions"])
                ray_backend.execute(driver, run.ray_path, f"session-{sessions}", config, objective.max_epochs())
            finally:
                import ray

                ray.shutdown()
        if store.best() is not None:  # also repairs a best file a kill left behind the store
            write_best(run, store.best())
        write_pareto(run, store)
        print(summary(store, driver.stop_reason()), flush=True)
    return 0


def write_pareto(run: RunFolder, store: TrialStore) -> list[dict[str, Any]]:
    """Write RUN/pareto.json from the store's complete trials with counted FLOPs; return it."""
    points = [(r.score, r.gflops, r) for r in store.trials(("complete",)) if r.gflops is not None]
    front = [{"trial": r.number, "key": r.key, "score": r.score, "value": r.value, "gflops": r.gflops,
              "params": r.params} for _, _, r in pareto_front(points)]
    if points:
        atomic_write_json(run.pareto_path, {"front": front, "convention": "GFLOPs, a multiply-add counts as two"})
    return front


def summary(store: TrialStore, stop_reason: str | None) -> str:
    """A line on what a session left in the store."""
    counts = ", ".join(f"{n} {state}" for state, n in store.counts().items() if n)
    best = store.best()
    text = f"done: {counts or 'no trials'}"
    if best is not None:
        text += f"; best trial {best.number} value {best.value:.4f} (score {best.score:.4f}) key {best.key}"
    return text + (f"; stopped early: {stop_reason}" if stop_reason else "")


def export_text(run: RunFolder, store: TrialStore, trial: int | None) -> str:
    """The model genotype JSON of the best complete trial (or of trial number `trial`)."""
    if trial is None:
        record = store.best()
        if record is None:
            raise UserError(f"{run.path} has no complete trial yet")
    else:
        found = [r for r in store.trials() if r.number == trial]
        if not found:
            raise UserError(f"{run.path} has no trial {trial}")
        record = found[0]
    from runners.engine.search_driver import genotype_text

    return genotype_text(run, record)
