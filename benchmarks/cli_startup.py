"""Start-up time of the `nas` command next to a bare Python start, measured side by side.

Prints the median wall time over interleaved rounds of `python -c pass`, `nas --version`,
`nas space validate`, `nas genotype validate`,
`nas supergraph validate` and `nas list ops`, each in a fresh process (this checkout's code via
`python -m runners.cli`), and each one's ratio to the bare start.  Speed is measured here, never
asserted in a test.

Usage: python benchmarks/cli_startup.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "nas --version": [sys.executable, "-m", "runners.cli", "--version"],
    "nas space validate": [sys.executable, "-m", "runners.cli", "space", "validate",
                           "search_spaces/attentionnas_gpb.yaml"],
    "nas genotype validate": [sys.executable, "-m", "runners.cli", "genotype", "validate",
                              "results/genotypes/gpb_fig_a_like.json"],
    "nas supergraph validate": [sys.executable, "-m", "runners.cli", "supergraph", "validate", "supergraphs/sg1.yaml"],
    "nas list ops": [sys.executable, "-m", "runners.cli", "list", "ops"],
}


def wall(argv: list[str]) -> float:
    """Seconds one run of `argv` takes (it must succeed)."""
    started = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    """Measure in interleaved rounds, print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.rounds):
        for name, argv in COMMANDS.items():
            times[name].append(wall(argv))
    base = statistics.median(times["python -c pass"])
    print(f"# python benchmarks/cli_startup.py --rounds {args.rounds}: median wall seconds, fresh process each")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:24s} {median:6.2f} s   {median / base:5.1f}x python -c pass")


if __name__ == "__main__":
    main()
