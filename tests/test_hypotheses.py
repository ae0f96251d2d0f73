"""The stated tests: each answers as constructed seeds say it must, with scipy's numbers where scipy has the test."""

import pytest
from scipy import stats

from netsplit.study.hypotheses import equivalence, non_inferiority, superiority

A, B = [92.4, 92.6, 92.2, 92.5], [92.0, 92.3, 92.1, 92.2]


def test_superiority_is_welchs_one_sided_test_with_its_interval():
    result = superiority(A, B)
    welch = stats.ttest_ind(A, B, equal_var=False, alternative="greater")
    assert result.p == pytest.approx(welch.pvalue)
    interval = stats.ttest_ind(A, B, equal_var=False).confidence_interval(0.95)
    assert (result.low, result.high) == pytest.approx((interval.low, interval.high))
    assert result.verdict == "confirmed" and superiority(B, A).verdict == "refuted"
    assert result.decisive == pytest.approx(stats.ttest_ind(A, B, equal_var=False).pvalue), \
        "a direction decided either way: the two-sided p-value, which the 95 % interval matches"
    assert superiority(A, A[::-1]).verdict == "not settled"
    assert superiority([92.0], B).verdict == "not testable here" and superiority([92.0], B).low is None


def test_non_inferiority_shifts_the_null_by_the_margin():
    shifted = stats.ttest_ind(B, [x - 0.5 for x in A], equal_var=False, alternative="greater")
    assert non_inferiority(B, A, 0.5).p == pytest.approx(shifted.pvalue)
    assert non_inferiority(B, A, 2.0).verdict == "confirmed", "a 0.28-point loss within 2"
    assert non_inferiority([x - 3 for x in B], A, 0.5).verdict == "refuted", "a 3.3-point loss beyond 0.5"


def test_equivalence_is_two_one_sided_tests():
    lower = stats.ttest_ind(A, [x - 1.0 for x in B], equal_var=False, alternative="greater").pvalue
    upper = stats.ttest_ind(A, [x + 1.0 for x in B], equal_var=False, alternative="less").pvalue
    assert equivalence(A, B, 1.0).p == pytest.approx(max(lower, upper))
    assert equivalence(A, B, 1.0).verdict == "confirmed"
    assert equivalence([x + 5 for x in A], B, 1.0).verdict == "refuted"
    assert equivalence([x + 1 for x in A], B, 0.3).verdict == "refuted", "1.28 points apart, beyond 0.3"
    assert equivalence([92.0, 92.6, 91.8], [92.1, 91.7, 92.3], 0.3).verdict == "not settled"


def test_what_the_seeds_can_detect_and_how_many_would_settle_it():
    noisy = superiority([92.0, 92.6, 91.8], [92.1, 91.7, 92.3])
    assert noisy.verdict == "not settled" and noisy.needed > 3 and noisy.detectable > 0.3
    more = superiority([92.0, 92.6, 91.8] * 3, [92.1, 91.7, 92.3] * 3)
    assert more.detectable < noisy.detectable, "more seeds detect smaller differences"
    assert "seeds each would settle it" in str(noisy) and "seeds each" not in str(superiority(A, B))
