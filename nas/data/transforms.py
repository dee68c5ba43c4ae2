"""Clip transforms: frame sampling, short-side resize, crops, flips, and the conversion to a float clip.

Decoded frames stay uint8 (T, 3, H, W) (a view of the decoder's (T, H, W, 3) arrays, so
channels-last in memory, the layout torch's uint8 resize is fastest on) through the resize, the
crop and the flip; `to_float_clip` then makes the (3, T, H, W) float clip in [0, 1] of the
cropped frames only.  Resizing in uint8 rounds each pixel to a whole level, so a clip differs
from resizing in float by at most about one level (1/255); without a resize the two are equal.
"""

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


def frames_tensor(images: np.ndarray) -> torch.Tensor:
    """Decoded uint8 images (T, H, W, 3) -> uint8 frames (T, 3, H, W), sharing their memory."""
    return torch.from_numpy(images).permute(0, 3, 1, 2)  # (T, 3, H, W), channels-last strides


def to_float_clip(frames: torch.Tensor) -> torch.Tensor:
    """uint8 frames (T, 3, H, W) -> float clip (3, T, H, W) in [0, 1]."""
    clip = frames.permute(1, 0, 2, 3).contiguous()  # (3, T, H, W): the transpose on bytes, not floats
    out = torch.empty(clip.shape, dtype=torch.float32)
    return torch.div(clip, 255, out=out)  # one pass, the same numbers as clip.float() / 255


def resize_size(height: int, width: int, short_side: int | None) -> tuple[int, int]:
    """The (H', W') with min(H', W') == `short_side` and the same aspect ratio (None: unchanged)."""
    if short_side is None or min(height, width) == short_side:
        return height, width
    scale = short_side / min(height, width)
    return max(1, int(round(height * scale))), max(1, int(round(width * scale)))


def resize_short_side(frames: torch.Tensor, short_side: int | None) -> torch.Tensor:
    """Bilinear (antialiased) resize of frames (T, 3, H, W), uint8 or float, to the short side `short_side`."""
    size = resize_size(*frames.shape[-2:], short_side)
    if size == tuple(frames.shape[-2:]):
        return frames
    return F.interpolate(frames, size=size, mode="bilinear", align_corners=False, antialias=True)  # (T, 3, H', W')


def crop(frames: torch.Tensor, size: int | None, top: int, left: int) -> torch.Tensor:
    """The `size` x `size` window at (top, left) of every frame of (..., H, W) (None: unchanged)."""
    if size is None:
        return frames
    return frames[..., top : top + size, left : left + size]


def center_crop(frames: torch.Tensor, size: int | None) -> torch.Tensor:
    """The central `size` x `size` window of every frame of (..., H, W) (None: unchanged)."""
    if size is None:
        return frames
    h, w = frames.shape[-2:]
    return crop(frames, size, (h - size) // 2, (w - size) // 2)


def random_crop(frames: torch.Tensor, size: int | None, rng: np.random.Generator) -> torch.Tensor:
    """A random `size` x `size` window of (..., H, W), the same for every frame (None: unchanged)."""
    if size is None:
        return frames
    h, w = frames.shape[-2:]
    return crop(frames, size, int(rng.integers(h - size + 1)), int(rng.integers(w - size + 1)))


def hflip(frames: torch.Tensor) -> torch.Tensor:
    """Mirror every frame of (..., H, W) left-right."""
    return frames.flip(-1)
