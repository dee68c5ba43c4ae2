"""Clip transforms on float clips (3, T, H, W): frame sampling, short-side resize, crops, flips."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def clip_indices(length: int, frames: int, stride: int, start: int) -> np.ndarray:
    """Frame indices ``start, start + stride, ...`` (`frames` of them); past the end, the last frame."""
    return np.minimum(start + stride * np.arange(frames), length - 1)


def clip_span(frames: int, stride: int) -> int:
    """How many consecutive frames a clip of `frames` frames taken every `stride` covers."""
    return (frames - 1) * stride + 1


def evenly_spaced_starts(length: int, span: int, count: int) -> list[int]:
    """`count` clip starts spread evenly over a video of `length` frames (clips of `span` frames)."""
    last = max(0, length - span)
    return [int(round(last * i / (count - 1))) if count > 1 else last // 2 for i in range(count)]


def to_float_clip(frames: np.ndarray) -> torch.Tensor:
    """uint8 frames (T, H, W, 3) -> float clip (3, T, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float().div_(255)


def resize_short_side(clip: torch.Tensor, short_side: int | None) -> torch.Tensor:
    """Bilinear resize of every frame so that min(H, W) == `short_side` (None: unchanged)."""
    _, t, h, w = clip.shape
    if short_side is None or min(h, w) == short_side:
        return clip
    scale = short_side / min(h, w)
    size = (max(1, int(round(h * scale))), max(1, int(round(w * scale))))
    frames = F.interpolate(clip.transpose(0, 1), size=size, mode="bilinear", align_corners=False, antialias=True)
    return frames.transpose(0, 1).contiguous()  # (3, T, H', W')


def crop(clip: torch.Tensor, size: int | None, top: int, left: int) -> torch.Tensor:
    """The `size` x `size` window at (top, left) of every frame (None: unchanged)."""
    if size is None:
        return clip
    return clip[:, :, top : top + size, left : left + size]


def center_crop(clip: torch.Tensor, size: int | None) -> torch.Tensor:
    """The central `size` x `size` window of every frame (None: unchanged)."""
    if size is None:
        return clip
    _, _, h, w = clip.shape
    return crop(clip, size, (h - size) // 2, (w - size) // 2)


def random_crop(clip: torch.Tensor, size: int | None, rng: np.random.Generator) -> torch.Tensor:
    """A random `size` x `size` window, the same for every frame (None: unchanged)."""
    if size is None:
        return clip
    _, _, h, w = clip.shape
    return crop(clip, size, int(rng.integers(h - size + 1)), int(rng.integers(w - size + 1)))


def hflip(clip: torch.Tensor) -> torch.Tensor:
    """Mirror every frame left-right."""
    return clip.flip(-1)
