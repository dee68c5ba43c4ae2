"""Every command block of the README, run the way a user would, with `NAS_SMOKE=1` shrinking sizes.

Console/bash blocks give their `$ ` commands (continuation lines joined); Python blocks run as
scripts.  Everything runs in one scratch folder holding copies of the files the README names
(`search_spaces/`, `supergraphs/`, `results/`), with `nas` the CLI of this checkout.  Commands run in
README order; one that fails because it reads what a later block makes gets a second pass after
all others.  A block the test cannot run is marked in the README by the line before it,
``<!-- not run by tests/test_readme_blocks.py: REASON -->``; `pip install` steps are skipped (CI
runs them, see tests/test_readme.py).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow
SKIP_MARK = "<!-- not run by tests/test_readme_blocks.py:"
BLOCK = re.compile(r"(?P<before>[^\n]*)\n```(?P<lang>\w*)\n(?P<body>.*?)```", re.S)


@dataclass
class Step:
    """One command (shell) or one Python block, with where it is in the README."""

    kind: str  # "shell" | "python"
    text: str
    line: int


def steps_of(readme: str) -> list[Step]:
    """The runnable steps of a README text, in order (marked blocks and pip installs left out)."""
    out = []
    for match in BLOCK.finditer(readme):
        if match["before"].startswith(SKIP_MARK) or match["lang"] not in ("console", "bash", "sh", "python"):
            continue
        line = readme.count("\n", 0, match.start("body")) + 1
        if match["lang"] == "python":
            out.append(Step("python", match["body"], line))
            continue
        body = match["body"].replace("\\\n", " ")
        commands = [c[2:] for c in body.splitlines() if c.startswith("$ ")] if match["lang"] == "console" \
            else [c for c in body.splitlines() if c.strip() and not c.startswith("#")]
        for command in commands:
            for part in command.split("&&"):
                part = part.split("  #")[0].strip()
                if part and not part.startswith("pip "):
                    out.append(Step("shell", part, line))
    return out


def run_step(step: Step, folder: Path) -> subprocess.CompletedProcess:
    """Run one step in `folder` with this checkout's `nas` and NAS_SMOKE=1."""
    env = {**os.environ, "NAS_SMOKE": "1", "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"}
    if step.kind == "python":
        argv = [sys.executable, "-c", step.text]
    else:
        argv = shlex.split(step.text)
        if argv[0] == "nas":
            argv = [sys.executable, "-m", "runners.cli", *argv[1:]]
        elif argv[0] == "python":
            argv[0] = sys.executable
    return subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=900)


def run_all(readme: str, folder: Path) -> list[str]:
    """Run every step (a second pass for the ones that failed); the failures, described."""
    for name in ("search_spaces", "supergraphs", "results"):
        shutil.copytree(ROOT / name, folder / name)
    failed = [s for s in steps_of(readme) if run_step(s, folder).returncode != 0]
    problems = []
    for step in failed:
        done = run_step(step, folder)
        if done.returncode != 0:
            problems.append(f"README line {step.line}: {step.text[:120]!r} -> exit {done.returncode}: "
                            f"{(done.stderr.strip().splitlines() or ['(no stderr)'])[-1][:300]}")
    return problems


def test_every_readme_command_runs_as_written(tmp_path):
    problems = run_all((ROOT / "README.md").read_text(), tmp_path)
    assert not problems, "\n".join(problems)


def test_a_broken_block_is_caught(tmp_path):
    readme = ("Valid:\n\n```console\n$ nas space validate search_spaces/attentionnas_gpb.yaml\n```\n\n"
              "Broken:\n\n```console\n$ nas space validate search_spaces/no_such_space.yaml\n```\n\n"
              "```python\nfrom nas.space import load_space\nload_space('search_spaces/nope.yaml')\n```\n")
    problems = run_all(readme, tmp_path)
    assert len(problems) == 2
    assert "line 10" in problems[0] and "search space not found" in problems[0]
    assert "line 14" in problems[1] and "search space not found" in problems[1]


def test_marked_blocks_and_pip_steps_are_left_out():
    readme = (f"{SKIP_MARK} needs a cluster -->\n```console\n$ ray start --head\n```\n\n"
              "```bash\npip install -e . && nas --version\n```\n")
    assert [(s.kind, s.text) for s in steps_of(readme)] == [("shell", "nas --version")]
