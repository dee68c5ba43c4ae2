"""Training-step time and peak memory of I3D at the paper's clip: alone, with non-local blocks,
with a cell, and with SG-1 at every insertion point, printed side by side as ratios to the
backbone alone.

On CUDA: the paper's training clip (64 x 224 x 224), bf16 autocast, and the largest batch from
--batch down (halving) at which the supergraph model, the largest of the four, trains; peak
memory is torch.cuda.max_memory_allocated.  Without a GPU: a small clip (8 x 64 x 64, batch 1)
in fp32; peak memory is the process's resident peak (ru_maxrss).  A step is forward,
cross-entropy, backward and an SGD step; every model runs in a fresh subprocess, so that its
peak is its own.  The cell is the benchmarks' paper-like cell (results/genotypes/gpb_fig_a_like.json,
one cell at 4a-4e).  Note that a genotype pads maps shorter than T_group unless it says
``pad_short_maps: false`` (the shipped supergraphs do), which small CPU clips make visible.

    python benchmarks/paper_scale.py                       # CUDA if present, else the small CPU clip
    python benchmarks/paper_scale.py --clip 16x112x112 --batch 2 --steps 3
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's `nas`, not an installed one

CELL = str(ROOT / "results" / "genotypes" / "gpb_fig_a_like.json")
SUPERGRAPH = str(ROOT / "supergraphs" / "sg1.yaml")
CONFIGS = ("backbone", "nonlocal", "cell", "sg1")


def build(config: str, backbone: str, classes: int):
    """The model of `config`, seeded."""
    import torch

    from nas.models import build_model
    from nas.space import load_genotype
    from nas.supergraph import build_supergraph_model, load_supergraph

    torch.manual_seed(0)
    if config == "sg1":
        return build_supergraph_model(backbone, load_supergraph(SUPERGRAPH), num_classes=classes)
    cells = load_genotype(CELL) if config == "cell" else None
    return build_model(backbone, cells, num_classes=classes, nonlocal_blocks=config == "nonlocal")


def measure(config: str, args: argparse.Namespace, batch: int) -> dict:
    """Median step seconds and peak memory (MB) of `config` at `batch` (raises on CUDA OOM)."""
    import torch

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    model = build(config, args.backbone, 400).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    frames, height, width = args.clip
    clips = torch.randn(batch, 3, frames, height, width, device=device)
    labels = torch.randint(0, 400, (batch,), device=device)

    def step() -> float:
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            logits = model(clips)  # (N, 400)
        torch.nn.functional.cross_entropy(logits.float(), labels).backward()
        optimizer.step()
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start

    step()  # warm-up: allocators, cuDNN algorithm choice
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    seconds = statistics.median(step() for _ in range(args.steps))
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"step_s": seconds, "peak_mb": peak, "device": torch.cuda.get_device_name() if cuda else "cpu",
            "threads": torch.get_num_threads()}


def child(args: argparse.Namespace) -> dict:
    """In a subprocess: measure one config, or report an out-of-memory."""
    import torch

    try:
        return measure(args.child, args, args.batch)
    except torch.cuda.OutOfMemoryError:
        return {"oom": True}


def run(config: str, args: argparse.Namespace, batch: int) -> dict:
    """Measure `config` at `batch` in a fresh subprocess."""
    clip = "x".join(map(str, args.clip))
    command = [sys.executable, __file__, "--child", config, "--backbone", args.backbone, "--clip", clip,
               "--batch", str(batch), "--steps", str(args.steps)]
    out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)  # a child's errors show
    return json.loads(out.stdout.strip().splitlines()[-1])


def clip_size(text: str) -> tuple[int, int, int]:
    """'64x224x224' -> (64, 224, 224)."""
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected FRAMESxHEIGHTxWIDTH, got {text!r}")
    return tuple(int(p) for p in parts)  # type: ignore[return-value]


def main() -> None:
    import torch

    cuda = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backbone", default="i3d")
    parser.add_argument("--clip", type=clip_size, default=(64, 224, 224) if cuda else (8, 64, 64), help="FRAMESxHEIGHTxWIDTH")
    parser.add_argument("--batch", type=int, default=8 if cuda else 1, help="on CUDA: the largest batch tried (halved on OOM)")
    parser.add_argument("--steps", type=int, default=5 if cuda else 3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    batch = args.batch
    results = {"sg1": run("sg1", args, batch)}
    while results["sg1"].get("oom") and batch > 1:  # the supergraph model needs the most memory
        batch //= 2
        results["sg1"] = run("sg1", args, batch)
    if results["sg1"].get("oom"):
        sys.exit("SG-1 does not fit at batch 1")
    for config in CONFIGS[:-1]:
        results[config] = run(config, args, batch)
    first = results["sg1"]
    precision = "bf16 autocast" if cuda else "fp32"
    print(f"{args.backbone}, clip {batch} x 3 x {'x'.join(map(str, args.clip))}, {first['device']}, {precision}, "
          f"{first['threads']} threads, median of {args.steps} steps (forward, backward, SGD)")
    print(f"{'model':<10}{'s/step':>10}{'x backbone':>12}{'peak MB':>10}{'x backbone':>12}")
    base = results["backbone"]
    for config in CONFIGS:
        r = results[config]
        if r.get("oom"):
            print(f"{config:<10}  out of memory at batch {batch}")
            continue
        print(f"{config:<10}{r['step_s']:>10.3f}{r['step_s'] / base['step_s']:>11.2f}x"
              f"{r['peak_mb']:>10.0f}{r['peak_mb'] / base['peak_mb']:>11.2f}x")


if __name__ == "__main__":
    main()
