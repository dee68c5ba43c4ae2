"""Best cell found versus training epochs spent: GP bandit and random search, each with FIFO and ASHA.

Four configurations (gp_bandit+fifo, gp_bandit+asha, random+asha, random+fifo) search the
GP-bandit space with the `train` objective, over search seeds 0 .. S-1, the same number of
trials each, `--workers` at a time on the embedded Ray.  Every search's best complete cell is
then retrained from scratch with R training seeds on the train split and scored on the test
split (`nas compare`, which also trains the backbone alone as the floor).

Epochs spent are counted from each trial store (`epochs` table: every epoch any attempt trained,
including those of stopped and failed attempts).  The report prints, per configuration, mean ±
standard error over search seeds of: epochs spent, the best search value found, and the retrained
cell's test top-1 (final, and averaged over the epochs like the search's score); then
gp_bandit+asha against gp_bandit+fifo paired by search seed (difference ± SE, paired t-test)
and the ratio of epochs.  The issue's target: asha's retrained score within one SE of fifo's with
at most a third of the epochs.

    python benchmarks/fidelity.py --out runs/fidelity [--seeds 3 --trials 12 --workers 2
        --num-videos 600 --epochs 8 --grace-period 1 --reduction-factor 3 --retrain-seeds 3]
        [--steps searches,retrain,report]

Every step resumes: a finished search or training is kept, a killed one is resumed.  The report
goes to OUT/fidelity.md and OUT/fidelity.json, the figure (mean best search value against epochs
spent) to OUT/best_vs_epochs.png.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nas.stats import mean_se, p_text, paired  # noqa: E402
from nas.store import TrialStore  # noqa: E402
from runners.engine.machine import git_commit, machine  # noqa: E402

CONFIGS = (("gp_bandit", "fifo"), ("gp_bandit", "asha"), ("random", "asha"), ("random", "fifo"))
SPACE = "search_spaces/attentionnas_gpb.yaml"


def nas(*args: object, log: Path) -> None:
    """Run the CLI, appending its output to `log`; a failure stops the benchmark with the log's tail."""
    with open(log, "a") as out:
        done = subprocess.run([sys.executable, "-m", "runners.cli", *map(str, args)], cwd=ROOT, stdout=out,
                              stderr=subprocess.STDOUT)
    if done.returncode != 0:
        sys.exit(f"fidelity: nas {' '.join(map(str, args[:3]))} failed; see {log}:\n{log.read_text()[-2000:]}")


def name_of(controller: str, scheduler: str, seed: int) -> str:
    """A search's folder name."""
    return f"{controller}-{scheduler}-s{seed}"


def searches(args: argparse.Namespace, runs: Path) -> None:
    """Run (or resume) every configuration's searches, timing each."""
    proxy = [f"num_videos={args.num_videos}", f"epochs={args.epochs}"]
    for seed in range(args.seeds):
        for controller, scheduler in CONFIGS:
            name = name_of(controller, scheduler, seed)
            folder, log, started = runs / name, runs / f"{name}.txt", time.time()
            if (folder / "trials.db").exists():
                nas("search", "resume", folder, "--quiet", log=log)
            else:
                options = [x for option in proxy for x in ("--objective-option", option)]
                nas("search", "gpb", "--space", SPACE, "--controller", controller, "--scheduler", scheduler,
                    "--grace-period", args.grace_period, "--reduction-factor", args.reduction_factor,
                    "--trials", args.trials, "--workers", args.workers, "--seed", seed, *options, "--out", folder,
                    "--quiet", log=log)
            print(f"{name}: {time.time() - started:.0f} s", flush=True)


def retrain(args: argparse.Namespace, runs: Path) -> None:
    """Retrain every search's best cell with --retrain-seeds seeds (`nas compare`, resumable)."""
    cells = []
    for seed in range(args.seeds):
        for controller, scheduler in CONFIGS:
            name = name_of(controller, scheduler, seed)
            cells += ["--cells", f"{name}={runs / name / 'best_genotype.json'}"]
    nas("compare", "--backbone", "tiny", *cells, "--seeds", args.retrain_seeds, "--jobs", args.jobs, "--threads", 1,
        "--num-videos", args.num_videos, "--epochs", args.epochs, "--no-progress", "--out", runs / "compare",
        log=runs / "compare.txt")


def search_numbers(folder: Path) -> dict:
    """Epochs spent, trials by state, the best complete value of one search, and its best value
    against the epochs spent (after each finished trial: (epochs trained by then, best so far))."""
    with TrialStore.open(folder / "trials.db") as store:
        best = store.best()
        times = sorted(e.time for e in store.epochs())
        finished = sorted((r for r in store.trials() if r.finished is not None), key=lambda r: r.finished)
        curve, top = [], None
        for r in finished:
            if r.state == "complete" and (top is None or r.value > top):
                top = r.value
            curve.append((sum(t <= r.finished for t in times), top))
        return {"epochs": len(times), "states": {k: v for k, v in store.counts().items() if v},
                "best_value": best.value if best else None, "best_key": best.key if best else None,
                "trial_hours": sum(r.finished - r.started for r in finished if r.started) / 3600,
                "best_vs_epochs": curve}


def curve_at(curve: list, epochs: int) -> float | None:
    """A search's best value once `epochs` epochs were spent (None before its first complete trial)."""
    value = None
    for spent, best in curve:
        if spent > epochs:
            break
        value = best
    return value


def figure(rows: dict, path: Path) -> None:
    """Mean best search value (± 1 SE over seeds) against training epochs spent, one line per configuration."""
    from matplotlib.figure import Figure

    from nas.viz.plots import LINE_STYLES, OKABE_ITO

    fig = Figure(figsize=(7.6, 4.0))
    ax = fig.add_subplot()
    for index, (label, seeds) in enumerate(rows.items()):
        top = min(s["epochs"] for s in seeds)
        grid = [e for e in range(1, top + 1) if all(curve_at(s["best_vs_epochs"], e) is not None for s in seeds)]
        stats = [mean_se([curve_at(s["best_vs_epochs"], e) for s in seeds]) for e in grid]
        colour, style = OKABE_ITO[index % len(OKABE_ITO)], LINE_STYLES[index % len(LINE_STYLES)]
        ax.step(grid, [m for m, _ in stats], where="post", color=colour, linestyle=style, label=label)
        ax.fill_between(grid, [m - (se or 0) for m, se in stats], [m + (se or 0) for m, se in stats],
                        step="post", color=colour, alpha=0.15, linewidth=0)
    ax.set_xlabel("training epochs spent (all trials, stopped and failed ones included)")
    ax.set_ylabel("best search value so far")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    ax.set_title("mean over search seeds, band: ±1 standard error", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def report(args: argparse.Namespace, runs: Path) -> dict:
    """Numbers per configuration, the paired comparison, the target's verdict; written as md and json."""
    models = {m["key"]: m for m in json.loads((runs / "compare" / "comparison.json").read_text())["models"]}
    rows = {}
    for controller, scheduler in CONFIGS:
        per_seed = []
        for seed in range(args.seeds):
            name = name_of(controller, scheduler, seed)
            numbers = search_numbers(runs / name)
            model = models[f"cell-{name}"]
            numbers["test_top1"] = model["top1"]["mean"]
            numbers["test_mean_top1"] = model["mean_top1"]["mean"]
            per_seed.append(numbers)
        rows[f"{controller}+{scheduler}"] = per_seed
    summary = {label: {k: mean_se([s[k] for s in seeds])
                       for k in ("epochs", "best_value", "test_top1", "test_mean_top1", "trial_hours")}
               for label, seeds in rows.items()}
    versus = {}
    for metric in ("test_top1", "test_mean_top1", "best_value"):
        a = [s[metric] for s in rows["gp_bandit+asha"]]
        b = [s[metric] for s in rows["gp_bandit+fifo"]]
        versus[metric] = paired(a, b).as_dict()
    ratio = summary["gp_bandit+asha"]["epochs"][0] / summary["gp_bandit+fifo"]["epochs"][0]
    fifo_mean, fifo_se = summary["gp_bandit+fifo"]["test_mean_top1"]
    asha_mean = summary["gp_bandit+asha"]["test_mean_top1"][0]
    within = fifo_se is not None and asha_mean >= fifo_mean - fifo_se
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    m = machine()
    result = {"settings": settings, "git_commit": git_commit(),
              "machine": f"{m['cpus']} CPUs ({m['cpu_capability']}), {len(m['gpus'])} GPUs, torch {m['torch']}, "
                         f"Python {m['python']}",
              "per_search": rows, "summary": summary, "asha_vs_fifo_gp_bandit": versus, "epoch_ratio": ratio,
              "target_met": bool(within and ratio <= 1 / 3),
              "baselines_test_mean_top1": {k: models[k]["mean_top1"]["mean"] for k in ("backbone", "nonlocal") if k in models}}
    (runs / "fidelity.json").write_text(json.dumps(result, indent=2) + "\n")
    figure(rows, runs / "best_vs_epochs.png")
    (runs / "fidelity.md").write_text(markdown(result))
    print(markdown(result))
    return result


def fmt(pair: tuple[float, float | None], scale: float = 1.0, digits: int = 4) -> str:
    """'mean ± se' of a (mean, se) pair."""
    mean, se = pair
    return f"{scale * mean:.{digits}f} ± {scale * se:.{digits}f}" if se is not None else f"{scale * mean:.{digits}f}"


def markdown(result: dict) -> str:
    """The report as a markdown page."""
    s = result["settings"]
    lines = [f"# Best cell versus epochs spent ({s['seeds']} search seeds x {s['trials']} trials, "
             f"{s['workers']} workers; proxy {s['num_videos']} videos, {s['epochs']} epochs; ASHA grace "
             f"{s['grace_period']}, reduction factor {s['reduction_factor']}; retrained with {s['retrain_seeds']} seeds)",
             "", "Made by `python benchmarks/fidelity.py " + " ".join(
                 f"--{k.replace('_', '-')} {v}" for k, v in s.items() if k != "steps") + "`",
             f"at commit {result['git_commit']} on {result['machine']}. Mean ± SE over search seeds.", "",
             "| configuration | epochs spent | trial-hours | best search value | retrained test top-1 (%) "
             "| retrained test top-1 over epochs (%) |",
             "|---|---|---|---|---|---|"]
    for label, row in result["summary"].items():
        lines.append(f"| {label} | {fmt(row['epochs'], digits=1)} | {fmt(row['trial_hours'], digits=2)} | "
                     f"{fmt(row['best_value'])} | {fmt(row['test_top1'], 100, 1)} | {fmt(row['test_mean_top1'], 100, 1)} |")
    lines += ["", "gp_bandit+asha minus gp_bandit+fifo, paired by search seed:", ""]
    for metric, test in result["asha_vs_fifo_gp_bandit"].items():
        se = f" ± {test['se']:.4f}" if test["se"] is not None else ""
        lines.append(f"- {metric}: {test['mean']:+.4f}{se} (paired t p {p_text(test['t_p'])})")
    lines += ["", f"Epochs of gp_bandit+asha / gp_bandit+fifo: {result['epoch_ratio']:.2f}. Target (retrained test "
              f"top-1 over epochs within one SE of fifo's, with at most a third of the epochs): "
              f"{'met' if result['target_met'] else 'not met'}.",
              "", "Retrained baselines, test top-1 over epochs: " + ", ".join(
                  f"{k} {100 * v:.1f}" for k, v in result["baselines_test_mean_top1"].items()) + "."]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Parse the options and run the steps."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--num-videos", type=int, default=600)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--grace-period", type=int, default=1)
    parser.add_argument("--reduction-factor", type=float, default=3.0)
    parser.add_argument("--retrain-seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--steps", default="searches,retrain,report")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    steps = args.steps.split(",")
    for step, work in (("searches", searches), ("retrain", retrain), ("report", report)):
        if step in steps:
            started = time.time()
            work(args, args.out)
            print(f"step {step}: {time.time() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
