"""Inflate a 2D network's weights into a 3D backbone (I3D's "bootstrapping" from ImageNet).

A 3D tensor takes the 2D tensor its backbone's key map names:

- a convolution kernel (O, I, kh, kw) becomes (O, I, kt, kh, kw) by repeating it over the kt
  frames and dividing by kt, so on a video of one repeated frame the 3D convolution computes
  the 2D one (away from the temporal borders, where zero padding is seen);
- BatchNorm parameters and statistics, and the classifier (when the class counts agree), are
  copied as they are.

Tensors whose key map answer is None (S3D's temporal convolutions, S3D-G gates, inserted
cells) keep their own initialisation.  A 2D state dict that lacks a tensor the map asks for,
or has one of another shape, is refused with a `UserError` naming the key: the file is then
not the network the backbone expects (torchvision key names), or the width is not 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Mapping

import torch
from torch import nn

from nas.errors import UserError, first_line

KeyMap = Callable[[str], "str | None"]  # 3D state-dict key -> 2D key, or None


@dataclass
class InflationReport:
    """What `inflate_2d_weights` did, by 3D state-dict key."""

    loaded: list[str] = field(default_factory=list)  # set from the 2D state dict
    kept: list[str] = field(default_factory=list)  # no 2D counterpart: own initialisation kept


def inflate_tensor(tensor_2d: torch.Tensor, shape_3d: torch.Size) -> torch.Tensor:
    """A 2D tensor in the 3D shape: kernels repeated over time and divided by kt, others as is."""
    if tensor_2d.dim() == 4 and len(shape_3d) == 5:
        out_channels, in_channels, kt, kh, kw = shape_3d
        if tuple(tensor_2d.shape) != (out_channels, in_channels, kh, kw):
            raise ValueError(f"2D kernel {tuple(tensor_2d.shape)} does not inflate to {tuple(shape_3d)}")
        return tensor_2d.unsqueeze(2).repeat(1, 1, kt, 1, 1) / kt  # (O, I, kt, kh, kw)
    if tensor_2d.shape != shape_3d:
        raise ValueError(f"shape {tuple(tensor_2d.shape)} differs from {tuple(shape_3d)}")
    return tensor_2d


def inflate_2d_weights(
    model: nn.Module, state_2d: Mapping[str, torch.Tensor], key_map: KeyMap, source: str = "2D weights"
) -> InflationReport:
    """Copy (inflating kernels) every tensor of `state_2d` that `key_map` assigns into `model`.

    The classifier (`head.fc.*`) is skipped, not refused, when its shape differs (another
    number of classes).
    """
    report = InflationReport()
    target = model.state_dict()
    update: dict[str, torch.Tensor] = {}
    for key, tensor in target.items():
        key_2d = key_map(key)
        if key_2d is None:
            report.kept.append(key)
            continue
        if key_2d not in state_2d:
            raise UserError(f"{source}: no tensor {key_2d!r} (needed for {key}); expected a torchvision-style state dict")
        try:
            value = inflate_tensor(state_2d[key_2d], tensor.shape)
        except ValueError as exc:
            if key.startswith("head."):
                report.kept.append(key)
                continue
            raise UserError(f"{source}: {key_2d!r} cannot fill {key}: {exc}") from None
        update[key] = value.to(dtype=tensor.dtype)
        report.loaded.append(key)
    model.load_state_dict(update, strict=False)
    return report


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state dict from a file saved with `torch.save` (loaded with ``weights_only=True``).

    A dict holding the state dict under "state_dict" or "model" is unwrapped, and a leading
    "module." (DataParallel) is dropped from every key.
    """
    if not os.path.isfile(path):
        raise UserError(f"2D weights file not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a file it cannot read
        raise UserError(f"cannot read 2D weights {path}: {first_line(exc)}") from None
    for wrapper in ("state_dict", "model"):
        if isinstance(data, dict) and isinstance(data.get(wrapper), dict):
            data = data[wrapper]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise UserError(f"2D weights {path}: expected a state dict (names -> tensors)")
    return {k.removeprefix("module."): v for k, v in data.items()}


def load_2d_weights(model: nn.Module, path: str | os.PathLike, key_map: KeyMap) -> InflationReport:
    """Read a 2D state dict file and inflate it into `model` (see `inflate_2d_weights`)."""
    return inflate_2d_weights(model, read_state_dict(path), key_map, source=str(path))
