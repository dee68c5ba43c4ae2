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
