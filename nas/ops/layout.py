"""ReshapeTo2D and its inverse: a feature map as a matrix of L rows for an attention dimension.

Dimensions introduced once: B batch (times temporal groups), C channels, T frames, H height,
W width; L rows, D row length.

- temporal:       L = T rows of length D = H*W*C  (a row is a whole frame)
- spatial:        L = H*W rows of length D = T*C  (a row is one position across all frames)
- spatiotemporal: L = T*H*W rows of length D = C  (a row is one position in one frame)
"""

from __future__ import annotations

import torch



def rows_and_length(dimension: str, frames: int, height: int, width: int, channels: int) -> tuple[int, int]:
    """(L, D) of the matrix `to_rows` makes for this dimension and shape."""
    if dimension == "temporal":
        return frames, height * width * channels
    if dimension == "spatial":
        return height * width, frames * channels
    if dimension == "spatiotemporal":
        return frames * height * width, channels
    raise ValueError(f"unknown attention dimension {dimension!r}")


def to_rows(x: torch.Tensor, dimension: str) -> torch.Tensor:
    """(B, C, T, H, W) -> (B, L, D) for `dimension`."""
    b, c, t, h, w = x.shape
    if dimension == "temporal":
        return x.permute(0, 2, 3, 4, 1).reshape(b, t, h * w * c)  # (B, T, H*W*C)
    if dimension == "spatial":
        return x.permute(0, 3, 4, 2, 1).reshape(b, h * w, t * c)  # (B, H*W, T*C)
    if dimension == "spatiotemporal":
        return x.permute(0, 2, 3, 4, 1).reshape(b, t * h * w, c)  # (B, T*H*W, C)
    raise ValueError(f"unknown attention dimension {dimension!r}")


def from_rows(rows: torch.Tensor, dimension: str, shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
    """(B, L, D) -> (B, C, T, H, W): the inverse of `to_rows` for a map of `shape`."""
    b, c, t, h, w = shape
    if dimension == "temporal":
        return rows.reshape(b, t, h, w, c).permute(0, 4, 1, 2, 3)  # (B, C, T, H, W)
    if dimension == "spatial":
        return rows.reshape(b, h, w, t, c).permute(0, 4, 3, 1, 2)  # (B, C, T, H, W)
    if dimension == "spatiotemporal":
        return rows.reshape(b, t, h, w, c).permute(0, 4, 1, 2, 3)  # (B, C, T, H, W)
    raise ValueError(f"unknown attention dimension {dimension!r}")
