"""What made a run: the checkout's commit and the machine, recorded next to every result.

Trial scores can differ between machines for the same seed and code (a CPU with AVX-512 and one
with AVX2 take different kernels), so every run record names the CPU capability torch runs with,
torch's version and any GPU, next to the git commit.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any


def git(*args: str) -> str | None:
    """Output of a git command in the package's checkout, or None outside one."""
    source = Path(__file__).resolve().parent
    try:
        done = subprocess.run(["git", *args], cwd=source, capture_output=True, text=True, timeout=10,
                              env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_commit() -> str | None:
    """The commit of the checkout this package runs from, if it is one."""
    return git("rev-parse", "HEAD") or None


def machine() -> dict[str, Any]:
    """Python, torch, the CPU capability torch dispatches to, the GPUs, the host name."""
    import torch

    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    return {"python": sys.version.split()[0], "torch": torch.__version__,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpus": os.cpu_count(), "gpus": gpus,
            "host": platform.node()}
