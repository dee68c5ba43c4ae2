"""RSA and ATA against the matmul limit and against dot-product attention, old form vs new.

At I3D 4a's pre-processed map (8 temporal groups x 120 x 8 x 7 x 7, keys and values from the
cell input, as in `benchmarks/ops_table.py`) this times, in one run and taking turns round
after round (so that a change of machine load hits all of them alike), the median of:

- `relational` (RSA, default choices) as the library computes it now, and as it was first
  written (three convolutions with autograd's convolution backward, the c x D context formed
  per position: `first_rsa` below, kept here and in tests/test_relational.py only);
- `aligned_temporal` (ATA) now, and with the frame-by-frame alignment it was first written
  with (`first_alignment`, also in tests/test_aligned.py);
- spatiotemporal dot-product attention (softmax), the reference op;
- `torch.mm` of a square matrix with about RSA's FLOPs, which gives the machine's matmul rate.

The matmul limit of a pass is its FLOPs at that rate: the forward FLOPs counted by `nas.flops`
(multiply-add = 2), and three times them for forward + backward (each product's backward is two
products of its size).  "% of limit" = limit / time.  The backward pass gets a fixed random
upstream gradient, as inside a network: `out.sum().backward()` would hand every op a gradient
with zero strides, on which CPU `torch.bmm`'s backward falls back to one product per matrix.

    PYTHONPATH=. python benchmarks/op_speed.py [--rounds 9] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the first-written forms live with the tests that check them

from nas.ops import FeatureShape
from nas.ops.aligned import align, alignment, dealign
from nas.ops.cost import op_flops, op_module
from tests.first_forms import first_alignment, first_rsa

SHAPE, BATCH = FeatureShape(120, 8, 7, 7), 8


def first_ata(op: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """ATA's forward with the first alignment (keys and values from the input itself)."""
    perm = first_alignment(x)
    return dealign(op.temporal(align(x, perm), align(x, perm)), perm)


def mm_operands(flops: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Two square matrices whose product costs about `flops` (2 n^3)."""
    n = round((flops / 2) ** (1 / 3))
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(rounds: int) -> tuple[dict[str, float], dict[str, float]]:
    """Median seconds of every case (one warm-up round), and the forward FLOPs of every op."""
    torch.manual_seed(0)
    rsa, ata, dot = (op_module(kind, choices, SHAPE) for kind, choices in
                     (("relational", {}), ("aligned_temporal", {}), ("dot_product", {"dimension": "spatiotemporal"})))  # fmt: skip
    flops = {name: op_flops(kind, choices, SHAPE, BATCH).flops for name, kind, choices in
             (("rsa", "relational", {}), ("ata", "aligned_temporal", {}), ("dot", "dot_product", {"dimension": "spatiotemporal"}))}  # fmt: skip
    g = torch.Generator().manual_seed(1)
    x = torch.randn(BATCH, SHAPE.channels, SHAPE.frames, SHAPE.height, SHAPE.width, generator=g, requires_grad=True)
    upstream = torch.randn(x.shape, generator=g)
    a, b = mm_operands(flops["rsa"])
    flops["mm"] = 2 * a.shape[0] ** 3
    forwards = {
        "rsa new": lambda: rsa(x), "rsa first": lambda: first_rsa(rsa.op, x, x),
        "ata new": lambda: ata(x), "ata first": lambda: first_ata(ata.op, x),
        "dot": lambda: dot(x),
    }  # fmt: skip
    cases: dict[str, Callable[[], object]] = {"mm": lambda: a @ b}
    for name, forward in forwards.items():
        cases[name + " fwd"] = lambda f=forward: f()
        cases[name + " fwd+bwd"] = lambda f=forward: f().backward(upstream)
    cases["ata new alignment"] = lambda: alignment(x)
    cases["ata first alignment"] = lambda: first_alignment(x)
    times: dict[str, list[float]] = {name: [] for name in cases}
    with torch.no_grad():
        assert torch.equal(alignment(x), first_alignment(x)), "the alignments differ"
        flops["rsa |new - first|"] = (rsa(x) - first_rsa(rsa.op, x, x)).abs().max().item()
    for round_index in range(rounds + 1):
        for name, case in cases.items():
            seconds = timed(case) if "fwd" in name or name == "mm" else timed(lambda: torch.no_grad()(case)())
            if round_index:
                times[name].append(seconds)
    return {name: statistics.median(t) for name, t in times.items()}, flops


def report(seconds: dict[str, float], flops: dict[str, float], rounds: int, load: tuple[str, str]) -> str:
    """The printed comparison."""
    rate = flops["mm"] / seconds["mm"]  # FLOP/s of torch.mm
    lines = [
        f"I3D 4a map {BATCH}x{SHAPE.channels}x{SHAPE.frames}x{SHAPE.height}x{SHAPE.width}, keys/values from the cell input; "
        f"{torch.get_num_threads()} thread(s), {os.cpu_count()} CPUs shared with other jobs; torch {torch.__version__}; "
        f"median of {rounds} rounds; load average (1, 5, 15 min) before: {load[0]}, after: {load[1]}",
        f"matmul limit: torch.mm {int(round((flops['mm'] / 2) ** (1 / 3)))}^3 runs at {rate / 1e9:.1f} GFLOP/s; "
        "limit = forward FLOPs (x3 for forward + backward) at that rate",
        f"{'op':<12}{'form':<7}{'MFLOPs':>8}{'fwd ms':>9}{'% limit':>9}{'fwd+bwd ms':>12}{'% limit':>9}"
        f"{'time / dot (fwd+bwd)':>22}{'FLOPs / dot':>13}",
    ]
    for op, key in (("relational", "rsa"), ("aligned", "ata"), ("dot_product", "dot")):
        for form in ("first", "new") if key != "dot" else ("",):
            name = f"{key} {form}".strip()
            fwd, both, f = seconds[name + " fwd"], seconds[name + " fwd+bwd"], flops[key]
            lines.append(
                f"{op:<12}{form or '-':<7}{f / 1e6:>8.1f}{fwd * 1e3:>9.1f}{100 * f / rate / fwd:>8.0f}%{both * 1e3:>12.1f}"
                f"{100 * 3 * f / rate / both:>8.0f}%{both / seconds['dot fwd+bwd']:>22.2f}{f / flops['dot']:>13.2f}"
            )
    lines.append(f"RSA new / first: {seconds['rsa first fwd'] / seconds['rsa new fwd']:.2f}x faster forward, "
                 f"{seconds['rsa first fwd+bwd'] / seconds['rsa new fwd+bwd']:.2f}x faster forward + backward; "
                 f"max |new - first| over the output (float32): {flops['rsa |new - first|']:.1e}")  # fmt: skip
    for form in ("first", "new"):
        align_s = seconds[f"ata {form} alignment"]
        lines.append(
            f"ATA {form:<5} alignment {align_s * 1e3:6.1f} ms = {100 * align_s / seconds[f'ata {form} fwd']:4.0f}% of its forward, "
            f"{100 * align_s / seconds[f'ata {form} fwd+bwd']:4.0f}% of forward + backward "
            f"({BATCH * (SHAPE.frames - 1)} assignments of {SHAPE.height * SHAPE.width}x{SHAPE.height * SHAPE.width})"
        )
    lines.append("ATA alignments: new = first (same permutations)")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    before = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    seconds, flops = measure(args.rounds)
    after = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(report(seconds, flops, args.rounds, (before, after)))


if __name__ == "__main__":
    main()
