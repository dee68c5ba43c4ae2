"""The README's commands are the ones CI runs."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def readme_test_command() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Install and test", 1)[1]
    return re.search(r"```bash\n(.+?)\n```", section, re.S).group(1).strip()


def test_ci_runs_exactly_the_readme_test_command():
    steps = [s.strip() for s in readme_test_command().split("&&")]
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    commands = [line for line in ci if line and not line.startswith(("#", "set ", "cd ", "export "))]
    assert commands == [f"python -m {s}" if s.startswith("pip ") else s for s in steps]


def readme_main_command() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [s.strip() for s in re.search(r"```bash\n(.+?)\n```", section, re.S).group(1).split("&&")]


def test_the_main_command_installs_then_runs_a_quick_gp_bandit_search_that_the_cli_accepts():
    import shlex

    from runners.cli import build_parser

    steps = readme_main_command()
    assert steps[:2] == ["pip install torch==2.13.0", "pip install -e ."]
    assert len(steps) == 3 and steps[2].startswith("nas ")
    argv = shlex.split(steps[2])[1:]
    args = build_parser().parse_args(argv)
    assert argv[:2] == ["search", "gpb"] and args.preset == "quick" and args.address is None
    assert (ROOT / args.space).is_file()
