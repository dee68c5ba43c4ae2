"""Memory of relational self-attention: the memory-saving form (Eq. 12) vs the direct form.

Runs one forward + backward pass of the `relational` op in each form, each in a fresh
subprocess, and prints the peak resident memory the pass adds (peak RSS during the pass minus
RSS just before it, Linux /proc, after a warm-up pass on a small input so that one-off library
set-up is not counted), the time of the pass, and the ratios; then checks in this
process that the two forms give the same output.  Default shape: the paper's window 5x7x7,
8 queries, at I3D 4a's pre-processed map (120 x 8 x 7 x 7), a batch of 4 temporal groups.

    python benchmarks/rsa_memory.py [--batch 4] [--channels 120] [--window 5x7x7] [--queries 8]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

FORMS = ("memory_saving", "direct")


def status_mb(field: str) -> float:
    """A memory field of /proc/self/status (VmRSS: now, VmHWM: peak), in MB (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> None:
    """Restart the peak-RSS count (VmHWM) from the current RSS (Linux >= 4.0).  ru_maxrss
    cannot be used: it keeps the peak of the parent process this one was forked from."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def build(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """The op (seed 0) and its inputs (seed 1) at the benchmark shape."""
    import torch

    from nas.ops import FeatureShape, OpConfig
    from nas.ops.relational import RelationalSelfAttention

    torch.manual_seed(0)
    shape = FeatureShape(args.channels, args.frames, args.size, args.size)
    choices = {"window": args.window, "queries": args.queries, "latent": 1.0}
    op = RelationalSelfAttention(OpConfig(shape, choices, "cell_input"))
    g = torch.Generator().manual_seed(1)
    size = (args.batch, args.channels, args.frames, args.size, args.size)
    return op, torch.randn(size, generator=g, requires_grad=True), torch.randn(size, generator=g)


def measure(form: str, args: argparse.Namespace) -> dict[str, float]:
    """In a subprocess: one forward + backward of `form`; memory it adds and its time."""
    op, x, f0 = build(args)
    run = op.forward if form == "memory_saving" else op.direct
    small = x.detach()[:1, :, :2, :3, :3].clone().requires_grad_()
    (run(small, f0[:1, :, :2, :3, :3]) * 1.0).sum().backward()  # warm-up: one-off library set-up is not the form's memory
    op.zero_grad(set_to_none=True)
    reset_peak()
    before = status_mb("VmRSS")
    start = time.perf_counter()
    (run(x, f0) * f0).sum().backward()
    seconds = time.perf_counter() - start
    return {"added_mb": status_mb("VmHWM") - before, "seconds": seconds}


def compare(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Measure both forms, each in its own subprocess."""
    results = {}
    for form in FORMS:
        command = [sys.executable, __file__, "--child", form] + [
            f"--{k}={v}" for k, v in vars(args).items() if k not in ("child",)
        ]
        out = subprocess.run(command, check=True, capture_output=True, text=True)
        results[form] = json.loads(out.stdout.strip().splitlines()[-1])
    return results


def max_difference(args: argparse.Namespace) -> float:
    """Largest |memory-saving - direct| over the output, in this process (float32)."""
    import torch

    op, x, f0 = build(args)
    with torch.no_grad():
        return (op(x, f0) - op.direct(x, f0)).abs().max().item()


def parser() -> argparse.ArgumentParser:
    """The benchmark's options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--channels", type=int, default=120)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, default=7)
    p.add_argument("--window", default="5x7x7")
    p.add_argument("--queries", type=int, default=8)
    p.add_argument("--child", help=argparse.SUPPRESS)
    return p


def report(args: argparse.Namespace, results: dict[str, dict[str, float]], difference: float) -> str:
    """The printed comparison."""
    saving, direct = results["memory_saving"], results["direct"]
    lines = [
        f"relational, window {args.window}, {args.queries} queries, "
        f"map {args.batch}x{args.channels}x{args.frames}x{args.size}x{args.size}, "
        "one forward + backward, each form in its own process",
        f"{'form':<16}{'added MB':>10}{'seconds':>10}",
        *(f"{form:<16}{r['added_mb']:>10.1f}{r['seconds']:>10.3f}" for form, r in results.items()),
        f"direct / memory-saving: {direct['added_mb'] / saving['added_mb']:.1f}x memory, "
        f"{direct['seconds'] / saving['seconds']:.1f}x time",
        f"max |memory-saving - direct| over the output (float32): {difference:.2e}",
    ]
    return "\n".join(lines)


def main() -> None:
    args = parser().parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args)))
        return
    print(report(args, compare(args), max_difference(args)))


if __name__ == "__main__":
    main()
