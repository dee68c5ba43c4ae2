"""Training throughput of the proxy model with and without an attention cell, side by side.

Trains each model for one epoch of `--clips` synthetic clips at the dataset's default proxy
size with `nas.train.train` (the loop a search trial runs), interleaving the models over
`--rounds` rounds so that a busy machine slows them alike, and prints the median training
clips per second of each and its ratio to the backbone alone.

    python benchmarks/train_throughput.py [--clips 256] [--rounds 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from nas.data import SyntheticConfig, make_synthetic
from nas.models import build_model
from nas.space import load_genotype
from nas.train import TrainConfig, seeded, train

CELL = Path(__file__).resolve().parents[1] / "results" / "synthetic" / "temporal_dot_product.json"
MODELS = {
    "tiny": ("tiny", None),
    "tiny + temporal dot-product cell": ("tiny", CELL),
    "tiny2d": ("tiny2d", None),
}


def clips_per_second(backbone: str, cell: Path | None, train_set, val_set, batch_size: int) -> float:
    """Training clips per second over one epoch of `train_set` (evaluation time excluded)."""
    with seeded(0):
        model = build_model(backbone, load_genotype(str(cell)) if cell else None, num_classes=12)
    config = TrainConfig(epochs=1, batch_size=batch_size, warmup_epochs=0.0, device="cpu")
    return train(model, train_set, val_set, config).history[0]["clips_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=256, help="training clips per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=TrainConfig().batch_size)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (a search trial uses one core)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = SyntheticConfig(num_videos=int(args.clips / 0.7) + 20)
    data = make_synthetic(config)
    train_set, val_set = data["train"].subset(0, args.clips), data["val"].subset(0, 16)
    rates: dict[str, list[float]] = {name: [] for name in MODELS}
    for _ in range(args.rounds):
        for name, (backbone, cell) in MODELS.items():
            rates[name].append(clips_per_second(backbone, cell, train_set, val_set, args.batch_size))
    base = statistics.median(rates["tiny"])
    print(f"training throughput, clips of {config.frames}x{config.size}x{config.size}, batch {args.batch_size}, "
          f"{args.threads} thread(s), median of {args.rounds} rounds of {args.clips} clips:")
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"  {name:34s} {rate:7.1f} clips/s  ({rate / base:.2f}x tiny; "
              f"{args.clips / rate:.1f} s per epoch of {args.clips} clips)")


if __name__ == "__main__":
    main()
