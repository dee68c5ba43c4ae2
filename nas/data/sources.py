"""One entry point for the data a run trains on: the synthetic dataset or a folder of videos.

``stage="train"`` gives train / val / test (test if the folder has one); ``stage="search"``
gives search_train / search_val, carved from the training videos, and no test split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from torch.utils.data import Dataset

from nas.data.synthetic import SyntheticConfig, make_synthetic, time_reversed_pairs
from nas.data.video_folder import ClipSampling, VideoFolder
from nas.errors import UserError

STAGES = {"train": ("train", "val", "test"), "search": ("search_train", "search_val", None)}


@dataclass
class DataSplits:
    """The datasets of one run, the class names and the time-reversed class pairs among them."""

    train: Dataset
    val: Dataset
    test: Dataset | None
    classes: tuple[str, ...]
    pairs: tuple[tuple[int, int], ...] = field(default=())
    skipped: int = 0  # listed videos that are missing or cannot be opened
    match_pairs: tuple[tuple[int, int], ...] = field(default=())  # synthetic relational classes (same colour or not)


def open_data(
    source: str,
    stage: str = "train",
    synthetic: SyntheticConfig = SyntheticConfig(),
    sampling: ClipSampling = ClipSampling(),
    eval_sampling: ClipSampling = ClipSampling(mode="full"),
    seed: int = 0,
    backend: str = "pyav",
) -> DataSplits:
    """``source`` "synthetic" (generated from `synthetic`) or a folder with ``<split>.csv`` files.

    `backend` decodes the folder's videos: "pyav" or "decord" (see `nas.data.decoders`).
    """
    if stage not in STAGES:
        raise UserError(f"unknown stage {stage!r} (stages: {', '.join(STAGES)})")
    train_name, val_name, test_name = STAGES[stage]
    if source == "synthetic":
        data = make_synthetic(synthetic)
        test = data[test_name] if test_name else None
        return DataSplits(data[train_name], data[val_name], test, data.classes, data.pairs, match_pairs=data.match_pairs)
    root = Path(source)
    if not root.is_dir():
        raise UserError(f"--data must be 'synthetic' or a folder of videos; not found: {source}")
    train = VideoFolder(root, f"{train_name}.csv", sampling=sampling, seed=seed, backend=backend)
    val = VideoFolder(root, f"{val_name}.csv", train.classes, eval_sampling, seed, backend)
    has_test = test_name is not None and (root / f"{test_name}.csv").is_file()
    test = VideoFolder(root, f"{test_name}.csv", train.classes, eval_sampling, seed, backend) if has_test else None
    skipped = 0
    for dataset in (train, val, test):
        if dataset is not None:
            skipped += dataset.verify() + len(dataset.missing)
    return DataSplits(train, val, test, train.classes, time_reversed_pairs(train.classes), skipped)
