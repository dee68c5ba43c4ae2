"""Cost of differentiable search: a training step with SG-1 at every position vs the derived cells.

Prints, measured side by side in this one run:

1. the time per training step (forward, backward, SGD step) and the peak resident memory of
   the backbone with a supergraph at every insertion point, with the cells derived from it
   (alpha=3, beta=2, from its initial weights), and with no cells, and the ratios.  Each
   configuration runs in a fresh subprocess so that its peak memory (ru_maxrss) is its own.
   The paper's search took about 1.4x a full training.
2. one derived cell and one supergraph cell alone (forward + backward) at the first insertion
   point's feature map, with T_group/2 frames (I3D's 4a-4e with 16-frame clips: T = 4) and
   with T_group frames, unpadded (the shipped supergraphs' ``pad_short_maps: false``) and
   padded (the default of a genotype); an unpadded short map should cost at most what a
   T_group map costs, a padded one costs the same as a T_group map.

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

def median_time(step: Callable[[], None], repeats: int) -> float:
    """Median seconds of `step` over `repeats` calls after one warm-up call."""
    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def build(config: str, backbone: str, supergraph: str):
    """The model of `config` (backbone | derived | supergraph), seeded."""
    import torch

    from nas.models import build_model
    from nas.supergraph import build_supergraph_model, derive_model, load_supergraph

    torch.manual_seed(0)
    search = build_supergraph_model(backbone, load_supergraph(supergraph))
    if config == "supergraph":
        return search
    return build_model(backbone, derive_model(search, 3, 2) if config == "derived" else None)


def measure(config: str, args: argparse.Namespace) -> dict:
    """Run in a subprocess: build the model, time training steps, report peak RSS."""
    import torch

    model = build(config, args.backbone, args.supergraph)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    clips = torch.randn(args.batch, 3, args.frames, args.size, args.size)
    labels = torch.randint(0, 10, (args.batch,))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def step() -> None:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(clips), labels).backward()
        optimizer.step()

    seconds = median_time(step, args.steps)  # the warm-up step fills allocators and caches
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"step_s": seconds, "peak_mb": peak / 1024, "growth_mb": (peak - rss_before) / 1024}


def cells_by_frames(args: argparse.Namespace) -> dict:
    """Forward + backward seconds of one derived and one supergraph cell at short and T_group maps."""
    import torch

    from nas.cell import AttentionCell
    from nas.supergraph import SupergraphCell, derive_model, load_supergraph

    graph = load_supergraph(args.supergraph)
    derived_model = build("derived", args.backbone, args.supergraph)
    position, cell = next(iter(derived_model.inserted().items()))
    seen = []
    cell.register_forward_hook(lambda module, inputs, out: seen.append(tuple(inputs[0].shape)))
    with torch.no_grad():
        derived_model.eval()(torch.randn(1, 3, args.frames, args.size, args.size))
    _, channels, _, height, width = seen[0]
    genotype = derive_model(build("supergraph", args.backbone, args.supergraph), 3, 2).cells[position]
    t_group = graph.preprocess.frames
    results = {}
    for pad in (False, True):
        pre = dataclasses.replace(graph.preprocess, pad_short_maps=pad)
        torch.manual_seed(0)
        cells = {"derived": AttentionCell(dataclasses.replace(genotype, preprocess=pre), channels),
                 "supergraph": SupergraphCell(dataclasses.replace(graph, preprocess=pre), channels)}
        for name, module in cells.items():
            for frames in (max(1, t_group // 2), t_group):
                x = torch.randn(args.batch, channels, frames, height, width)
                results[(name, pad, frames)] = median_time(lambda: module(x).sum().backward(), args.steps)
    return {"position": position, "map": (args.batch, channels, height, width), "t_group": t_group,
            "seconds": {f"{n}|{p}|{t}": s for (n, p, t), s in results.items()}}


def print_steps(args: argparse.Namespace, results: dict) -> None:
    """Table 1: whole-model training steps."""
    import torch

    print(f"{args.backbone} backbone, batch {args.batch} x 3 x {args.frames} x {args.size} x {args.size}, "
          f"{args.supergraph}, median of {args.steps} steps, {torch.get_num_threads()} threads")
    print(f"{'model':<12}{'s/step':>10}{'peak MB':>10}{'step growth MB':>16}")
    for config, r in results.items():
        print(f"{config:<12}{r['step_s']:>10.3f}{r['peak_mb']:>10.0f}{r['growth_mb']:>16.0f}")
    sg, derived, alone = results["supergraph"], results["derived"], results["backbone"]
    print(f"supergraph / derived cells: {sg['step_s'] / derived['step_s']:.2f}x time per step, "
          f"{sg['peak_mb'] / derived['peak_mb']:.2f}x peak memory")
    print(f"supergraph / backbone: {sg['step_s'] / alone['step_s']:.2f}x; derived / backbone: "
          f"{derived['step_s'] / alone['step_s']:.2f}x time per step")


def print_cells(cells: dict) -> None:
    """Table 2: one cell alone at short and T_group maps, unpadded and padded."""
    n, c, h, w = cells["map"]
    t_group, short = cells["t_group"], max(1, cells["t_group"] // 2)
    print(f"one cell at {cells['position']} alone (forward + backward), maps ({n}, {c}, T, {h}, {w}), T_group {t_group}")
    print(f"{'cell':<12}{'short maps':<12}{f'T={short} s':>10}{f'T={t_group} s':>10}{'T=' + str(short) + ' / T=' + str(t_group):>12}")
    for name in ("derived", "supergraph"):
        for pad in (False, True):
            a, b = (cells["seconds"][f"{name}|{pad}|{t}"] for t in (short, t_group))
            print(f"{name:<12}{'padded' if pad else 'unpadded':<12}{a:>10.4f}{b:>10.4f}{a / b:>11.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backbone", default="tiny")
    parser.add_argument("--supergraph", default="supergraphs/sg1.yaml")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args) if args.child != "cells" else cells_by_frames(args)))
        return
    results = {}
    for config in ("backbone", "derived", "supergraph", "cells"):
        command = [sys.executable, __file__, "--child", config] + [
            f"--{name}={getattr(args, name)}" for name in ("backbone", "supergraph", "batch", "frames", "size", "steps")]
        out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)  # a child's errors show
        results[config] = json.loads(out.stdout.strip().splitlines()[-1])
    cells = results.pop("cells")
    print_steps(args, results)
    print_cells(cells)


if __name__ == "__main__":
    main()
