"""Tests stated before the data, on two networks' accuracies over seeds: superiority, non-inferiority and
equivalence, each with its interval, the smallest difference its seeds can detect, and the seeds that
would settle it.

Each test names its direction and margin before it sees a number. A result keeps the difference (a minus b,
in points), its 95 % interval (Welch, unequal variances), the stated test's p-value, the smallest true
difference that the seeds detect with 80 % power, and, while not settled, the seeds per network that would
give that power. :func:`holm` adjusts a family of results for multiplicity. The arithmetic is statsmodels'.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

ALPHA = 0.05
"""The level of every verdict: a direction is decided where the stated test or its opposite reaches ALPHA / 2
one-sided, so that confirming and refuting together err at ALPHA, as the 95 % interval shown beside it."""
POWER = 0.8
"""The power the detectable difference and the seeds needed are computed for."""
EFFECT = 0.3
"""The difference in points (a 0.3-point effect) that a superiority test is sized for."""


@dataclass(frozen=True)
class TestResult:
    """One stated test of network ``a`` against ``b``: its kind and margin, the difference and its interval,
    the p-values of the stated test and of its opposite, the difference its seeds detect and the seeds that
    would settle it, and the verdict (adjusted by :func:`holm` where it belongs to a family)."""

    __test__ = False  # not a pytest class

    test: str  # superiority | non-inferiority | equivalence
    margin: float  # points; 0 for superiority
    difference: float  # mean of a minus mean of b, points
    low: float | None  # 95 % interval of the difference (None with fewer than two seeds a side)
    high: float | None
    p: float | None  # the stated test's
    opposite: float | None  # the test that would refute it
    seeds: tuple[int, int]
    detectable: float | None  # the smallest true difference found with POWER at these seeds, points
    needed: int | None  # seeds per network that would settle it (see the test's function); None: over 100
    verdict: str  # confirmed | refuted | not settled | not testable here
    p_holm: float | None = None  # the decisive p (the smaller of p and opposite), adjusted over the family

    @property
    def decisive(self) -> float | None:
        """The p-value the verdict rests on: twice the smaller of the stated test's and its opposite's (either
        direction may be decided, so both count)."""
        return None if self.p is None else min(1.0, 2 * min(self.p, self.opposite))

    def brief(self) -> str:
        """The test, its p-values and what would settle it, without the difference."""
        margin = "" if not self.margin else f" within ±{self.margin:g}" if self.test == "equivalence" \
            else f", margin {self.margin:g}"
        if self.p is None:
            return f"{self.test}{margin}: not tested ({self.seeds[0]} and {self.seeds[1]} seeds)"
        text = f"{self.test}{margin}, p = {self.p:.3f}"
        if self.opposite < self.p:
            text += f" (opposite p = {self.opposite:.3f})"
        if self.p_holm is not None:
            text += f", Holm {self.p_holm:.3f}"
        if self.verdict == "not settled":
            text += (f"; about {self.needed} seeds each would settle it" if self.needed
                     else "; more than 100 seeds each would be needed")
        return text

    def __str__(self) -> str:
        if self.low is None:
            return f"{self.difference:+.2f} points ({self.seeds[0]} and {self.seeds[1]} seeds: no interval)"
        return (f"{self.difference:+.2f} points (95 % interval {self.low:+.2f} to {self.high:+.2f}; {self.brief()}; "
                f"{self.seeds[0]} and {self.seeds[1]} seeds detect {self.detectable:.2f} points at 80 % power)")


def _compare(a: Sequence[float], b: Sequence[float]):
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    return CompareMeans(DescrStatsW(list(a)), DescrStatsW(list(b)))


def _spread(a: Sequence[float], b: Sequence[float]) -> float:
    """The seeds' standard deviation, pooled over both networks (points)."""
    return math.sqrt((statistics.variance(a) + statistics.variance(b)) / 2)


def _detectable(a: Sequence[float], b: Sequence[float], power: float = POWER) -> float:
    """The smallest true difference (points) a one-sided test at half :data:`ALPHA` finds with ``power``."""
    from statsmodels.stats.power import TTestIndPower

    size = TTestIndPower().solve_power(nobs1=len(a), ratio=len(b) / len(a), alpha=ALPHA / 2, power=power,
                                       alternative="larger")
    return float(size) * _spread(a, b)


def _needed(a: Sequence[float], b: Sequence[float], effect: float, power: float = POWER) -> int | None:
    """Seeds per network for a one-sided test at half :data:`ALPHA` to find ``effect`` points with ``power``."""
    from statsmodels.stats.power import TTestIndPower

    spread, power_of = _spread(a, b), TTestIndPower()
    if spread == 0 or effect <= 0:
        return None
    options = {"ratio": 1.0, "alpha": ALPHA / 2, "power": power, "alternative": "larger"}
    if effect / spread >= power_of.solve_power(nobs1=2, **options):
        return 2  # two seeds a side already suffice (the root finder needs a bracket above 2)
    if effect / spread < power_of.solve_power(nobs1=100, **options):
        return None  # more than 100 seeds
    return math.ceil(float(power_of.solve_power(effect_size=effect / spread, **options)))


def _untestable(test: str, margin: float, a: Sequence[float], b: Sequence[float]) -> TestResult:
    difference = statistics.fmean(a) - statistics.fmean(b)
    return TestResult(test, margin, difference, None, None, None, None, (len(a), len(b)), None, None, "not testable here")


def _verdict(p: float, opposite: float) -> str:
    """Confirmed or refuted where the smaller one-sided p-value, doubled, is below :data:`ALPHA`."""
    if 2 * min(p, opposite) >= ALPHA:
        return "not settled"
    return "confirmed" if p <= opposite else "refuted"


def _result(test: str, margin: float, a: Sequence[float], b: Sequence[float], p: float, opposite: float,
            effect: float, power: float = POWER) -> TestResult:
    """The result of a one-sided stated test (p) and of its opposite (a refutation where it is significant)."""
    low, high = _compare(a, b).tconfint_diff(alpha=ALPHA, usevar="unequal")
    return TestResult(test, margin, statistics.fmean(a) - statistics.fmean(b), float(low), float(high), float(p),
                      float(opposite), (len(a), len(b)), _detectable(a, b, power), _needed(a, b, effect, power),
                      _verdict(p, opposite))


def superiority(a: Sequence[float], b: Sequence[float], effect: float = EFFECT) -> TestResult:
    """Is ``a`` more accurate than ``b``? Welch's one-sided test; refuted where ``b`` is significantly more accurate.
    The seeds that would settle it are those that find a difference of ``effect`` points (the design's 0.3).

    >>> superiority([93.1, 93.3, 93.2], [92.1, 92.2, 92.0]).verdict
    'confirmed'
    """
    if min(len(a), len(b)) < 2:
        return _untestable("superiority", 0.0, a, b)
    compare = _compare(a, b)
    p = compare.ttest_ind(alternative="larger", usevar="unequal")[1]
    opposite = compare.ttest_ind(alternative="smaller", usevar="unequal")[1]
    return _result("superiority", 0.0, a, b, p, opposite, effect)


def non_inferiority(a: Sequence[float], b: Sequence[float], margin: float) -> TestResult:
    """Does ``a`` lose less than ``margin`` points against ``b``? Refuted where it loses significantly more. The
    seeds that would settle it are those that tell the observed difference from the margin.

    >>> non_inferiority([92.9, 93.0, 93.1], [93.0, 93.1, 93.2], margin=0.5).verdict
    'confirmed'
    """
    if min(len(a), len(b)) < 2:
        return _untestable("non-inferiority", margin, a, b)
    compare = _compare(a, b)
    p = compare.ttest_ind(alternative="larger", usevar="unequal", value=-margin)[1]
    opposite = compare.ttest_ind(alternative="smaller", usevar="unequal", value=-margin)[1]
    observed = statistics.fmean(a) - statistics.fmean(b)
    return _result("non-inferiority", margin, a, b, p, opposite, abs(observed + margin))


def equivalence(a: Sequence[float], b: Sequence[float], margin: float) -> TestResult:
    """Do ``a`` and ``b`` differ by less than ``margin`` points either way? Two one-sided tests (TOST); refuted
    where the difference lies significantly beyond the margin on one side. The seeds that would settle it
    tell the observed difference from the nearer bound with 90 % power each side (TOST about 80 %).

    >>> equivalence([93.0, 93.1, 92.9, 93.0], [93.05, 92.95, 93.0, 93.1], margin=0.3).verdict
    'confirmed'
    """
    if min(len(a), len(b)) < 2:
        return _untestable("equivalence", margin, a, b)
    compare = _compare(a, b)
    p = compare.ttost_ind(-margin, margin, usevar="unequal")[0]
    beyond = min(compare.ttest_ind(alternative="larger", usevar="unequal", value=margin)[1],
                 compare.ttest_ind(alternative="smaller", usevar="unequal", value=-margin)[1])
    observed = statistics.fmean(a) - statistics.fmean(b)
    return _result("equivalence", margin, a, b, p, beyond, abs(margin - abs(observed)), power=1 - (1 - POWER) / 2)


def holm(results: Sequence[TestResult]) -> list[TestResult]:
    """``results`` as one family: each verdict decided again on its decisive p-value (the stated test's or its
    opposite's) adjusted by Holm's method over the family; what does not survive the adjustment is not settled."""
    from statsmodels.stats.multitest import multipletests

    tested = [i for i, r in enumerate(results) if r.p is not None]
    adjusted = dict(zip(tested, multipletests([results[i].decisive for i in tested], alpha=ALPHA, method="holm")[1])) \
        if tested else {}
    out = []
    for i, result in enumerate(results):
        if i not in adjusted:
            out.append(result)
            continue
        significant = adjusted[i] < ALPHA
        verdict = "not settled" if not significant else "confirmed" if result.p <= result.opposite else "refuted"
        out.append(replace(result, p_holm=float(adjusted[i]), verdict=verdict))
    return out


def interval(values: Sequence[float]) -> tuple[float, float] | None:
    """The 95 % t-interval of the mean of ``values`` (None with fewer than two)."""
    from statsmodels.stats.weightstats import DescrStatsW

    return None if len(values) < 2 else tuple(float(v) for v in DescrStatsW(list(values)).tconfint_mean(alpha=ALPHA))


def difference_interval(a: Sequence[float], b: Sequence[float]) -> tuple[float, float] | None:
    """The 95 % interval of mean ``a`` minus mean ``b`` (Welch; None with fewer than two values a side)."""
    if min(len(a), len(b)) < 2:
        return None
    return tuple(float(v) for v in _compare(a, b).tconfint_diff(alpha=ALPHA, usevar="unequal"))
