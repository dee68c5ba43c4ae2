"""The statistics every report of the project uses: means with standard errors, paired tests.

A claim that one model or controller beats another is made over several seeds, paired by seed
(the same seed trains both, so seed effects shared by both cancel).  `paired` gives the mean
difference, its standard error, a two-sided paired t-test and a two-sided Wilcoxon signed-rank
test (exact for small samples); `verdict` turns them into the words the pages use, where a
difference whose test does not reach the level is reported as no measured difference.

With 5 pairs the smallest two-sided Wilcoxon p-value is 2/2^5 = 0.0625, so at the 5% level
only the t-test can ever reject; the pages say which test decides (`PRIMARY`).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from typing import Any, Sequence

PRIMARY = "paired t-test"
"""The test whose p-value `verdict` reads; Wilcoxon's is reported beside it."""
LEVEL = 0.05
"""Two-sided significance level of `verdict`."""


def standard_error(values: Sequence[float]) -> float | None:
    """Sample standard deviation / sqrt(n); None for fewer than two values."""
    if len(values) < 2:
        return None
    return statistics.stdev(values) / math.sqrt(len(values))


def mean_se(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and standard error of the mean (None for one value)."""
    return statistics.fmean(values), standard_error(values)


@dataclass(frozen=True)
class Paired:
    """`a - b` over paired samples: mean, standard error and two two-sided tests."""

    n: int
    mean: float
    se: float | None
    t_p: float | None  # paired t-test; 1.0 when every difference is 0, None for one pair
    wilcoxon_p: float | None  # signed-rank, exact for n <= 50 without ties; 1.0 when every difference is 0

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (every field)."""
        return asdict(self)


def paired(a: Sequence[float], b: Sequence[float]) -> Paired:
    """Compare `a` with `b` pair by pair (same index = same seed)."""
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length ({len(a)} and {len(b)})")
    if not a:
        raise ValueError("paired samples are empty")
    diffs = [x - y for x, y in zip(a, b)]
    mean, se = mean_se(diffs)
    if len(diffs) < 2:
        return Paired(len(diffs), mean, se, None, None)
    if all(abs(d) <= 1e-12 for d in diffs):
        return Paired(len(diffs), 0.0, 0.0, 1.0, 1.0)
    from scipy import stats  # imported here: only the reports need it

    if se is not None and se <= 1e-12:  # every difference equal and non-zero: the t statistic is infinite
        t_p = 0.0
    else:
        t_p = float(stats.ttest_rel(a, b).pvalue)
    wilcoxon_p = float(stats.wilcoxon(diffs, zero_method="wilcox", alternative="two-sided").pvalue)
    return Paired(len(diffs), mean, se, t_p, wilcoxon_p)


def verdict(test: Paired, higher: str = "higher", lower: str = "lower") -> str:
    """'higher' / 'lower' when the primary test rejects at `LEVEL`, else 'no difference'."""
    if test.t_p is None:
        return "one seed: not tested"
    if test.t_p >= LEVEL:
        return "no difference"
    return higher if test.mean > 0 else lower


def signed(value: float, scale: float = 100.0, digits: int = 1) -> str:
    """'+1.2' / '-0.4' for a difference (scaled, e.g. to percentage points)."""
    return f"{scale * value:+.{digits}f}"


def p_text(p: float | None) -> str:
    """A p-value as the pages print it: '0.031', '<0.001', '-' for none."""
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"
