"""`NAS_SMOKE=1`: every size default of the CLI shrunk, so each documented command runs in seconds.

For checking that commands work (tests/test_readme_blocks.py runs the README's commands this
way), never for results: with it set, defaults become 64 synthetic videos, 1 epoch and 2 search
trials (also inside a search's `train` objective and the `quick` presets). Options given on the
command line still win. Numbers made with it mean nothing and the CLI says so on stderr.
"""

from __future__ import annotations

import os
import sys
from typing import Any

SIZES = {"num_videos": 64, "epochs": 1, "trials": 2}
"""The defaults `NAS_SMOKE=1` sets."""


def on() -> bool:
    """Whether the environment asks for smoke sizes (read when a command starts)."""
    return os.environ.get("NAS_SMOKE", "") == "1"


def default(name: str, value: Any) -> Any:
    """`value`, or its smoke size when NAS_SMOKE=1."""
    return SIZES.get(name, value) if on() else value


def objective_options(objective: str, given: dict[str, Any]) -> dict[str, Any]:
    """A search's objective options with smoke sizes filled in where not given (train objective only)."""
    if not on() or objective != "train":
        return given
    return {"num_videos": SIZES["num_videos"], "epochs": SIZES["epochs"], **given}


def warn() -> None:
    """One line on stderr: the numbers of this command mean nothing."""
    if on():
        print("nas: NAS_SMOKE=1: sizes shrunk for a smoke test; the numbers mean nothing", file=sys.stderr)
