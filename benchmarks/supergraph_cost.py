"""Cost of differentiable search: a training step with SG-1 at every position vs the derived cells.

Prints, measured side by side in this one run, the time per training step (forward, backward,
SGD step) and the peak resident memory of the tiny backbone with a supergraph at every
insertion point, with the cells derived from it (alpha=3, beta=2, from its initial weights),
and with no cells, and the ratios.  Each configuration runs in a fresh subprocess so that its
peak memory (ru_maxrss) is its own.  The paper's search took about 1.4x a full training.

    python benchmarks/supergraph_cost.py [--supergraph supergraphs/sg1.yaml] [--batch 8]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def measure(config: str, supergraph: str, batch: int, frames: int, size: int, steps: int) -> dict:
    """Run in a subprocess: build the model, time `steps` training steps, report peak RSS."""
    import torch

    from nas.models import build_model
    from nas.supergraph import build_supergraph_model, derive_model, load_supergraph

    torch.manual_seed(0)
    graph = load_supergraph(supergraph)
    search = build_supergraph_model("tiny", graph)
    model = {"supergraph": search, "derived": build_model("tiny", derive_model(search, 3, 2)), "backbone": build_model("tiny")}[config]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    clips = torch.randn(batch, 3, frames, size, size)
    labels = torch.randint(0, 10, (batch,))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for step in range(steps + 1):
        start = time.perf_counter()
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(clips), labels).backward()
        optimizer.step()
        if step:  # the first step warms up allocators and caches
            times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"step_s": sorted(times)[len(times) // 2], "peak_mb": peak / 1024, "growth_mb": (peak - rss_before) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--supergraph", default="supergraphs/sg1.yaml")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.supergraph, args.batch, args.frames, args.size, args.steps)))
        return
    results = {}
    for config in ("backbone", "derived", "supergraph"):
        out = subprocess.run(
            [sys.executable, __file__, "--child", config, "--supergraph", args.supergraph, "--batch", str(args.batch),
             "--frames", str(args.frames), "--size", str(args.size), "--steps", str(args.steps)],
            check=True, capture_output=True, text=True,
        )
        results[config] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"tiny backbone, batch {args.batch} x 3 x {args.frames} x {args.size} x {args.size}, {args.supergraph}, median of {args.steps} steps")
    print(f"{'model':<12}{'s/step':>10}{'peak MB':>10}{'step growth MB':>16}")
    for config, r in results.items():
        print(f"{config:<12}{r['step_s']:>10.3f}{r['peak_mb']:>10.0f}{r['growth_mb']:>16.0f}")
    sg, derived = results["supergraph"], results["derived"]
    print(f"supergraph / derived cells: {sg['step_s'] / derived['step_s']:.2f}x time per step, "
          f"{sg['peak_mb'] / derived['peak_mb']:.2f}x peak memory")


if __name__ == "__main__":
    main()
