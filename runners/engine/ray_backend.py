"""Ray Tune executes the trials of a search; the driver (`runners.engine.search_driver`) decides them.

- `connect`: without an address Ray starts inside this process (``address="local"``: never
  an unrelated cluster that happens to run on the machine); with one it joins that cluster
  after checking the head answers, so an unreachable address is one line, not a hang.
- `execute`: a Ray Tune run whose search algorithm adapts the driver and whose trainable
  evaluates the objective (both in `runners.engine.tune_adapter`), at most ``workers`` at once,
  under the config's scheduler (`runners.engine.schedulers`; its rungs start from the store).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import sys
from pathlib import Path
from typing import Any, Iterator

from nas.errors import UserError, first_line
from runners.engine.run_folder import SearchConfig
from runners.engine.search_driver import SearchDriver


def check_address(address: str, timeout: float = 5.0) -> None:
    """Refuse a Ray address whose head does not accept connections (one-line `UserError`)."""
    if address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--address must be HOST:PORT (or auto), got {address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise UserError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


def connect(address: str | None, workers: int, cpus_per_trial: float) -> None:
    """Start Ray in this process (no address) or join the cluster at `address`."""
    import ray

    quiet = {"include_dashboard": False, "logging_level": logging.ERROR, "log_to_driver": False}
    if address is None:  # GPUs as Ray detects them; CPUs as many as the trials at once ask for
        if os.environ.get("RAY_AUTH_MODE", "").lower() == "disabled":
            # Ray's servers listen on every interface (Ray has no loopback-only setting); its token
            # authentication, on by default, is what keeps others from running code here
            print("nas: warning: RAY_AUTH_MODE=disabled: the Ray this search starts accepts connections from anyone "
                  "who can reach this machine; unset it to keep Ray's token authentication", file=sys.stderr)
        ray.init(address="local", num_cpus=max(1, math.ceil(workers * cpus_per_trial)), **quiet)
        return
    check_address(address)
    quiet.pop("include_dashboard")
    try:
        ray.init(address=address, **quiet)
    except ConnectionError as exc:
        raise UserError(f"cannot join the Ray cluster at {address}: {first_line(exc)}") from None


def trial_name(trial: Any) -> str:
    """Tune's name (and folder) of an attempt: ``trial-<proposal id>-attempt-<n>``."""
    return f"trial-{trial.config['proposal_id']}-attempt-{trial.config['attempt']}"


def execute(driver: SearchDriver, storage: Path, session: str, config: SearchConfig, max_epochs: int | None) -> None:
    """Run the search's trials with Ray Tune until the driver says it is done."""
    from ray import tune

    from runners.engine.schedulers import make_scheduler
    from runners.engine.tune_adapter import ControllerSearcher, ErrorText, run_trial

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # Tune's console tables would bury our one line per trial
    os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")  # a failed attempt's result has no value
    searcher = ControllerSearcher(driver)
    scheduler = make_scheduler(config.scheduler, config.seed, max_epochs, config.grace_period, config.reduction_factor,
                               driver.fidelity_history())
    resources = {"cpu": config.cpus_per_trial, **({"gpu": config.gpus_per_trial} if config.gpus_per_trial else {})}
    tuner = tune.Tuner(
        tune.with_resources(run_trial, resources),
        tune_config=tune.TuneConfig(
            search_alg=searcher, num_samples=-1, max_concurrent_trials=config.workers,
            **({"scheduler": scheduler} if scheduler is not None else {}),
            reuse_actors=True,  # a worker imports torch and the library once, not once per trial
            trial_name_creator=trial_name, trial_dirname_creator=trial_name,
        ),
        run_config=tune.RunConfig(
            name=session, storage_path=str(storage), verbose=0,
            callbacks=[ErrorText(driver, searcher)],
        ),
    )
    storage.mkdir(parents=True, exist_ok=True)
    with _ray_log_to(storage / "driver.log"):
        tuner.fit()


@contextlib.contextmanager
def _ray_log_to(path: Path) -> Iterator[None]:
    """Send the `ray` logger to `path` instead of the console for the duration (then restore it).

    Ray logs a full traceback for every failed trial attempt; the search prints one line per
    trial instead, and the store keeps the error.
    """
    logger = logging.getLogger("ray")
    saved = logger.handlers[:]
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.handlers = [handler]
    try:
        yield
    finally:
        logger.handlers = saved
        handler.close()
