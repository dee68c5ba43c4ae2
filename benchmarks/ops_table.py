"""results/ops.md: FLOPs, parameters and forward+backward time of every op kind, side by side.

Every op of the registry (default choices, plus a few telling variants) runs on the same
feature map, the paper's pre-processed map at I3D's 4a (C_reduction 120, T_group 8, 7 x 7) for
a batch of 8 temporal groups, with keys and values from the cell input.  FLOPs and parameters
come from `nas.ops.cost.op_flops` (the counter behind `nas flops --op`); the time of one
forward + backward pass is measured in this one run, the ops taking turns round after round
(so that a change of machine load hits all of them alike), and reported as the median over
the rounds, next to the plain dot-product op.  The page also carries the RSA memory
comparison of `benchmarks/rsa_memory.py`.

    python benchmarks/ops_table.py -o results/ops.md [--rounds 15] [--threads 1]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # rsa_memory, next to this file

from nas.flops import CONVENTION  # noqa: E402
from nas.io import atomic_write_text  # noqa: E402
from nas.ops import OPS, FeatureShape  # noqa: E402
from nas.ops.cost import op_flops, op_module  # noqa: E402

SHAPE = FeatureShape(120, 8, 7, 7)
BATCH = 8
REFERENCE = ("dot_product", {"dimension": "spatiotemporal"})
ROWS: list[tuple[str, dict[str, Any]]] = [
    ("dot_product", {"dimension": "temporal"}),
    ("dot_product", {"dimension": "spatial"}),
    REFERENCE,
    ("map", {"dimension": "spatiotemporal"}),
    ("aligned_temporal", {}),
    ("relational", {}),
    ("relational", {"window": "3x3x3"}),
    ("patch_shift", {}),
    ("patch_shift", {"attention": "temporal"}),
    ("channel_shift", {}),
    ("divided_st", {}),
    ("non_local", {}),
]
NOTES = """\
- FLOPs follow `nas flops` (`nas/flops.py`): {convention}; convolutions, matrix products,
  pooling and interpolation are counted, elementwise work (activations, normalisation,
  softmax, residual additions) and data movement (gathers, shifts) are not.
- `aligned_temporal`: the FLOPs include the cosine similarities of adjacent frames (one
  (HW x C)(C x HW) product per frame pair); the Hungarian assignment itself runs in scipy,
  outside aten, and is not a counted FLOP (O(T (HW)^3) per clip), but it is in the time.
  FLOPs are counted on fake tensors, where the op aligns with the identity permutation (the
  count does not depend on the permutation; `tests/test_flops.py` checks fake = real).
- `relational` runs its memory-saving form (Eq. 12); its H1, H2 and G act as window-sized 3D
  convolutions, so most of its FLOPs are "conv".  `python benchmarks/op_speed.py` compares it
  (and `aligned_temporal`) with the matmul limit and with its first implementation.
- `channel_shift` moves channels across frames and computes nothing: 0 FLOPs, no parameters.
- `non_local` is the embedded-Gaussian block with keys/values max-pooled 1x2x2 (pooling is
  counted, one FLOP per window element).
"""


def describe(choices: dict[str, Any]) -> str:
    """Choices as `name=value` (the resolved ones, defaults included)."""
    return ", ".join(f"{k}={v}" for k, v in choices.items()) or "-"


def step_seconds(module: torch.nn.Module, x: torch.Tensor, upstream: torch.Tensor) -> float:
    """One forward + backward pass, in seconds.  The backward pass gets a fixed random gradient,
    as inside a network: ``out.sum().backward()`` would hand every op a gradient with zero
    strides, on which CPU `torch.bmm`'s backward falls back to one product per matrix."""
    module.zero_grad(set_to_none=True)
    start = time.perf_counter()
    module(x).backward(upstream)
    return time.perf_counter() - start


def time_ops(rows: list[tuple[str, dict[str, Any]]], rounds: int) -> list[float]:
    """Median forward+backward seconds of each row, measured in turns (one warm-up round)."""
    torch.manual_seed(0)
    modules = [op_module(kind, choices, SHAPE) for kind, choices in rows]
    x = torch.randn(BATCH, SHAPE.channels, SHAPE.frames, SHAPE.height, SHAPE.width, requires_grad=True)
    upstream = torch.randn_like(x)
    times: list[list[float]] = [[] for _ in rows]
    for round_index in range(rounds + 1):
        for i, module in enumerate(modules):
            seconds = step_seconds(module, x, upstream)
            if round_index:
                times[i].append(seconds)
    return [statistics.median(t) for t in times]


def table(rounds: int) -> list[str]:
    """The markdown rows of the op table."""
    reports = [op_flops(kind, choices, SHAPE, BATCH) for kind, choices in ROWS]
    seconds = time_ops(ROWS, rounds)
    ref = ROWS.index(REFERENCE)
    lines = [
        "| op kind | choices | MFLOPs | conv | matmul | pool | params | fwd+bwd ms | FLOPs / dot-product | time / dot-product |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (kind, choices), report, sec in zip(ROWS, reports, seconds):
        cat = report.by_category
        lines.append(
            f"| `{kind}` | {describe(OPS.resolve_choices(kind, choices))} | {report.flops / 1e6:.1f} | {cat['conv'] / 1e6:.1f} "
            f"| {cat['matmul'] / 1e6:.1f} | {cat['pool'] / 1e6:.1f} | {report.params} | {sec * 1e3:.1f} "
            f"| {report.flops / reports[ref].flops:.2f} | {sec / seconds[ref]:.2f} |"
        )
    return lines


def rsa_section() -> list[str]:
    """The RSA memory comparison (benchmarks/rsa_memory.py at its defaults)."""
    import rsa_memory

    args = rsa_memory.parser().parse_args([])
    text = rsa_memory.report(args, rsa_memory.compare(args), rsa_memory.max_difference(args))
    return ["## RSA: memory-saving form vs direct form", "",
            "Also printed by `python benchmarks/rsa_memory.py` (same defaults); each form in a fresh process.", "",
            "```", text, "```"]  # fmt: skip


def page(rounds: int, threads: int) -> str:
    """The whole results/ops.md."""
    command = f"python benchmarks/ops_table.py -o results/ops.md --rounds {rounds} --threads {threads}"
    shape = f"{BATCH} x {SHAPE.channels} x {SHAPE.frames} x {SHAPE.height} x {SHAPE.width}"
    lines = [
        "# Op kinds: FLOPs, parameters and time",
        "",
        f"Made by `{command}` (nothing here is typed by hand).",
        "",
        f"Every op on the same feature map (B x C x T x H x W) = {shape}: the paper's pre-processing at I3D's 4a "
        "(480 / 4 channels, 8 frames, 7 x 7), 8 temporal groups, keys and values from the cell input. "
        f"MFLOPs ({CONVENTION}) by kind of work; time of one forward + backward pass, median of {rounds} rounds "
        f"in which the ops take turns, on {threads} thread(s) of a shared {platform.machine()} CPU "
        f"(torch {torch.__version__}); ratios against the plain dot-product op (spatiotemporal, softmax).",
        "",
        *table(rounds),
        "",
        NOTES.format(convention=CONVENTION),
        *rsa_section(),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-o", "--output", required=True, help="markdown file to write (results/ops.md)")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    atomic_write_text(args.output, page(args.rounds, args.threads))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
