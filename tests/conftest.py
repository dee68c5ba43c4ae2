"""Shared test helpers: run the CLI in-process and locate the shipped files."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
import torch

# The tests use small tensors, where a second intra-op thread costs more than it gains (and on a
# shared 2-core machine it makes the suite several times slower).  Library code never does this.
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
SPACES = sorted((ROOT / "search_spaces").glob("*.yaml"))


def run_nas(*args: str) -> tuple[int, str, str]:
    """Run `nas ARGS` in this process; return (exit code, stdout, stderr)."""
    from runners.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse errors and --help
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    """Exit 2, exactly one line on stderr, no traceback, and every fragment in it."""
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def gpb_space():
    """The shipped AttentionNAS GP-bandit space."""
    from nas.space import load_space

    return load_space(str(ROOT / "search_spaces" / "attentionnas_gpb.yaml"))
