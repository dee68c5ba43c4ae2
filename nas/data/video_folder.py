"""A dataset over a folder of video files listed in a CSV annotation, decoded with PyAV.

The annotation is a CSV file of (path, label) rows, as Kinetics, Moments in Time and
Something-Something lists are distributed: either with a header naming a ``path`` and a
``label`` column (other columns are ignored) or without a header, path first and label second.
Paths are relative to the folder (or absolute); labels are class names.  The class list is, in
order of preference: the `classes` argument, the folder's ``classes.txt`` (one name a line),
or the sorted labels of the annotation.

Sampling (`ClipSampling`):
- ``mode="train"``: `frames` frames every `stride` frames from a random start, short side
  resized, a random square crop and a random horizontal flip.  ``flip="safe"`` never flips
  videos of classes whose names say left or right (flipping would change their meaning).
- ``mode="full"``: the whole video (every `stride`-th frame), short side resized, no crop: one
  fully convolutional pass per video, as AttentionNAS evaluates (videos differ in length, so
  they are batched as lists).
- ``mode="clips"``: `clips` evenly spaced clips of `frames` frames, centre-cropped:
  (K, 3, T, H, W) per video, whose scores the evaluation averages.

Decoding (`nas.data.decoders`): one open per read, seeking to the keyframe before the clip, and
only the clip's frames converted to RGB; resize, crop and flip happen on uint8 frames, and only
the final clip becomes float.  A video's frame count is cached per file (from `verify`'s header
read or the first decode), so a file without a declared count is counted once, not on every
read.  ``backend="decord"`` decodes with decord instead (optional, same frames).

Listed files that do not exist are skipped with one warning that counts them and names the first few; a
file that cannot be decoded (or has no frames) yields ``None`` with a warning and a count, so
`nas.data.collate_clips` drops it.  Augmentation draws from a generator seeded by
(seed, epoch, index), so it does not depend on worker processes and resumes exactly.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from nas.data import transforms as T
from nas.data.decoders import UnreadableVideo, check_backend, read_frames
from nas.data.video_io import count_frames
from nas.errors import UserError
from nas.io import read_text, short

log = logging.getLogger("nas.data")
SHOWN_MISSING = 3
"""Missing videos named in the one warning about them (the rest are counted)."""
MODES = ("train", "full", "clips")
FLIPS = ("on", "off", "safe")
_DIRECTIONAL = re.compile(r"left|right", re.IGNORECASE)


@dataclass(frozen=True)
class ClipSampling:
    """How clips are taken from a video and augmented."""

    mode: str = "train"  # "train" | "full" | "clips"
    frames: int = 16  # frames per clip (train, clips)
    stride: int = 1  # take every stride-th frame
    short_side: int | None = None  # resize frames so that min(H, W) is this; None keeps the size
    crop: int | None = None  # square crop (random in train, centre in clips); None: no crop
    flip: str = "safe"  # horizontal flips in train: "on", "off", or "safe" (never left/right classes)
    clips: int = 1  # clips per video in "clips" mode

    def validate(self) -> "ClipSampling":
        """Raise `UserError` for impossible settings; return self."""
        if self.mode not in MODES:
            raise UserError(f"sampling mode must be one of {', '.join(MODES)} (got {self.mode!r})")
        if self.flip not in FLIPS:
            raise UserError(f"flip must be one of {', '.join(FLIPS)} (got {self.flip!r})")
        if min(self.frames, self.stride, self.clips) < 1:
            raise UserError("frames, stride and clips must be at least 1")
        if self.crop is not None and self.short_side is not None and self.crop > self.short_side:
            raise UserError(f"crop {self.crop} is larger than the short side {self.short_side}")
        return self


@dataclass(frozen=True)
class VideoEntry:
    """One annotated video: its file, class index and the annotation line it came from."""

    path: Path
    label: int
    line: int


class VideoFolder(Dataset):
    """Videos of `root` listed in `annotations` (a CSV path, relative to `root` or absolute).

    `backend`: the decoder, "pyav" (the default) or "decord" (when installed).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        annotations: str | os.PathLike,
        classes: Sequence[str] | None = None,
        sampling: ClipSampling = ClipSampling(),
        seed: int = 0,
        backend: str = "pyav",
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise UserError(f"video folder not found: {self.root}")
        self.annotations = self.root / annotations
        self.sampling = sampling.validate()
        self.backend = check_backend(backend)
        self.seed, self.epoch = seed, 0
        self.lengths: dict[Path, int] = {}  # frames of each video read so far (or declared in its header)
        rows = read_annotations(self.annotations)
        self.classes = tuple(classes) if classes is not None else load_classes(self.root, rows)
        self.entries, self.missing = self._entries(rows)
        self.unreadable: list[tuple[Path, str]] = []
        if not self.entries:
            raise UserError(f"{self.annotations}: no videos to read ({len(self.missing)} listed files are missing)")

    def _entries(self, rows: list[tuple[int, str, str]]) -> tuple[list[VideoEntry], list[tuple[int, Path]]]:
        index = {name: i for i, name in enumerate(self.classes)}
        entries, missing = [], []
        for line, path, label in rows:
            if label not in index:
                raise UserError(f"{self.annotations} line {line}: unknown class {label!r}")
            full = Path(path) if Path(path).is_absolute() else self.root / path
            if not full.is_file():
                missing.append((line, full))
                continue
            entries.append(VideoEntry(full, index[label], line))
        if missing and entries:  # with no video left the caller refuses in one line instead
            shown = "; ".join(f"line {line}: {path}" for line, path in missing[:SHOWN_MISSING])
            more = f" and {len(missing) - SHOWN_MISSING} more" if len(missing) > SHOWN_MISSING else ""
            log.warning("%s: skipped %d missing videos of %d listed (%s%s)", self.annotations, len(missing), len(rows),
                        shown, more)
        return entries, missing

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def labels(self) -> list[int]:
        """The class index of every video."""
        return [entry.label for entry in self.entries]

    def set_epoch(self, epoch: int) -> None:
        """Draw this epoch's augmentation (called by the training loop before each epoch)."""
        self.epoch = epoch

    def verify(self) -> int:
        """Open every file's header; drop (with a warning each) those that cannot be opened.

        Returns how many were dropped.  Decoding errors found later are still skipped at read time.
        """
        kept = []
        for entry in self.entries:
            try:
                declared = count_frames(entry.path)
                kept.append(entry)
                if declared:
                    self.lengths[entry.path] = declared
            except UnreadableVideo as exc:
                self._unreadable(entry, str(exc))
        dropped = len(self.entries) - len(kept)
        self.entries = kept
        if not kept:
            raise UserError(f"{self.annotations}: none of the listed videos can be read")
        return dropped

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int] | None:
        entry = self.entries[index]
        try:
            clip = self._clip(entry, np.random.default_rng([self.seed, self.epoch, index]))
        except UnreadableVideo as exc:
            self._unreadable(entry, str(exc))
            return None
        return clip, entry.label

    def _unreadable(self, entry: VideoEntry, reason: str) -> None:
        self.unreadable.append((entry.path, reason))
        log.warning("unreadable video %s (line %d): %s (skipped; %d so far)", entry.path, entry.line, reason,
                    len(self.unreadable))

    def _clip(self, entry: VideoEntry, rng: np.random.Generator) -> torch.Tensor:
        plan: list[np.ndarray] = []  # the frame indices of each clip, drawn once the length is known

        def choose(length: int) -> np.ndarray:
            plan.extend(self._plan(length, rng))
            return np.unique(np.concatenate(plan))

        frames = read_frames(entry.path, choose, self.backend, self.lengths.get(entry.path))
        self.lengths[entry.path] = frames.length
        decoded = T.frames_tensor(frames.images)  # (T_decoded, 3, H, W) uint8
        wanted = np.unique(np.concatenate(plan))
        clips = [self._shape(_take(decoded, np.searchsorted(wanted, indices)), rng, entry) for indices in plan]
        return clips[0] if self.sampling.mode != "clips" else torch.stack(clips)  # (3, T, H, W) or (K, 3, T, H, W)

    def _plan(self, length: int, rng: np.random.Generator) -> list[np.ndarray]:
        """The frame indices of each clip of a video of `length` frames (one clip unless mode is "clips")."""
        s = self.sampling
        if s.mode == "full":
            return [np.arange(0, length, s.stride)]
        span = T.clip_span(s.frames, s.stride)
        if s.mode == "clips":
            starts = T.evenly_spaced_starts(length, span, s.clips)
        else:
            starts = [int(rng.integers(max(0, length - span) + 1))]
        return [T.clip_indices(length, s.frames, s.stride, start) for start in starts]

    def _shape(self, frames: torch.Tensor, rng: np.random.Generator, entry: VideoEntry) -> torch.Tensor:
        """uint8 frames (T, 3, H, W) resized, cropped (randomly, maybe flipped, in train) -> float (3, T, H', W')."""
        s = self.sampling
        frames = T.resize_short_side(frames, s.short_side)  # (T, 3, H', W')
        if s.mode == "full":
            return T.to_float_clip(frames)
        if s.crop is not None and s.crop > min(frames.shape[-2:]):
            raise UserError(f"crop {s.crop} is larger than the frames of {entry.path}")
        if s.mode == "clips":
            return T.to_float_clip(T.center_crop(frames, s.crop))
        frames = T.random_crop(frames, s.crop, rng)
        flip = s.flip == "on" or (s.flip == "safe" and not _DIRECTIONAL.search(self.classes[entry.label]))
        return T.to_float_clip(T.hflip(frames) if flip and rng.random() < 0.5 else frames)


def _take(frames: torch.Tensor, positions: np.ndarray) -> torch.Tensor:
    """frames[positions] along T, without a copy when that is all of them in order."""
    if np.array_equal(positions, np.arange(len(frames))):
        return frames
    return frames[torch.from_numpy(positions)]  # (len(positions), 3, H, W)


def read_annotations(path: Path) -> list[tuple[int, str, str]]:
    """(line number, path, label) of every row of a (path, label) CSV, with or without a header."""
    text = read_text(path, "annotation file")
    try:
        rows = [(number, row) for number, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1)
                if any(c.strip() for c in row)]
    except csv.Error as exc:  # a field over the csv module's limit, a NUL byte, ...
        raise UserError(f"{path}: not a readable CSV ({exc})") from None
    if not rows:
        raise UserError(f"{path}: the annotation file is empty")
    header = [c.strip().lower() for c in rows[0][1]]
    columns = (0, 1)
    if "path" in header and "label" in header:
        columns, rows = (header.index("path"), header.index("label")), rows[1:]
    out = []
    for number, row in rows:
        if len(row) <= max(columns):
            raise UserError(f"{path} line {number}: expected a path and a label, got {short(row)}")
        out.append((number, row[columns[0]].strip(), row[columns[1]].strip()))
    if not out:
        raise UserError(f"{path}: the annotation file lists no videos")
    return out


def load_classes(root: Path, rows: list[tuple[int, str, str]]) -> tuple[str, ...]:
    """The folder's classes.txt, or the sorted distinct labels of `rows`."""
    listed = root / "classes.txt"
    if listed.is_file():
        names = [line.strip() for line in read_text(listed, "class list").splitlines() if line.strip()]
        if len(set(names)) != len(names):
            raise UserError(f"{listed}: a class is listed twice")
        return tuple(names)
    return tuple(sorted({label for _, _, label in rows}))
