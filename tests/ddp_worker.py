"""Train a small BatchNorm-free network on the synthetic data; run alone or under torchrun.

``python -m tests.ddp_worker OUT.pt`` (or ``torchrun --nproc_per_node 2 -m tests.ddp_worker OUT.pt``)
writes the trained weights and the per-epoch metrics from the main process.  The network has no
BatchNorm, whose per-process statistics on CPU (no SyncBatchNorm there) would make a
two-process run differ from a one-process run by more than rounding.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from nas.data import SyntheticConfig, make_synthetic
from nas.distributed import world_from_env
from nas.train import TrainConfig, seeded, train

DATA = SyntheticConfig(num_videos=40, frames=4, size=16, seed=2)
RECIPE = TrainConfig(epochs=2, batch_size=8, lr=0.05, warmup_epochs=0.5, device="cpu")


def small_net() -> nn.Module:
    """Conv3d -> ReLU -> global pool -> linear, weights drawn from seed 0."""
    with seeded(0):
        return nn.Sequential(
            nn.Conv3d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(8, 12)
        )


class CountingClips(Dataset):
    """A dataset that counts how many samples this process read."""

    def __init__(self, inner: Dataset) -> None:
        self.inner, self.reads = inner, 0

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, index: int):
        self.reads += 1
        return self.inner[index]


def run(out: str) -> None:
    """Train; the main process saves {"weights", "history"} to `out`, every process its read count."""
    data = make_synthetic(DATA)
    model, train_set = small_net(), CountingClips(data["train"])
    result = train(model, train_set, data["val"], RECIPE, pairs=data.pairs)
    world = world_from_env()
    Path(f"{out}.reads{world.rank}").write_text(str(train_set.reads))
    if world.is_main:
        torch.save({"weights": model.state_dict(), "history": result.history}, out)


if __name__ == "__main__":
    run(sys.argv[1])
