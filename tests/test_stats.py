"""The report's statistics against scipy's own tests on fixed data, and by hand."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from gan_jax import comparisons, stats

A = [7.9, 8.0, 6.0, 8.0, 7.0, 8.0, 5.0, 8.0, 7.5, 6.5]
B = [5.0, 7.0, 3.0, 6.0, 4.0, 7.0, 5.5]


def test_summaries_are_the_mean_and_its_standard_error():
    s = stats.summarise(A)
    assert s.mean == pytest.approx(np.mean(A)) and s.n == 10
    assert s.se == pytest.approx(scipy_stats.sem(A))
    assert math.isnan(stats.summarise([3.0]).se) and stats.summarise([]).n == 0


def test_welch_equals_scipys_unequal_variance_t_test():
    ours = stats.welch(stats.summarise(A), stats.summarise(B))
    theirs = scipy_stats.ttest_ind(A, B, equal_var=False)
    interval = theirs.confidence_interval(0.95)
    assert ours.t == pytest.approx(theirs.statistic, rel=1e-12)
    assert ours.p == pytest.approx(theirs.pvalue, rel=1e-10)
    assert ours.df == pytest.approx(theirs.df, rel=1e-12)
    assert (ours.low, ours.high) == pytest.approx((interval.low, interval.high), rel=1e-10)
    assert ours.difference == pytest.approx(np.mean(A) - np.mean(B))


def test_a_published_number_without_a_standard_error_is_a_one_sample_test():
    ours = stats.welch(stats.summarise(A), stats.Summary(6.5, 0.0, 1))
    theirs = scipy_stats.ttest_1samp(A, 6.5)
    assert (ours.t, ours.p, ours.df) == pytest.approx((theirs.statistic, theirs.pvalue, 9), rel=1e-10)


def test_paired_equals_scipys_related_t_test():
    before, after = A[: len(B)], B  # one run's value at two steps, say
    ours = stats.paired(before, after)
    theirs = scipy_stats.ttest_rel(after, before)
    interval = theirs.confidence_interval(0.95)
    assert (ours.t, ours.p, ours.df) == pytest.approx(
        (theirs.statistic, theirs.pvalue, len(B) - 1), rel=1e-10
    )
    assert (ours.low, ours.high) == pytest.approx((interval.low, interval.high), rel=1e-10)
    assert ours.difference == pytest.approx(np.mean(after) - np.mean(before))


def test_no_spread_on_either_side_is_no_test():
    same = stats.Summary(8.0, 0.0, 10)
    assert math.isnan(stats.welch(same, same).p) and math.isnan(stats.tost(same, same, 1.0))


def test_tost_is_the_larger_of_two_one_sided_welch_tests():
    margin = 1.5
    lower = scipy_stats.ttest_ind(np.add(A, margin), B, equal_var=False, alternative="greater").pvalue
    upper = scipy_stats.ttest_ind(np.subtract(A, margin), B, equal_var=False, alternative="less").pvalue
    p = stats.tost(stats.summarise(A), stats.summarise(B), margin)
    assert p == pytest.approx(max(lower, upper), rel=1e-10)
    assert stats.tost(stats.summarise(A), stats.summarise(A), margin) < stats.ALPHA  # a group with itself
    assert stats.tost(stats.summarise(A), stats.summarise(B), 0.1) > 0.5  # 1.9 apart: not within 0.1


def test_holm_on_a_hand_worked_family():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04; running max
    # 0.02, 0.03, 0.06, 0.06; back in the input's order. A NaN is no comparison.
    adjusted = stats.holm([0.01, 0.04, math.nan, 0.03, 0.005])
    assert adjusted[:2] + adjusted[3:] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert math.isnan(adjusted[2])
    assert stats.holm([0.6, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1


def test_fisher_on_a_hand_worked_table():
    # 0 of 10 against 2 of 10 failed: hypergeometric P(0) = P(2) = 45/190, P(1) = 100/190; the
    # two-sided p sums the tables no likelier than the one seen: 90/190.
    assert stats.fisher(0, 10, 2, 10) == pytest.approx(90 / 190)
    assert stats.fisher(0, 10, 10, 10) == pytest.approx(2 / math.comb(20, 10))


def test_wilson_interval_by_hand_and_at_the_edges():
    # 9 of 10: centre (0.9 + z^2/20) / (1 + z^2/10), half-width z sqrt(0.009 + z^2/400) / (1 + z^2/10)
    assert stats.wilson(9, 10) == pytest.approx((0.59585, 0.98212), abs=1e-5)
    low, high = stats.wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.27753, abs=1e-5)  # z^2 / (n + z^2)
    assert stats.wilson(10, 10) == pytest.approx((1 - 0.27753, 1.0), abs=1e-5)  # the mirror image
    assert all(map(math.isnan, stats.wilson(0, 0)))


def test_the_change_over_the_last_interval_is_paired_by_run_and_adjusted_on_its_own():
    """Each cell's second-to-last against its last evaluation, over the runs evaluated at both (a
    run that stopped early, or whose metric is undefined, drops out), Holm-adjusted on their own."""

    def run(cell, *fd):  # evaluated at steps 10, 20, 30, ... while it ran
        return {"cell": cell, "eval": [{"step": 10 * (i + 1), "fd/value": v} for i, v in enumerate(fd)]}

    found = [run("a", 9, 5, 3), run("a", 9, 6, 5), run("a", 9, 4, 1), run("b", 9, 2, 3), run("b", 9, 2)]
    found += [run("b", 9, 3, 5), run("b", 9, 3, math.nan), run("c", 9)]  # c evaluated once: no change
    a, b = comparisons.over_last_interval(found, ["a", "b", "c"], [("fd/value", "FD")])
    assert (a.cell, a.steps, b.cell, b.steps) == ("a", (20, 30), "b", (20, 30))
    assert a.test == stats.paired([5, 6, 4], [3, 5, 1]) and b.test == stats.paired([2, 3], [3, 5])
    assert [a.holm, b.holm] == stats.holm([a.p, b.p])
    assert a.line().startswith("- `a`, FD, step 20 to 30: -2 (95% CI ")
