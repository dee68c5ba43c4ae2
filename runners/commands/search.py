"""`nas search gpb|resume` and `nas export`: GP-bandit search over Ray, resume, best genotype.

Everything a run needs is checked before its folder is made (space, controller and objective
options, FLOPs budget, a reachable ``--address``), so bad input leaves nothing behind; the work
is `runners.engine.search_session`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


from nas.controllers import CONTROLLERS
from nas.errors import UserError
from nas.io import atomic_write_text, parse_assignments, read_text
from nas.objectives import OBJECTIVES
from nas.store import TrialStore
from runners import smoke
from runners.arg_types import SEED, integer, real
from runners.commands.search_diff import add_diff_parser
from runners.engine.run_folder import PRESETS, SCHEDULERS, RunFolder, SearchConfig
from runners.engine.search_session import check_setup, export_text, run_session, write_pareto
from runners.engine.supergraph_search import export_diff, is_diff_run, resume_diff

GPB_OPTIONS = ("trials", "workers", "controller", "seed", "objective", "max_gflops", "target_gflops",
               "flops_penalty", "retries", "cpus_per_trial", "gpus_per_trial", "address", "scheduler", "grace_period",
               "reduction_factor")


def search_verbs(commands: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The subcommands of `nas search` (made on first use, so other modules can add verbs)."""
    search = commands.choices.get("search")
    if search is None:
        search = commands.add_parser("search", help="search attention cells")
        search.set_defaults(verbs=search.add_subparsers(dest="verb", metavar="VERB", required=True,
                                                        parser_class=type(search)))
    return search.get_default("verbs")


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register `nas search gpb`, `nas search resume` and `nas export`."""
    verbs = search_verbs(commands)
    add_diff_parser(verbs)
    gpb = verbs.add_parser("gpb", help="GP-bandit search (trials run on Ray)")
    gpb.add_argument("--space", required=True, help="search space YAML file")
    gpb.add_argument("--out", required=True, help="run folder to create")
    gpb.add_argument("--preset", choices=sorted(PRESETS), help="a named set of defaults (explicit options win)")
    default = SearchConfig()
    gpb.add_argument("--trials", type=integer(1, 1_000_000), help=f"trained trials (default {default.trials})")
    gpb.add_argument("--workers", type=integer(1, 4096), help=f"trials at once (default {default.workers})")
    gpb.add_argument("--controller", help=f"{', '.join(CONTROLLERS.names())} (default {default.controller}; nas list controllers)")
    gpb.add_argument("--controller-option", action="append", default=[], metavar="NAME=VALUE",
                     help="a controller option, e.g. initial=8 (repeatable)")
    gpb.add_argument("--seed", type=SEED, help=f"search seed (default {default.seed})")
    gpb.add_argument("--objective", help=f"what a trial computes: {', '.join(OBJECTIVES.names())} (default {default.objective}; nas list objectives)")
    gpb.add_argument("--objective-option", action="append", default=[], metavar="NAME=VALUE",
                     help="an objective option, e.g. seed=1 (repeatable)")
    gpb.add_argument("--max-gflops", type=real(0, above=True), help="hard budget: never train cells above it")
    gpb.add_argument("--target-gflops", type=real(0, above=True), help="soft budget: penalise the value above it")
    gpb.add_argument("--flops-penalty", type=real(0, 10), help=f"exponent W of the soft budget (default {default.flops_penalty})")
    gpb.add_argument("--retries", type=integer(0, 100), help=f"retries of a failing trial (default {default.retries})")
    gpb.add_argument("--cpus-per-trial", type=real(0, 1024, above=True), help=f"Ray CPUs per trial (default {default.cpus_per_trial:g})")
    gpb.add_argument("--gpus-per-trial", type=real(0, 64), help=f"Ray GPUs per trial (default {default.gpus_per_trial:g})")
    gpb.add_argument("--address", help="join this Ray cluster (HOST:PORT) instead of starting Ray here")
    gpb.add_argument("--scheduler", choices=SCHEDULERS,
                     help="fifo: every trial trains to the end (default); asha: stop trials below the top "
                          "1/reduction-factor at each rung; hyperband: asha over Hyperband's brackets")
    gpb.add_argument("--grace-period", type=integer(1, 1_000_000),
                     help=f"epochs before a trial can be stopped (default {default.grace_period})")
    gpb.add_argument("--reduction-factor", type=real(1, 100, above=True),
                     help=f"rungs keep the top 1/this of trials and are this many times apart (default {default.reduction_factor:g})")
    gpb.add_argument("--quiet", action="store_true", help="print only the closing summary (trials.log has every line)")
    gpb.set_defaults(handler=run_gpb)

    resume = verbs.add_parser("resume", help="continue a killed or finished search")
    resume.add_argument("run", help="run folder")
    resume.add_argument("--trials", type=integer(1, 1_000_000), help="raise the number of trials")
    resume.add_argument("--workers", type=integer(1, 4096), help="change the number of trials at once")
    resume.add_argument("--address", help="join this Ray cluster (HOST:PORT)")
    resume.add_argument("--quiet", action="store_true", help="print only the closing summary")
    resume.set_defaults(handler=run_resume)

    export = commands.add_parser("export", help="write the best genotype (or the Pareto front) of a search run")
    export.add_argument("run", help="run folder")
    export.add_argument("-o", "--output", help="write here (default: stdout)")
    export.add_argument("--trial", type=integer(0), help="export this trial's cell instead of the best")
    export.add_argument("--pareto", action="store_true", help="the score-versus-FLOPs Pareto front as JSON")
    export.set_defaults(handler=run_export)


def resolve_config(args: argparse.Namespace) -> SearchConfig:
    """Defaults, then the preset, then the options given on the command line."""
    values: dict[str, Any] = dict(PRESETS.get(args.preset, {})) if args.preset else {}
    if smoke.on():
        values["trials"] = smoke.SIZES["trials"]
    values.update({name: getattr(args, name) for name in GPB_OPTIONS if getattr(args, name) is not None})
    values["controller_options"] = parse_assignments(args.controller_option, "--controller-option")
    objective = values.get("objective", SearchConfig().objective)
    values["objective_options"] = smoke.objective_options(
        objective, parse_assignments(args.objective_option, "--objective-option"))
    config = SearchConfig(**values, preset=args.preset, space_source=str(args.space))
    config.check()
    return config


def quiet_optuna() -> None:
    """Optuna logs every study it creates and every trial told at INFO; the search prints its own
    line per trial instead (the CLI owns its process's logging; the library never sets it)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def run_gpb(args: argparse.Namespace) -> int:
    """Start a new search run."""
    quiet_optuna()
    config = resolve_config(args)
    check_setup(config, args.space)
    run = RunFolder.create(args.out, config, read_text(args.space, "search space"), sys.argv[1:])
    with run.lock():
        return run_session(run, config, quiet=args.quiet)


def run_resume(args: argparse.Namespace) -> int:
    """Continue a search from its run folder (a GP-bandit or a supergraph search)."""
    if is_diff_run(args.run):
        return resume_diff(args.run)
    quiet_optuna()
    run = RunFolder.open(args.run)
    with run.lock():
        config = run.config()
        for name in ("trials", "workers", "address"):
            if getattr(args, name) is not None:
                setattr(config, name, getattr(args, name))
        config.check()
        check_setup(config, str(run.space_path))

        def record() -> None:  # only once nothing can refuse any more: a refused resume writes nothing
            run.save_config(config)
            run.add_session(sys.argv[1:], config.seed)

        return run_session(run, config, record, quiet=args.quiet)


def run_export(args: argparse.Namespace) -> int:
    """Write the best (or a chosen) trial's cell as a model genotype, or the Pareto front.

    A supergraph run exports its derived position-specific model genotype.
    """
    if is_diff_run(args.run):
        if args.trial is not None or args.pareto:
            raise UserError(f"{args.run} is a supergraph search: it has no trials, only its derived cells")
        text = export_diff(args.run)
    else:
        run = RunFolder.open(args.run)
        with TrialStore.open(run.store_path) as store:
            if args.pareto:
                text = json.dumps(write_pareto(run, store), indent=2) + "\n"
            else:
                text = export_text(run, store, args.trial)
    if args.output:
        atomic_write_text(args.output, text)
        print(f"wrote {args.output}")
    else:
        print(text, end="")
    return 0
