"""Typed, bounded command-line numbers: a value outside its range is refused by argparse in one
line (exit 2) before any work, so no command meets a negative seed, a NaN width or a frame count
that would allocate a terabyte.

Every numeric option of the CLI uses `integer` or `real`; the bounds below are the documented
limits (README, "Limits").
"""

from __future__ import annotations

import argparse
import math
from typing import Callable

from nas.space.limits import SEED_MAX


def integer(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in [low, high] (either bound may be open)."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip(), 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text[:40]!r}") from None
        _check(value, low, high, text)
        return value

    parse.__name__ = "integer"  # argparse names the type in its messages
    return parse


def real(low: float | None = None, high: float | None = None, *, above: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number in [low, high] (in (low, high] with `above`)."""

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text[:40]!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text[:40]!r}")
        if above and low is not None and value <= low:
            raise argparse.ArgumentTypeError(f"must be above {low:g}, got {value:g}")
        _check(value, low, high, text)
        return value

    parse.__name__ = "number"
    return parse


def _check(value: float, low: float | None, high: float | None, text: str) -> None:
    if (low is not None and value < low) or (high is not None and value > high):
        span = f"{'-inf' if low is None else _number(low)} .. {'inf' if high is None else _number(high)}"
        raise argparse.ArgumentTypeError(f"must be in {span}, got {text[:40]}")


def _number(bound: float) -> str:
    return str(bound) if isinstance(bound, int) else f"{bound:g}"


SEED = integer(0, SEED_MAX)
COUNT = integer(1)
