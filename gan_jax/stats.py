"""The statistics a report prints for every comparison, and that docs may cite.

Cells are compared by their seeds' means and standard errors (the runs of a cell are independent
seeds): Welch's t-test (unequal variances; Welch-Satterthwaite degrees of freedom) with the 95%
confidence interval of the difference and a two-sided p-value (a run's change between two steps:
the paired t-test); the p-values of the comparisons a table makes, adjusted together by Holm's
method; "agrees with a published number" only by two one-sided tests (TOST) against a margin
declared beside that number; failure counts by Fisher's exact test. A published row enters with
its paper's own standard error and trial count where the paper gives them (a number without one
enters as exact: standard error 0). scipy.stats supplies the distributions; tests/test_stats.py
checks each test against scipy's own on fixed data.
"""

import dataclasses
import math
from collections.abc import Sequence

from scipy import stats as scipy_stats

ALPHA = 0.05  # of every test; every confidence interval is at 1 - ALPHA
LEVEL = 0.95
EXPLORATORY_SEEDS = 10  # a cell with fewer seeds is exploratory: no better/worse claim rests on it alone


@dataclasses.dataclass(frozen=True)
class Summary:
    """A group of independent measurements by its mean, the standard error of that mean and its
    size. A published number without a standard error: se 0; with one but no trial count: n
    infinite (its standard error taken as exact)."""

    mean: float
    se: float
    n: float


@dataclasses.dataclass(frozen=True)
class Welch:
    """The difference a - b of two means with its confidence interval, Welch's t, its degrees of
    freedom and the two-sided p-value (NaN where neither group has any spread)."""

    difference: float
    low: float
    high: float
    t: float
    df: float
    p: float


def defined(value: float | None) -> bool:
    """Whether a run measured a value (a metric it did not log is None, one it could not compute NaN)."""
    return value is not None and not math.isnan(value)


def summarise(values: Sequence[float]) -> Summary:
    n = len(values)
    if n == 0:
        return Summary(math.nan, math.nan, 0)
    mean = math.fsum(values) / n
    se = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1) / n) if n > 1 else math.nan
    return Summary(mean, se, n)


def _spread_and_df(a: Summary, b: Summary) -> tuple[float, float]:
    """The standard error of a - b and its Welch-Satterthwaite degrees of freedom."""
    va, vb = a.se**2, b.se**2
    spread = math.sqrt(va + vb)
    terms = [v**2 / (n - 1) for v, n in ((va, a.n), (vb, b.n)) if v > 0]  # n = inf: se exact, term 0
    if not terms:
        return spread, math.nan
    return spread, (va + vb) ** 2 / sum(terms) if sum(terms) > 0 else math.inf


def welch(a: Summary, b: Summary, level: float = LEVEL) -> Welch:
    """Welch's two-sample t-test of a's mean against b's, from their summaries."""
    difference = a.mean - b.mean
    spread, df = _spread_and_df(a, b)
    if not spread > 0 or math.isnan(df):
        return Welch(difference, math.nan, math.nan, math.nan, math.nan, math.nan)
    t = difference / spread
    half = scipy_stats.t.ppf(0.5 + level / 2, df) * spread
    p = 2 * scipy_stats.t.sf(abs(t), df)
    return Welch(difference, difference - half, difference + half, t, df, float(p))


def paired(before: Sequence[float], after: Sequence[float], level: float = LEVEL) -> Welch:
    """The mean change after - before of paired measurements (one run at two steps, say): the
    one-sample t-test of the differences against 0 (n - 1 degrees of freedom)."""
    changes = [b - a for a, b in zip(before, after, strict=True)]
    return welch(summarise(changes), Summary(0.0, 0.0, 1), level)


def tost(a: Summary, b: Summary, margin: float) -> float:
    """The p-value of two one-sided tests that |a - b| < margin (Welch's standard error and
    degrees of freedom): the larger of the two one-sided p-values. Below ALPHA, a and b are
    equivalent within +-margin; otherwise they are not shown to be."""
    spread, df = _spread_and_df(a, b)
    if not spread > 0 or math.isnan(df):
        return math.nan
    difference = a.mean - b.mean
    above_lower = scipy_stats.t.sf((difference + margin) / spread, df)  # H0: difference <= -margin
    below_upper = scipy_stats.t.cdf((difference - margin) / spread, df)  # H0: difference >= margin
    return float(max(above_lower, below_upper))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of the p-values of one family of comparisons (NaNs are not
    comparisons: they stay NaN and do not count)."""
    order = sorted((p, i) for i, p in enumerate(pvalues) if not math.isnan(p))
    adjusted, running = [math.nan] * len(pvalues), 0.0
    for rank, (p, i) in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p))
        adjusted[i] = running
    return adjusted


def fisher(failed_a: int, n_a: int, failed_b: int, n_b: int) -> float:
    """Two-sided p-value of Fisher's exact test that two failure rates are equal."""
    table = [[failed_a, n_a - failed_a], [failed_b, n_b - failed_b]]
    return float(scipy_stats.fisher_exact(table, alternative="two-sided").pvalue)


def wilson(successes: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Wilson's score interval for a proportion successes / n (a rate of labels right, say):
    unlike the normal approximation it stays inside [0, 1] and is not empty at 0 or n."""
    if n == 0:
        return math.nan, math.nan
    z = float(scipy_stats.norm.ppf(0.5 + level / 2))
    share, shrink = successes / n, 1 + z * z / n
    centre = (share + z * z / (2 * n)) / shrink
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / shrink
    return max(0.0, centre - half), min(1.0, centre + half)
