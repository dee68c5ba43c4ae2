"""Evaluation: loss, top-1/top-5 accuracy and time-reversed-pair accuracy of a classifier.

A batch may hold one clip per video (N, 3, T, H, W), several clips per video
(N, K, 3, T, H, W), whose softmax scores are averaged (multi-clip testing), or a list of
clips of different lengths, each classified in one fully convolutional pass (full-length
testing, as AttentionNAS evaluates).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from nas.data.clips import collate_clips
from nas.distributed import World, all_reduce_sum


@dataclass(frozen=True)
class EvalResult:
    """Metrics over the videos that could be read (`count` of them); accuracies in [0, 1]."""

    loss: float
    top1: float
    top5: float
    count: int
    pair_accuracy: float | None = None  # accuracy within time-reversed pairs, when pairs are given

    def as_dict(self, prefix: str = "") -> dict[str, float | int | None]:
        """The metrics as a flat dict, keys prefixed (``val_top1``...)."""
        names = ("loss", "top1", "top5", "count", "pair_accuracy")
        return {f"{prefix}{name}": getattr(self, name) for name in names}


def log_scores(model: nn.Module, clips: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
    """Log class probabilities (N, classes) for a batch of clips, multi-clip or full-length."""
    if isinstance(clips, list):
        return torch.cat([log_scores(model, clip[None]) for clip in clips])  # one pass per video
    if clips.dim() == 6:
        n, k = clips.shape[:2]
        probs = model(clips.flatten(0, 1)).float().softmax(dim=1)  # (N*K, classes)
        return probs.reshape(n, k, -1).mean(dim=1).clamp_min(1e-12).log()  # (N, classes)
    return model(clips).float().log_softmax(dim=1)  # (N, classes)


def topk_correct(scores: torch.Tensor, labels: torch.Tensor, k: int) -> int:
    """How many rows of `scores` (N, classes) have their label among the k highest scores."""
    k = min(k, scores.shape[1])
    return int((scores.topk(k, dim=1).indices == labels[:, None]).any(dim=1).sum())


def pair_counts(scores: torch.Tensor, labels: torch.Tensor, pairs: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """(correct, total) over the videos of paired classes, choosing only between the two classes.

    A video of class a in pair (a, b) counts as correct when its score for a beats its score
    for b, whatever the other classes score: a model blind to time's direction is at 1/2.
    """
    correct = total = 0
    for a, b in pairs:
        for mine, other in ((a, b), (b, a)):
            rows = labels == mine
            total += int(rows.sum())
            correct += int((scores[rows, mine] > scores[rows, other]).sum())
    return correct, total


@torch.no_grad()
def evaluate(
    model: nn.Module,
    dataset: Dataset,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    world: World = World(),
    pairs: Sequence[tuple[int, int]] = (),
    num_workers: int = 0,
) -> EvalResult:
    """Metrics of `model` on `dataset`; with several processes each takes a share, summed after."""
    was_training = model.training
    model.eval()
    shard = list(range(world.rank, len(dataset), world.size))
    loader = DataLoader(
        dataset, batch_size=batch_size, sampler=shard, collate_fn=collate_clips, num_workers=num_workers
    )
    totals = torch.zeros(6, dtype=torch.float64)  # loss sum, top-1, top-5, count, pair correct, pair total
    for clips, labels in loader:
        if len(labels) == 0:
            continue
        clips = clips.to(device) if isinstance(clips, torch.Tensor) else [c.to(device) for c in clips]
        scores = log_scores(model, clips).cpu()  # (N, classes)
        totals += torch.tensor(
            [
                float(F.nll_loss(scores, labels, reduction="sum")),
                topk_correct(scores, labels, 1),
                topk_correct(scores, labels, 5),
                len(labels),
                *pair_counts(scores, labels, pairs),
            ],
            dtype=torch.float64,
        )
    model.train(was_training)
    loss, top1, top5, count, pair_correct, pair_total = all_reduce_sum(totals, world).tolist()
    if count == 0:
        return EvalResult(float("nan"), float("nan"), float("nan"), 0)
    pair = pair_correct / pair_total if pair_total else None
    return EvalResult(loss / count, top1 / count, top5 / count, int(count), pair)
