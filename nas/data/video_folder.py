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
from nas.data.video_io import UnreadableVideo, count_frames, read_video
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
    """Videos of `root` listed in `annotations` (a CSV path, relative to `root` or absolute)."""

    def __init__(
        self,
        root: str | os.PathLike,
        annotations: str | os.PathLike,
        classes: Sequence[str] | None = None,
        sampling: ClipSampling = ClipSampling(),
        seed: int = 0,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise UserError(f"video folder not found: {self.root}")
        self.annotations = self.root / annotations
        self.sampling = sampling.validate()
        self.seed, self.epoch = seed, 0
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
                count_frames(entry.path)
                kept.append(entry)
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
        s = self.sampling
        span = T.clip_span(s.frames, s.stride)
        if s.mode == "full":
            clip = T.to_float_clip(read_video(entry.path)[:: s.stride])  # (3, T_video, H, W)
            return T.resize_short_side(clip, s.short_side)
        if s.mode == "clips":
            video = read_video(entry.path)
            starts = T.evenly_spaced_starts(len(video), span, s.clips)
            clips = [self._shape(video, start, rng=None) for start in starts]
            return torch.stack(clips)  # (K, 3, T, H, W)
        declared = count_frames(entry.path)
        if declared:  # decode only what the clip needs
            start = int(rng.integers(max(0, declared - span) + 1))
            video = read_video(entry.path, start, start + span)
            return self._shape(video, 0, rng, entry)
        video = read_video(entry.path)
        return self._shape(video, int(rng.integers(max(0, len(video) - span) + 1)), rng, entry)

    def _shape(self, video: np.ndarray, start: int, rng: np.random.Generator | None, entry: VideoEntry | None = None):
        """Frames from `start`, resized and cropped (randomly, and maybe flipped, when `rng` is given)."""
        s = self.sampling
        clip = T.to_float_clip(video[T.clip_indices(len(video), s.frames, s.stride, start)])  # (3, T, H, W)
        clip = T.resize_short_side(clip, s.short_side)
        if s.crop is not None and s.crop > min(clip.shape[2:]):
            raise UserError(f"crop {s.crop} is larger than the frames of {entry.path if entry else 'a video'}")
        if rng is None:
            return T.center_crop(clip, s.crop)
        clip = T.random_crop(clip, s.crop, rng)
        flip = s.flip == "on" or (s.flip == "safe" and not _DIRECTIONAL.search(self.classes[entry.label]))
        return T.hflip(clip) if flip and rng.random() < 0.5 else clip


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
