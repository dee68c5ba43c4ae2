"""FLOPs budgets of a search and the accuracy-versus-FLOPs Pareto front.

- Hard budget (``--max-gflops X``): a cell whose model counts more than X GFLOPs at the
  counted input size is never trained; the search records it as ``over_budget`` and asks for
  another cell.
- Soft budget (``--target-gflops T --flops-penalty W``), the MnasNet reward with latency
  replaced by FLOPs: value = score * (gflops / T) ** -W above the target, the score itself at
  or below it.  The controller maximises that value; the store keeps score and value apart.
  (The score is assumed non-negative, as an accuracy is.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, TypeVar

from nas.errors import UserError

DEFAULT_PENALTY = 0.07  # MnasNet's w for its soft latency constraint


@dataclass(frozen=True)
class FlopsBudget:
    """The FLOPs constraints of a search (None: no such constraint)."""

    max_gflops: float | None = None
    target_gflops: float | None = None
    penalty: float = DEFAULT_PENALTY

    def __post_init__(self) -> None:
        for name in ("max_gflops", "target_gflops"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise UserError(f"--{name.replace('_', '-')} must be positive, got {value}")
        if self.penalty < 0:
            raise UserError(f"--flops-penalty must be non-negative, got {self.penalty}")

    @property
    def needs_flops(self) -> bool:
        """Whether any constraint is set (then every trial's FLOPs must be counted)."""
        return self.max_gflops is not None or self.target_gflops is not None

    def admits(self, gflops: float) -> bool:
        """Whether a model of `gflops` is within the hard budget."""
        return self.max_gflops is None or gflops <= self.max_gflops

    def value(self, score: float, gflops: float | None) -> float:
        """The value the controller maximises: `score`, penalised above the target."""
        if self.target_gflops is None or gflops is None or gflops <= self.target_gflops:
            return score
        return score * (gflops / self.target_gflops) ** (-self.penalty)


P = TypeVar("P")


def pareto_front(points: Sequence[tuple[float, float, P]]) -> list[tuple[float, float, P]]:
    """The (score, gflops, item) points no other point beats on both (higher score, fewer FLOPs).

    Returned by increasing FLOPs (and so increasing score); of exact duplicates the first stays.
    """
    ordered = sorted(enumerate(points), key=lambda ip: (ip[1][1], -ip[1][0], ip[0]))
    front: list[tuple[float, float, P]] = []
    for _, point in ordered:
        if not front or point[0] > front[-1][0]:
            front.append(point)
    return front
