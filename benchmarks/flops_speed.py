"""How long FLOPs counting takes: every paper model at 250 x 256 x 256 on fake tensors, and
fake against real execution of the same model at a size a CPU can run.

    python benchmarks/flops_speed.py

Prints seconds per count and the real / fake time ratio measured side by side in one run
(no numbers here are asserted; tests never time anything).
"""

from __future__ import annotations

import time

from nas.flops import count_flops
from nas.models import build_model
from nas.space import load_genotype

PAPER_INPUT = (1, 3, 250, 256, 256)
SMALL_INPUT = (1, 3, 32, 112, 112)
CELL = "results/genotypes/gpb_fig_a_like.json"


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    cell = load_genotype(CELL)
    warmup, _ = timed(lambda: count_flops(build_model("tiny"), (1, 3, 8, 32, 32)))
    print(f"first count in a process (imports the fake-tensor machinery): {warmup:.2f} s")
    print(f"{'model':<16}{'paper-size count (s)':>22}{'GFLOPs':>10}{'small: fake (s)':>17}{'real (s)':>10}{'real/fake':>11}")
    for backbone in ("i3d", "s3d", "i3d_r50"):
        for label, extra in (("", {}), ("+NL", {"nonlocal_blocks": True}), ("+Cell", {"cells": cell})):
            model = build_model(backbone, num_classes=600, **extra)
            paper_time, report = timed(lambda: count_flops(model, PAPER_INPUT))
            fake_time, _ = timed(lambda: count_flops(model, SMALL_INPUT))
            real_time, _ = timed(lambda: count_flops(model, SMALL_INPUT, real=True))
            print(
                f"{backbone + label:<16}{paper_time:>22.2f}{report.gflops:>10.1f}"
                f"{fake_time:>17.2f}{real_time:>10.2f}{real_time / fake_time:>11.1f}"
            )


if __name__ == "__main__":
    main()
