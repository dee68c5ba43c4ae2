"""Cost of differentiable search: a training step with SG-1 at every position vs the derived cells.

Prints, measured side by side in this one run:

1. the time per training step (forward, backward, SGD step) and the peak resident memory of
   the backbone alone, with the cells derived from SG-1 (alpha=3, beta=2, from its initial
   weights) and with SG-1 at every insertion point -- each of the last two also with maps
   shorter than T_group zero-padded (``pad_short_maps: true``, a genotype's default; the
   shipped supergraphs say false) -- and the ratios.  The paper's search took about 1.4x a
   full training.  The models' steps are interleaved round by round in one process, so that
   a machine whose load changes slows them alike; each peak memory (ru_maxrss) comes from a
   fresh subprocess of its own.
2. one derived cell and one supergraph cell alone (forward + backward) at the first insertion
   point's feature map, with T_group/2 frames (I3D's 4a-4e with 16-frame clips: T = 4) and
   with T_group frames, unpadded and padded, interleaved the same way.

    python benchmarks/supergraph_cost.py [--backbone tiny] [--supergraph supergraphs/sg1.yaml] [--batch 8]
    python benchmarks/supergraph_cost.py --backbone i3d --batch 2 --frames 16 --size 112 --steps 3
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's `nas`, not an installed one

MODELS = ("backbone", "derived", "supergraph", "derived padded", "supergraph padded")


def interleaved(steps: dict[str, Callable[[], None]], rounds: int) -> dict[str, float]:
    """Median seconds of every step, after one warm-up call each, taking turns round by round."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for name, step in steps.items():
        step()
    for _ in range(rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def build(name: str, args: argparse.Namespace):
    """The model `name` (one of MODELS), seeded."""
    import torch

    from nas.models import build_model
    from nas.supergraph import build_supergraph_model, derive_model, load_supergraph

    graph = load_supergraph(args.supergraph)
    if name.endswith("padded"):
        graph = dataclasses.replace(graph, preprocess=dataclasses.replace(graph.preprocess, pad_short_maps=True))
    torch.manual_seed(0)
    search = build_supergraph_model(args.backbone, graph)
    if name.startswith("supergraph"):
        return search
    return build_model(args.backbone, derive_model(search, 3, 2) if name.startswith("derived") else None)


def training_step(model, args: argparse.Namespace) -> Callable[[], None]:
    """One SGD step of `model` on a fixed random batch."""
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    clips = torch.randn(args.batch, 3, args.frames, args.size, args.size)
    labels = torch.randint(0, 10, (args.batch,))

    def step() -> None:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(clips), labels).backward()
        optimizer.step()

    return step


def peak_memory(name: str, args: argparse.Namespace) -> dict:
    """In a subprocess of its own: resident peak (MB) over two steps of model `name`."""
    step = training_step(build(name, args), args)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    step(), step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"peak_mb": peak / 1024, "growth_mb": (peak - before) / 1024}


def cell_steps(args: argparse.Namespace) -> tuple[str, tuple, int, dict[str, Callable[[], None]]]:
    """Forward + backward of a derived and a supergraph cell alone, at T_group/2 and T_group maps."""
    import torch

    from nas.cell import AttentionCell
    from nas.supergraph import SupergraphCell, derive_model, load_supergraph

    model = build("derived", args)
    position, cell = next(iter(model.inserted().items()))
    seen = []
    cell.register_forward_hook(lambda module, inputs, out: seen.append(tuple(inputs[0].shape)))
    with torch.no_grad():
        model.eval()(torch.randn(1, 3, args.frames, args.size, args.size))
    _, channels, _, height, width = seen[0]
    graph = load_supergraph(args.supergraph)
    genotype = derive_model(build("supergraph", args), 3, 2).cells[position]
    t_group, steps = graph.preprocess.frames, {}
    for pad in (False, True):
        pre = dataclasses.replace(graph.preprocess, pad_short_maps=pad)
        torch.manual_seed(0)
        cells = {"derived": AttentionCell(dataclasses.replace(genotype, preprocess=pre), channels),
                 "supergraph": SupergraphCell(dataclasses.replace(graph, preprocess=pre), channels)}
        for name, module in cells.items():
            for frames in (max(1, t_group // 2), t_group):
                x = torch.randn(args.batch, channels, frames, height, width)
                steps[f"{name}|{pad}|{frames}"] = lambda m=module, x=x: m(x).sum().backward()
    return position, (args.batch, channels, height, width), t_group, steps


def report(args: argparse.Namespace, seconds: dict[str, float], memory: dict[str, dict], cells: tuple) -> None:
    """Print both tables and the ratios."""
    import torch

    print(f"{args.backbone}, batch {args.batch} x 3 x {args.frames} x {args.size} x {args.size}, {args.supergraph}, "
          f"median of {args.steps} interleaved rounds, {torch.get_num_threads()} threads")
    print(f"{'model':<20}{'s/step':>9}{'x backbone':>12}{'peak MB':>9}{'step growth MB':>16}")
    for name in MODELS:
        print(f"{name:<20}{seconds[name]:>9.3f}{seconds[name] / seconds['backbone']:>11.2f}x"
              f"{memory[name]['peak_mb']:>9.0f}{memory[name]['growth_mb']:>16.0f}")
    for suffix in ("", " padded"):
        sg, derived = "supergraph" + suffix, "derived" + suffix
        print(f"{sg} / {derived}: {seconds[sg] / seconds[derived]:.2f}x time per step, "
              f"{memory[sg]['peak_mb'] / memory[derived]['peak_mb']:.2f}x peak memory")
    position, (n, c, h, w), t_group, _ = cells
    short = max(1, t_group // 2)
    print(f"one cell at {position} alone (forward + backward), maps ({n}, {c}, T, {h}, {w}), T_group {t_group}")
    print(f"{'cell':<12}{'short maps':<12}{f'T={short} s':>10}{f'T={t_group} s':>10}{f'T={short} / T={t_group}':>12}")
    for name in ("derived", "supergraph"):
        for pad in (False, True):
            a, b = (seconds[f"{name}|{pad}|{t}"] for t in (short, t_group))
            print(f"{name:<12}{'padded' if pad else 'unpadded':<12}{a:>10.4f}{b:>10.4f}{a / b:>11.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backbone", default="tiny")
    parser.add_argument("--supergraph", default="supergraphs/sg1.yaml")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10, help="timed rounds (each model one step per round)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--memory-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_of:
        print(json.dumps(peak_memory(args.memory_of, args)))
        return
    flags = [f"--{name}={getattr(args, name)}" for name in ("backbone", "supergraph", "batch", "frames", "size", "threads")]
    memory = {}
    for name in MODELS:
        out = subprocess.run([sys.executable, __file__, "--memory-of", name, *flags], check=True, stdout=subprocess.PIPE, text=True)
        memory[name] = json.loads(out.stdout.strip().splitlines()[-1])
    seconds = interleaved({name: training_step(build(name, args), args) for name in MODELS}, args.steps)
    cells = cell_steps(args)
    seconds.update(interleaved(cells[3], args.steps))
    report(args, seconds, memory, cells)


if __name__ == "__main__":
    main()
