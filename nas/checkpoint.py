"""Training checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint holds the model and optimizer state, the gradient scaler, the random number
generator state, the per-epoch history and the training config.  It is written atomically
(`nas.io.atomic_write_with`) and read with ``torch.load(weights_only=True)``: plain tensors,
numbers, strings, lists and dicts only, never pickled objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

import torch

from nas.errors import UserError, first_line
from nas.io import atomic_write_with

CHECKPOINT_FORMAT = "attention-nas/checkpoint@1"
CHECKPOINT_NAME = "checkpoint.pt"


def save_checkpoint(run_dir: str | Path, state: Mapping[str, Any]) -> Path:
    """Write `state` to RUN/checkpoint.pt atomically; return the path."""
    body = {"format": CHECKPOINT_FORMAT, **state}
    return atomic_write_with(Path(run_dir) / CHECKPOINT_NAME, lambda tmp: torch.save(body, tmp))


def load_checkpoint(run_dir: str | Path) -> dict[str, Any] | None:
    """The checkpoint in `run_dir`, or None if there is none yet; unreadable ones are `UserError`s."""
    path = Path(run_dir) / CHECKPOINT_NAME
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise UserError(f"cannot read checkpoint {path}: {first_line(exc)}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"{path} is not an attention-nas checkpoint (expected format {CHECKPOINT_FORMAT})")
    return state


def check_same_config(
    run_dir: str | Path, saved: Mapping[str, Any], wanted: Mapping[str, Any], free: Iterable[str] = ()
) -> None:
    """Refuse to resume a run whose settings (other than those in `free`) differ from `wanted`."""
    for name, value in wanted.items():
        if name in free or saved.get(name) == value:
            continue
        raise UserError(
            f"run folder {run_dir} was trained with {name}={saved.get(name)!r}, not {value!r}: "
            "resume with the same settings or use another run folder"
        )


def load_model_state(model: torch.nn.Module, state: Mapping[str, torch.Tensor], run_dir: str | Path) -> None:
    """Load weights into `model`; a checkpoint of another architecture is a `UserError`."""
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        # torch's message is a header line, then one tab-indented line per problem: name the first problem
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        first = lines[1] if len(lines) > 1 and lines[0].startswith("Error(s) in loading") else first_line(exc)
        raise UserError(f"the checkpoint in {run_dir} does not fit this model ({first})") from None
