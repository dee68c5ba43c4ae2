"""Export a network (a backbone with its cells) to one file that runs with plain PyTorch.

Two formats, both loadable without this package:

- ``"export"``: a `torch.export` ExportedProgram (``.pt2``); load it with
  ``torch.export.load(path).module()``.
- ``"torchscript"``: a `torch.jit.trace` module (``.pt``); load it with ``torch.jit.load(path)``
  (PyTorch deprecates TorchScript; it stays for runtimes that only read it, such as LibTorch).

Both record the network in eval mode (BatchNorm uses its running statistics, dropout is off)
at one clip shape: the file takes clips (N, 3, T, H, W) of exactly the shape it was exported
at.  The file is written atomically, and only after it has been loaded back from its temporary
path and has given the network's own logits on a second random clip, so a file that exists
computes what the network computes.

An op whose forward leaves torch cannot be recorded: its Python-side result would be frozen
into the file as a constant.  `UNEXPORTABLE` names those kinds and why; a cell holding one is
refused before any work.  ONNX is not offered: it would need the ``onnx`` package, which the
project does not depend on.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from nas.errors import UserError
from nas.io import atomic_write_with

FORMATS = ("export", "torchscript")
"""`torch.export` ExportedProgram, or `torch.jit.trace` TorchScript."""
UNEXPORTABLE = {
    "aligned_temporal": "it aligns frames with scipy's linear_sum_assignment outside torch, so an exported "
                        "graph would keep the alignment of one example clip",
}
"""Op kinds a traced or exported graph cannot reproduce, and why."""
RTOL, ATOL = 1e-4, 1e-5
"""How close the loaded file's logits must be to the network's (float32 rounding of reordered sums)."""


def check_exportable(model: nn.Module) -> None:
    """Refuse a network with an op of `UNEXPORTABLE` in one of its cells, naming the op and position."""
    inserted = model.inserted() if hasattr(model, "inserted") else {}
    for position, block in inserted.items():
        genotype = getattr(block, "genotype", None)  # non-local blocks have none and export
        for spec in genotype.ops if genotype is not None else ():
            if spec.kind in UNEXPORTABLE:
                raise UserError(f"cannot export the cell at {position}: op {spec.id} is {spec.kind!r}, and "
                                f"{UNEXPORTABLE[spec.kind]}")


def export_model(model: nn.Module, clip_shape: tuple[int, ...], path: str | os.PathLike,
                 file_format: str = "export", seed: int = 0) -> Path:
    """Write `model` (set to eval mode) for clips of `clip_shape` to `path` in `file_format`; return the path.

    The example and check clips are random normal tensors drawn with `seed`; a loaded file whose
    logits differ from the model's raises `RuntimeError` and nothing is written.
    """
    if file_format not in FORMATS:
        raise UserError(f"unknown export format {file_format!r} (formats: {', '.join(FORMATS)})")
    check_exportable(model)
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    example, check = (torch.randn(clip_shape, generator=generator) for _ in range(2))  # (N, 3, T, H, W) each
    write = _write_program if file_format == "export" else _write_torchscript
    writer = write(model, example)

    def write_and_check(tmp: Path) -> None:
        writer(tmp)
        loaded = load_exported(tmp, file_format)
        with torch.no_grad():
            want, got = model(check), loaded(check)
        if got.shape != want.shape or not torch.allclose(got, want, rtol=RTOL, atol=ATOL):
            gap = (got - want).abs().max().item() if got.shape == want.shape else f"shape {tuple(got.shape)}"
            raise RuntimeError(f"the exported model differs from the network on a second clip (largest gap {gap})")

    return atomic_write_with(path, write_and_check)


def _write_program(model: nn.Module, example: torch.Tensor) -> Callable[[Path], None]:
    """A writer of the `torch.export` program of `model` at `example`'s shape."""
    with torch.no_grad():
        program = torch.export.export(model, (example,))
    return lambda tmp: torch.export.save(program, tmp)


def _write_torchscript(model: nn.Module, example: torch.Tensor) -> Callable[[Path], None]:
    """A writer of the `torch.jit.trace` module of `model` at `example`'s shape."""
    with warnings.catch_warnings(), torch.no_grad():
        # shape-dependent Python values become constants: right for the one shape the file takes
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(model, example, check_trace=False)
    return lambda tmp: torch.jit.save(traced, str(tmp))


def load_exported(path: str | os.PathLike, file_format: str = "export") -> Callable[[torch.Tensor], torch.Tensor]:
    """Load an exported file back as a callable, the way a user without this package would."""
    if file_format == "export":
        return torch.export.load(str(path)).module()
    return torch.jit.load(str(path))
