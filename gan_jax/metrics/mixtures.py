"""Mode coverage on Gaussian mixtures, the protocol of VEEGAN (Srivastava et al. 2017) and PacGAN
(Lin et al. 2018), with a high-quality gate that means the same in every dimension.

Each sample is assigned to its nearest mode by the standardised distance
    d(x, k) = || (x - mu_k) / sigma_k ||_2          (PacGAN's code; sigma = 1 where the data are constant)
and is high-quality when d < r_k, the radius that holds HIGH_QUALITY_MASS = 1 - e^-4.5 (98.9%) of
the mode's own samples: r^2 is the chi-square quantile for the k dimensions in which the data vary.
In 2-D that is PacGAN's rule, d < 3 (P(chi2_2 < 9) = 1 - e^-4.5). For VEEGAN's 1200-D set (noise
in 700 dimensions) r = 28.08: real samples pass 98.9% of the time, pure noise N(0, 9^2) and
constant vectors more than 0.81 from every mode's offset never do. (VEEGAN's own 1200-D gate is
not recoverable from its paper -- the literal "L2 distance < 10" passes no real sample, whose
distance is ~sqrt(700) -- so our 1200-D numbers cannot stand beside theirs.) Like the 2-D rule,
the gate bounds the distance from above only: a sample at a mode's mean counts as high quality.
A mode is captured when at least one high-quality sample is assigned to it. Reverse KL =
KL(p || U) between the histogram p of high-quality samples over the modes and the uniform
distribution U: log M - H(p), 0 when all modes are hit equally, log M when all high-quality
samples sit on one mode. Both are read against what a generator uniform over the modes would
score with as many high-quality samples (`uniform_*`): with few of them even a perfect generator
misses modes and has a positive reverse KL. With none, the reverse KL is imputed as log M.

A mode is *covered* when at least COVERED_SHARE of a uniform generator's share of the samples lie
nearest to it within its neighbourhood: half the distance to the nearest other mode (or the
high-quality radius, if larger: VEEGAN's 1200-D noise puts real samples farther out than that).
Captured asks for precision at the data's scale; covered asks only that the samples sit by the
mode at the plot's scale. A cluster drifted a few standard deviations off its mode stays covered
and is no longer captured: the diagnosis's "modes lost" reads covered modes for that reason
(docs/diagnosis.md, the hand-labelled runs).
"""

import functools
import math

import numpy as np
from scipy import special

HIGH_QUALITY_MASS = 1.0 - math.exp(-4.5)  # the mass of PacGAN's 3-sigma disc in 2-D
COVERED_SHARE = 0.25  # covered: at least a quarter of a uniform generator's share by the mode


def high_quality_threshold(varying_dims: int) -> float:
    """The standardised distance that HIGH_QUALITY_MASS of a mode's own samples stay below: the
    square root of the chi-square(k) quantile, 2 P^-1(k / 2, q) with P the regularised gamma."""
    return float(np.sqrt(2.0 * special.gammaincinv(varying_dims / 2.0, HIGH_QUALITY_MASS)))


def standardized_distances(samples: np.ndarray, means: np.ndarray, stds: np.ndarray) -> np.ndarray:
    """(N, M) distances from each sample to each mode; stds broadcast to (M, dim)."""
    samples = np.asarray(samples, np.float64).reshape(len(samples), -1)
    means = np.asarray(means, np.float64)
    stds = np.broadcast_to(np.asarray(stds, np.float64), means.shape)
    d2 = np.stack([(((samples - m) / s) ** 2).sum(1) for m, s in zip(means, stds, strict=True)], 1)
    return np.sqrt(d2)


def reverse_kl_to_uniform(counts: np.ndarray) -> float | np.ndarray:
    """KL(p || Uniform(M)) for the histogram `counts` (for each, along the last axis): log M when
    at most one mode is hit -- with one mode that is the KL itself; with none (no high-quality
    sample) p is undefined and we take the same worst value, so that a cell averages all of its
    seeds."""
    counts = np.asarray(counts, np.float64)
    total = counts.sum(-1, keepdims=True)
    p = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
    p_log_p = p * np.log(p, out=np.zeros_like(p), where=p > 0)  # 0 log 0 = 0; no sample: log M
    kl = np.log(counts.shape[-1]) + p_log_p.sum(-1)
    return float(kl) if kl.ndim == 0 else kl


UNIFORM_DRAWS = 2_000  # multinomial draws behind a uniform generator's expected reverse KL
UNIFORM_SEED = 0


def uniform_modes_captured(num_modes: int, count: int) -> float:
    """The modes a generator uniform over the modes captures, in expectation, when `count` of its
    samples are high quality: M (1 - (1 - 1/M)^n), exactly. The yardstick for a modes-captured
    figure made from few high-quality samples: a perfect generator is below M too."""
    return num_modes * (1.0 - (1.0 - 1.0 / num_modes) ** count)


@functools.lru_cache(maxsize=4096)
def uniform_reverse_kl(num_modes: int, count: int) -> float:
    """The reverse KL to uniform of a generator uniform over the modes whose high-quality samples
    number `count`, in expectation: the mean over UNIFORM_DRAWS multinomial histograms (seed
    UNIFORM_SEED). Positive for any finite count -- the metric's own small-sample bias."""
    draws = np.random.default_rng(UNIFORM_SEED).multinomial(
        count, np.full(num_modes, 1.0 / num_modes), UNIFORM_DRAWS
    )
    return float(np.mean(reverse_kl_to_uniform(draws)))


def neighbourhood_radii(means: np.ndarray, stds, threshold: float) -> np.ndarray:
    """Each mode's neighbourhood in standardised units: half the distance to the nearest other
    mode, or `threshold` if larger (infinite for a lone mode)."""
    centres = np.asarray(means, np.float64) / np.asarray(stds, np.float64)
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    np.fill_diagonal(gaps, np.inf)
    return np.maximum(threshold, gaps.min(1) / 2)


def mode_coverage(samples: np.ndarray, means: np.ndarray, stds, threshold: float) -> dict:
    """Modes captured and covered, % high-quality samples, reverse KL and per-mode counts (with
    protocol); `threshold`: see high_quality_threshold."""
    d = standardized_distances(samples, means, stds)
    nearest = d.argmin(1)
    distance = d[np.arange(len(d)), nearest]
    high_quality = distance < threshold
    counts = np.bincount(nearest[high_quality], minlength=len(means))
    nearby = np.bincount(
        nearest[distance < neighbourhood_radii(means, stds, threshold)[nearest]], minlength=len(means)
    )
    return {
        "modes_captured": int((counts > 0).sum()),
        "modes_covered": int((nearby >= COVERED_SHARE * len(samples) / len(means)).sum()),
        "num_modes": len(means),
        "high_quality_percent": 100.0 * float(high_quality.mean()),
        "reverse_kl": reverse_kl_to_uniform(counts),
        "high_quality_count": int(counts.sum()),
        "uniform_modes_captured": uniform_modes_captured(len(means), int(counts.sum())),
        "uniform_reverse_kl": uniform_reverse_kl(len(means), int(counts.sum())),
        "counts": counts.tolist(),
        "protocol": {
            "num_samples": len(samples),
            "distance": "standardised L2 distance to the nearest mode",
            "threshold": threshold,
            "high_quality": f"distance < threshold, the radius holding {100 * HIGH_QUALITY_MASS:.1f}% of "
            "a mode's own samples (3 in 2-D)",
            "reference": "VEEGAN/PacGAN: captured = >= 1 high-quality sample nearest to the mode",
            "covered": f"at least {COVERED_SHARE:g} x samples / modes nearest to the mode within half the "
            "distance to the nearest other mode (or the high-quality radius, if larger)",
        },
    }
