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
import warnings
from dataclasses import dataclass, field
from typing import Callable, Mapping

import torch
from torch import nn

from nas.errors import UserError, first_line

KeyMap = Callable[[str], "str | None"]  # model state-dict key -> checkpoint key, or None
Converter = Callable[[torch.Tensor, torch.Size], torch.Tensor]  # checkpoint tensor -> model shape


@dataclass
class InflationReport:
    """What `transfer_weights` did, by model state-dict key."""

    loaded: list[str] = field(default_factory=list)  # set from the 2D state dict
    kept: list[str] = field(default_factory=list)  # no counterpart: own initialisation kept
    head_skipped: list[str] = field(default_factory=list)  # classifier of another class count (also kept)


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

    Tensors of `state_2d` that no key asks for (auxiliary heads) are ignored; the classifier is
    skipped with a warning when the class counts differ (`transfer_weights`).
    """
    return transfer_weights(model, state_2d, key_map, inflate_tensor, source, ignore_unused=True)


def transfer_weights(
    model: nn.Module,
    state: Mapping[str, torch.Tensor],
    key_map: KeyMap,
    convert: Converter,
    source: str,
    ignore_unused: bool = False,
) -> InflationReport:
    """Set every tensor of `model` whose `key_map` answer names a tensor of `state`.

    `convert(tensor, target_shape)` gives the tensor in the model's shape or raises ValueError.
    The classifier (``head.*``) is skipped with a warning when its class count differs.  Every
    missing tensor, shape that does not convert and (unless `ignore_unused`) tensor of `state`
    that nothing asks for is collected, and all are refused in one `UserError` line; nothing is
    loaded then.  BatchNorm's ``num_batches_tracked`` may be absent (older checkpoints).
    """
    report, problems = InflationReport(), _Problems()
    target, update, used = model.state_dict(), {}, set()
    for key, tensor in target.items():
        source_key = key_map(key)
        if source_key is None or (source_key not in state and key.endswith("num_batches_tracked")):
            report.kept.append(key)
            continue
        if source_key not in state:
            problems.missing.append(f"no tensor {source_key!r} (for {key})")
            continue
        used.add(source_key)
        value = state[source_key]
        if key.startswith("head.") and value.shape[:1] != tensor.shape[:1]:
            report.head_skipped.append(key)
            report.kept.append(key)
            continue
        try:
            update[key] = convert(value, tensor.shape).to(dtype=tensor.dtype)
        except ValueError as exc:
            problems.shapes.append(f"{source_key!r} cannot fill {key}: {exc}")
            continue
        report.loaded.append(key)
    if not ignore_unused:
        problems.unknown = [k for k in state if k not in used and not k.endswith("num_batches_tracked")]
    problems.raise_if_any(source)
    if report.head_skipped:
        head = report.head_skipped[0]
        classes, own = state[key_map(head) or ""].shape[0], target[head].shape[0]
        warnings.warn(f"{source}: classifier for {classes} classes, model has {own}: head keeps its initialisation",
                      stacklevel=3)
    model.load_state_dict(update, strict=False)
    return report


@dataclass
class _Problems:
    """What keeps a state dict from loading, for one `UserError` line."""

    missing: list[str] = field(default_factory=list)
    shapes: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def raise_if_any(self, source: str, shown: int = 3) -> None:
        """Raise a `UserError` naming the first `shown` problems of each kind and their counts."""
        parts = []
        for kind, items in (("missing", self.missing), ("shape", self.shapes), ("unknown", self.unknown)):
            if items:
                more = f" (+{len(items) - shown} more)" if len(items) > shown else ""
                parts.append(f"{len(items)} {kind}: " + ", ".join(items[:shown]) + more)
        if parts:
            raise UserError(f"{source}: does not fit this backbone: " + "; ".join(parts))


def read_state_dict(path: str | os.PathLike, kind: str = "2D weights") -> dict[str, torch.Tensor]:
    """A state dict from a file saved with `torch.save` (loaded with ``weights_only=True``).

    A dict holding the state dict under "state_dict", "model" or "model_state" (pytorchvideo's
    checkpoints) is unwrapped, and a leading "module." (DataParallel) is dropped from every key.
    `kind` names the file in errors.
    """
    if not os.path.isfile(path):
        raise UserError(f"{kind} file not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a file it cannot read
        raise UserError(f"cannot read {kind} {path}: {first_line(exc)}") from None
    for wrapper in ("state_dict", "model", "model_state"):
        if isinstance(data, dict) and isinstance(data.get(wrapper), dict):
            data = data[wrapper]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise UserError(f"{kind} {path}: expected a state dict (names -> tensors)")
    return {k.removeprefix("module."): v for k, v in data.items()}


def load_2d_weights(model: nn.Module, path: str | os.PathLike, key_map: KeyMap) -> InflationReport:
    """Read a 2D state dict file and inflate it into `model` (see `inflate_2d_weights`)."""
    return inflate_2d_weights(model, read_state_dict(path), key_map, source=str(path))
