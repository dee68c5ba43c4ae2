"""Synthetic video datasets made from scikit-learn's bundled digit images and coloured squares: two tasks.

``relations`` (the default, `nas.data.relations`): whether two squares in opposite corners
have the same colour, a relation the tiny backbone cannot compute and attention can, plus
colour classes and a time-reversed motion pair.  ``motion``: the motion classes below, which
the tiny backbone's 3D convolutions solve on their own.  benchmarks/objective_signal.py
measures how much of a trial's score the cell explains on each (results/signal.md).

The motion task: in the spirit of Something-Something, most classes come in pairs that differ only by the
direction of time: a clip of the second class of a pair *is* a clip of the first class played
backwards (``move_right``/``move_left``, ``move_down``/``move_up``, ``grow``/``shrink``,
``fade_in``/``fade_out``, ``approach``/``separate``).  Both classes of a pair therefore have
exactly the same distribution of frames, so a model blind to frame order (per-frame features
averaged over time) is at chance within every pair.  Two distractor classes, ``static`` (a
digit that does not move) and ``noise`` (no digit at all), keep "there is a digit" from
being an answer.

Every video is drawn from its own random generator seeded by (seed, split, index), so a
video does not change when the dataset grows.  The digit images are split by their index in
scikit-learn's set (index mod 5: 0-2 train, 3 val, 4 test), so validation and test clips show handwriting
the training clips never show.  The search splits (search_train / search_val) are carved from
the training videos: a search never sees validation videos (AttentionNAS, supplementary B.3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from nas.data.clips import ClipDataset
from nas.data.relations import COLOR_CLASSES, MATCH_PAIRS, RELATIONAL_MOTIONS
from nas.data.render import SpriteTrack, compose
from nas.errors import UserError

TIME_REVERSED = (
    ("move_right", "move_left"),
    ("move_down", "move_up"),
    ("grow", "shrink"),
    ("fade_in", "fade_out"),
    ("approach", "separate"),
)
DISTRACTORS = ("static", "noise")
CLASSES = tuple(name for pair in TIME_REVERSED for name in pair) + DISTRACTORS  # the motion task
MAX_BYTES = 16 * 2**30
"""The most memory a synthetic dataset may take (it is generated and held as float32 clips)."""
SPLITS = ("train", "val", "test", "search_train", "search_val")
_SPLIT_CODES = {"train": 0, "val": 1, "test": 2}  # search splits are views of train
_DIGIT_POOLS = {"train": (0, 1, 2), "val": (3,), "test": (4,)}  # digit image index mod 5


@dataclass(frozen=True)
class Task:
    """One synthetic task: its classes, its time-reversed pairs and how each clip is drawn.

    ``motions[name]`` draws the forward clip of every class that is not the second class of a
    time-reversed pair; that class's clip is its partner's played backwards.
    """

    classes: tuple[str, ...]
    time_reversed: tuple[tuple[str, str], ...]
    motions: dict[str, "Motion"]
    min_frames: int = 2
    gray_background: bool = False  # backgrounds of one random grey level instead of a random colour


@dataclass(frozen=True)
class SyntheticConfig:
    """Task, size and seed of the synthetic dataset (defaults: the search proxy)."""

    num_videos: int = 1800  # train + val + test
    frames: int = 4  # T
    size: int = 32  # H = W
    seed: int = 0
    task: str = "relations"  # a name in TASKS
    val_fraction: float = 0.15  # of num_videos
    test_fraction: float = 0.15  # of num_videos
    search_val_fraction: float = 0.25  # of the training videos
    noise: float = 0.04  # standard deviation of per-pixel noise (the noise class uses 3x)

    def validate(self) -> "SyntheticConfig":
        """Raise `UserError` for sizes that cannot make a dataset; return self."""
        if self.task not in TASKS:
            raise UserError(f"synthetic data: unknown task {self.task!r} (tasks: {', '.join(TASKS)})")
        if self.frames < TASKS[self.task].min_frames:
            minimum = TASKS[self.task].min_frames
            raise UserError(f"synthetic data: frames must be at least {minimum} for task {self.task!r} (got {self.frames})")
        if self.size < 8:
            raise UserError(f"synthetic data: size must be at least 8 pixels (got {self.size})")
        for name in ("val_fraction", "test_fraction", "search_val_fraction"):
            if not 0 < getattr(self, name) < 1:
                raise UserError(f"synthetic data: {name} must be between 0 and 1 (got {getattr(self, name)})")
        if not 0 <= self.noise <= 1:
            raise UserError(f"synthetic data: noise must be between 0 and 1 (got {self.noise})")
        if min(self.split_sizes().values()) < 1:
            raise UserError(f"synthetic data: {self.num_videos} videos leave a split empty: {self.split_sizes()}")
        need = self.num_videos * self.frames * self.size * self.size * 3 * 4  # float32 clips, held in memory
        if need > MAX_BYTES:
            raise UserError(f"synthetic data: {self.num_videos} videos of {self.frames} frames of {self.size}x{self.size} "
                            f"need {need / 2**30:.1f} GiB in memory, more than the {MAX_BYTES / 2**30:.0f} GiB limit")
        return self

    def split_sizes(self) -> dict[str, int]:
        """Number of videos in each split."""
        val = int(round(self.num_videos * self.val_fraction))
        test = int(round(self.num_videos * self.test_fraction))
        train = self.num_videos - val - test
        search_val = int(round(train * self.search_val_fraction))
        return {"train": train, "val": val, "test": test, "search_train": train - search_val, "search_val": search_val}


@dataclass
class SyntheticSplits:
    """The five splits of one synthetic dataset, its class names and its time-reversed pairs."""

    splits: dict[str, ClipDataset]
    classes: tuple[str, ...] = CLASSES
    pairs: tuple[tuple[int, int], ...] = field(default_factory=lambda: time_reversed_pairs(CLASSES))
    match_pairs: tuple[tuple[int, int], ...] = ()  # classes that differ only by a relation (same colour or not)

    def __getitem__(self, split: str) -> ClipDataset:
        if split not in self.splits:
            raise UserError(f"unknown split {split!r} (splits: {', '.join(self.splits)})")
        return self.splits[split]


def make_synthetic(config: SyntheticConfig = SyntheticConfig(), splits: Sequence[str] = SPLITS) -> SyntheticSplits:
    """Generate the `splits` of the dataset described by `config` (deterministic for its seed).

    Only the base splits that `splits` need are rendered (the search splits need only
    "train"); a split's videos are the same whichever other splits are asked for, because
    every video has its own generator (see the module docstring).
    """
    config.validate()
    unknown = [name for name in splits if name not in SPLITS]
    if unknown or not splits:
        raise UserError(f"unknown split {unknown[0]!r} (splits: {', '.join(SPLITS)})" if unknown
                        else "make_synthetic: no split asked for")
    sizes = config.split_sizes()
    needed = {name if name in _SPLIT_CODES else "train" for name in splits}
    base = {split: render_split(config, split, sizes[split]) for split in _SPLIT_CODES if split in needed}
    if "train" in base:
        carve = sizes["search_train"]
        base["search_train"] = base["train"].subset(0, carve)
        base["search_val"] = base["train"].subset(carve, sizes["train"])
    task = TASKS[config.task]
    return SyntheticSplits({name: base[name] for name in SPLITS if name in splits}, task.classes,
                           _index_pairs(task.classes, task.time_reversed), _index_pairs(task.classes, MATCH_PAIRS))


def time_reversed_pairs(classes: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """Index pairs (a, b) of the classes that are each other's time reversal, by name."""
    return _index_pairs(classes, TIME_REVERSED)


def _index_pairs(classes: Sequence[str], named: Sequence[tuple[str, str]]) -> tuple[tuple[int, int], ...]:
    index = {name: i for i, name in enumerate(classes)}
    return tuple((index[a], index[b]) for a, b in named if a in index and b in index)


def render_split(config: SyntheticConfig, split: str, count: int, chunk: int = 64) -> ClipDataset:
    """The first `count` videos of base split `split` ("train", "val" or "test")."""
    classes = TASKS[config.task].classes
    clips = torch.empty(count, 3, config.frames, config.size, config.size, dtype=torch.uint8)  # (N, 3, T, H, W)
    labels = torch.arange(count) % len(classes)  # balanced classes
    for start in range(0, count, chunk):
        names = [classes[int(label)] for label in labels[start : start + chunk]]
        clips[start : start + len(names)] = render_videos(names, range(start, start + len(names)), split, config)
    return ClipDataset(clips, labels, classes)


def render_videos(names: Sequence[str], indices: Sequence[int], split: str, config: SyntheticConfig) -> torch.Tensor:
    """Videos `indices` of `split` with classes `names`: uint8 (B, 3, T, size, size).

    Each video draws everything random from its own generator seeded by (seed, split, index).
    """
    task = TASKS[config.task]
    reversed_of = {b: a for a, b in task.time_reversed}
    frames, size, digits = config.frames, config.size, _digit_pool(split)
    tracks, backgrounds, noise = [], np.empty((len(names), 3)), np.empty((len(names), frames, size, size, 3))
    for row, (name, index) in enumerate(zip(names, indices)):
        rng = np.random.default_rng([config.seed, _SPLIT_CODES[split], index])
        tracks.append(task.motions[reversed_of.get(name, name)](rng, digits, frames))
        backgrounds[row] = rng.uniform(0.0, 0.3) if task.gray_background else rng.uniform(0.0, 0.35, size=3)
        sigma = config.noise * (3 if name == "noise" else 1)
        noise[row] = rng.standard_normal((frames, size, size, 3), dtype=np.float32) * sigma
    clips = compose(tracks, frames, size, backgrounds, noise)  # (B, 3, T, size, size)
    backwards = torch.tensor([name in reversed_of for name in names])  # (B,)
    clips[backwards] = clips[backwards].flip(2)  # play the pair's forward clip backwards
    return clips


# --- motions: each draws the forward clip of a class (or pair) as sprite tracks ----------------


def _sprite(rng: np.random.Generator, digits: np.ndarray, frames: int, x, y, half, opacity=1.0) -> SpriteTrack:
    """A random digit of the pool, in a random bright colour, following the given ramps."""
    image = digits[rng.integers(len(digits))]
    return SpriteTrack.over(frames, image, rng.uniform(0.55, 1.0, size=3), x, y, half, opacity)


def _ramp(start: float, stop: float, frames: int) -> np.ndarray:
    return np.linspace(start, stop, frames)


def _move_right(rng, digits, frames):
    distance = rng.uniform(1.2, 1.6)
    x0 = rng.uniform(-0.8, 0.8 - distance)
    y0 = rng.uniform(-0.5, 0.5)
    drift = rng.uniform(-0.15, 0.15)
    x, y = _ramp(x0, x0 + distance, frames), _ramp(y0, y0 + drift, frames)
    return [_sprite(rng, digits, frames, x, y, rng.uniform(0.28, 0.38))]


def _move_down(rng, digits, frames):
    (track,) = _move_right(rng, digits, frames)
    return [SpriteTrack(track.image, track.color, track.center_y, track.center_x, track.half_size, track.opacity)]


def _grow(rng, digits, frames):
    x, y = rng.uniform(-0.35, 0.35, size=2)
    half = _ramp(rng.uniform(0.12, 0.18), rng.uniform(0.45, 0.55), frames)
    return [_sprite(rng, digits, frames, x, y, half)]


def _fade_in(rng, digits, frames):
    x, y = rng.uniform(-0.5, 0.5, size=2)
    opacity = _ramp(rng.uniform(0.0, 0.15), rng.uniform(0.85, 1.0), frames)
    return [_sprite(rng, digits, frames, x, y, rng.uniform(0.28, 0.38), opacity)]


def _approach(rng, digits, frames):
    half = rng.uniform(0.22, 0.3)
    left = _ramp(rng.uniform(-0.85, -0.7), rng.uniform(-0.25, -0.1), frames)
    right = _ramp(rng.uniform(0.7, 0.85), rng.uniform(0.1, 0.25), frames)
    y_left, y_right = rng.uniform(-0.5, 0.5, size=2)
    return [_sprite(rng, digits, frames, left, y_left, half), _sprite(rng, digits, frames, right, y_right, half)]


def _static(rng, digits, frames):
    x, y = rng.uniform(-0.5, 0.5, size=2)
    return [_sprite(rng, digits, frames, x, y, rng.uniform(0.28, 0.38), rng.uniform(0.6, 1.0))]


def _noise(rng, digits, frames):
    return []


Motion = Callable[[np.random.Generator, np.ndarray, int], list[SpriteTrack]]
_MOTIONS: dict[str, Motion] = {
    "move_right": _move_right,
    "move_down": _move_down,
    "grow": _grow,
    "fade_in": _fade_in,
    "approach": _approach,
    "static": _static,
    "noise": _noise,
}


def _relations_task() -> Task:
    pairs = (("move_right", "move_left"),)
    classes = tuple(name for pair in pairs + MATCH_PAIRS for name in pair) + COLOR_CLASSES
    motions = {"move_right": _move_right, **RELATIONAL_MOTIONS}
    return Task(classes, pairs, motions, min_frames=4, gray_background=True)


TASKS: dict[str, Task] = {
    "relations": _relations_task(),
    "motion": Task(CLASSES, TIME_REVERSED, _MOTIONS),
}
"""The synthetic tasks by name (`SyntheticConfig.task`)."""


@lru_cache(maxsize=None)
def _digit_pool(split: str) -> np.ndarray:
    """The digit images (n, 8, 8) in [0, 1] that videos of `split` may show."""
    images = _digit_images()  # (1797, 8, 8)
    keep = np.isin(np.arange(len(images)) % 5, _DIGIT_POOLS[split])
    images = images[keep]
    images.setflags(write=False)
    return images


def _digit_images() -> np.ndarray:
    """scikit-learn's bundled 8x8 digits (1797, 8, 8) in [0, 1], the same as ``load_digits().images / 16``.

    The bundled CSV is read directly when it is where scikit-learn keeps it, which spares the
    seconds of importing scikit-learn in every process that makes the dataset.
    """
    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            table = np.loadtxt(path, delimiter=",")  # (1797, 65): 64 pixels, then the digit
            return table[:, :64].reshape(-1, 8, 8) / 16.0
    from sklearn.datasets import load_digits

    return load_digits().images / 16.0
