"""Render sprites (digit images) into video frames with per-frame position, size and opacity.

One clip is drawn in a single `grid_sample` call: every sprite of every frame is an affine
warp of its small source image onto the canvas, then composited over a background.
Coordinates are normalised as in `torch.nn.functional.affine_grid`: x and y run from -1
(left, top) to 1 (right, bottom) across the canvas.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class SpriteTrack:
    """One sprite over T frames: its image and, per frame, where, how big and how opaque it is."""

    image: np.ndarray  # (h, w) in [0, 1]
    color: np.ndarray  # (3,) RGB in [0, 1]
    center_x: np.ndarray  # (T,) normalised canvas coordinate of the sprite centre
    center_y: np.ndarray  # (T,)
    half_size: np.ndarray  # (T,) half the sprite's side as a fraction of the canvas half-side
    opacity: np.ndarray  # (T,) in [0, 1]

    @classmethod
    def over(cls, frames: int, image: np.ndarray, color: np.ndarray, x, y, half, opacity=1.0) -> "SpriteTrack":
        """A track of `frames` frames; each of x, y, half and opacity is a number (held) or a (T,) ramp."""
        def full(v) -> np.ndarray:
            return np.broadcast_to(np.asarray(v, dtype=np.float64), (frames,)).copy()

        return cls(image, color, full(x), full(y), full(half), full(opacity))


def warp_sprites(tracks: list[SpriteTrack], frames: int, size: int) -> torch.Tensor:
    """Coverage of each sprite on the canvas: (S, T, size, size) in [0, 1] for S tracks."""
    shape = max(t.image.shape[0] for t in tracks) + 2, max(t.image.shape[1] for t in tracks) + 2
    images = torch.as_tensor(np.stack([_pad(t.image, shape) for t in tracks]), dtype=torch.float32)  # (S, h, w)
    images = images[:, None].repeat_interleave(frames, dim=0)  # (S*T, 1, h, w)
    inverse = 1.0 / np.concatenate([t.half_size for t in tracks])  # (S*T,)
    theta = np.zeros((len(tracks) * frames, 2, 3))  # canvas -> sprite coordinates, per frame
    theta[:, 0, 0] = theta[:, 1, 1] = inverse
    theta[:, 0, 2] = -np.concatenate([t.center_x for t in tracks]) * inverse
    theta[:, 1, 2] = -np.concatenate([t.center_y for t in tracks]) * inverse
    theta = torch.as_tensor(theta, dtype=torch.float32)
    grid = F.affine_grid(theta, [len(tracks) * frames, 1, size, size], align_corners=False)  # (S*T, size, size, 2)
    warped = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)  # (S*T, 1, size, size)
    opacity = torch.as_tensor(np.concatenate([t.opacity for t in tracks]), dtype=torch.float32)  # (S*T,)
    warped = warped[:, 0] * opacity[:, None, None]  # (S*T, size, size)
    return warped.reshape(len(tracks), frames, size, size)  # (S, T, size, size)


def compose(
    clips: list[list[SpriteTrack]], frames: int, size: int, backgrounds: np.ndarray, noise: np.ndarray
) -> torch.Tensor:
    """Draw B clips at once: sprites over flat `backgrounds` (B, 3) plus `noise` (B, T, size, size, 3).

    ``clips[b]`` lists the sprite tracks of clip b (later ones are drawn over earlier ones).
    Returns uint8 frames (B, 3, T, size, size).
    """
    batch, layers = len(clips), max((len(tracks) for tracks in clips), default=0)
    canvas = torch.as_tensor(backgrounds, dtype=torch.float32)[:, :, None, None, None]  # (B, 3, 1, 1, 1)
    canvas = canvas.expand(batch, 3, frames, size, size)  # (B, 3, T, size, size)
    if layers:
        blank = SpriteTrack(np.zeros((1, 1)), np.zeros(3), *(np.ones(frames),) * 3, np.zeros(frames))
        padded = [tracks + [blank] * (layers - len(tracks)) for tracks in clips]  # B lists of `layers` tracks
        coverage = warp_sprites([t for tracks in padded for t in tracks], frames, size)  # (B*layers, T, size, size)
        coverage = coverage.reshape(batch, layers, 1, frames, size, size)  # (B, layers, 1, T, size, size)
        colors = torch.as_tensor(np.array([[t.color for t in tracks] for tracks in padded]), dtype=torch.float32)
        colors = colors[:, :, :, None, None, None]  # (B, layers, 3, 1, 1, 1)
        for layer in range(layers):
            alpha = coverage[:, layer]  # (B, 1, T, size, size)
            canvas = canvas * (1 - alpha) + colors[:, layer] * alpha  # (B, 3, T, size, size)
    canvas = canvas + torch.as_tensor(noise, dtype=torch.float32).permute(0, 4, 1, 2, 3)  # (B, 3, T, size, size)
    return (canvas.clamp(0, 1) * 255).round().to(torch.uint8)


def _pad(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Centre `image` on a transparent `shape`, so bilinear sampling fades out at the sprite's edge.

    Every image gets at least a one-pixel transparent border; all images of one call must
    share one size (apart from 1x1 blanks), since the sprite's size is that of the padded image.
    """
    top, left = (shape[0] - image.shape[0]) // 2, (shape[1] - image.shape[1]) // 2
    out = np.zeros(shape)
    out[top : top + image.shape[0], left : left + image.shape[1]] = image
    return out
