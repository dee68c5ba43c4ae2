"""What every dataset of the project yields, and how clips are batched.

A sample is ``(clip, label)``: ``clip`` a float tensor (3, T, H, W) in [0, 1] (or
(K, 3, T, H, W) for K evaluation clips of one video), ``label`` an int.  A dataset may yield
``None`` for a video it could not read; `collate_clips` drops those.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch.utils.data import Dataset, default_collate


class ClipDataset(Dataset):
    """Clips held in memory as uint8 (N, 3, T, H, W) with integer labels (N,)."""

    def __init__(self, clips: torch.Tensor, labels: torch.Tensor, classes: Sequence[str]) -> None:
        if clips.dtype != torch.uint8 or clips.dim() != 5 or clips.shape[1] != 3:
            raise ValueError(f"clips must be uint8 (N, 3, T, H, W), got {tuple(clips.shape)} {clips.dtype}")
        if len(labels) != len(clips):
            raise ValueError(f"{len(clips)} clips but {len(labels)} labels")
        self.clips = clips
        self.labels = labels.long()
        self.classes = tuple(classes)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.clips[index].float().div_(255), int(self.labels[index])

    def subset(self, start: int, stop: int) -> "ClipDataset":
        """Videos ``start .. stop-1`` as a dataset sharing this one's memory."""
        return ClipDataset(self.clips[start:stop], self.labels[start:stop], self.classes)


Batch = tuple[torch.Tensor | list[torch.Tensor], torch.Tensor]


def collate_clips(samples: Sequence[tuple[torch.Tensor, int] | None]) -> Batch:
    """Stack clips of one shape into (N, ...); clips of different shapes stay a list.

    ``None`` samples (videos that could not be read) are dropped, so a batch may be empty:
    its clip list is then ``[]``.  Stacking goes through torch's `default_collate`, which in a
    DataLoader worker writes the batch straight into shared memory (no copy to send it).
    """
    kept = [s for s in samples if s is not None]
    labels = torch.tensor([label for _, label in kept], dtype=torch.long)  # (N,)
    clips = [clip for clip, _ in kept]
    if clips and all(c.shape == clips[0].shape for c in clips):
        return default_collate(clips), labels  # (N, 3, T, H, W) or (N, K, 3, T, H, W)
    return clips, labels
