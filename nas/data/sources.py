"""One entry point for the data a run trains on: the synthetic dataset or a folder of videos.

``stage="train"`` gives train / val / test (test if the folder has one); ``stage="search"``
gives search_train / search_val, carved from the training videos, and no test split (only the
synthetic training videos are rendered then).

`shared_data` is `open_data` made once per process for the same arguments: a search worker
runs trial after trial on the same data, and rendering it (or indexing and checking a folder)
again for every trial was a sixth of a trial's time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

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
        data = make_synthetic(synthetic, [name for name in STAGES[stage] if name])
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


def shared_data(source: str, *args: Any, **kwargs: Any) -> DataSplits:
    """`open_data` (same arguments), reused by later calls in this process with equal arguments.

    The datasets are shared, so a caller must not change them (training reads clips and sets
    a folder dataset's epoch before every epoch, which is all it does).  A folder is opened
    again when one of its annotation files changed (size or modification time); changes to
    the videos alone are not noticed within a process.
    """
    return _shared(source, _annotation_stamp(source), *args, **kwargs)


@lru_cache(maxsize=2)  # a worker serves one search, whose trials share one data set
def _shared(source: str, stamp: tuple, *args: Any, **kwargs: Any) -> DataSplits:
    return open_data(source, *args, **kwargs)


def _annotation_stamp(source: str) -> tuple:
    """(name, size, mtime) of a folder's annotation files; () for synthetic data."""
    if source == "synthetic" or not Path(source).is_dir():
        return ()
    stats = ((path.name, path.stat()) for path in sorted(Path(source).glob("*.csv")))
    return tuple((name, stat.st_size, stat.st_mtime_ns) for name, stat in stats)
