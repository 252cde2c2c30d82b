"""The optimal discriminator and how far the learned one is from it (1-D data).

For fixed G, the D that maximises V(D, G) is D*(x) = p_data(x) / (p_data(x) + p_g(x))
(Goodfellow et al. 2014, Proposition 1); at the global optimum p_g = p_data and D* = 1/2. A
PacGAN D judges packs of m independent samples, so its optimum on a pack is the same ratio of the
product densities; on the pack (x, ..., x) that is p_data(x)^m / (p_data(x)^m + p_g(x)^m). p_g is
estimated from G's samples by a Gaussian kernel density estimate (Scott's bandwidth rule).
"""

import numpy as np


def mixture_density(x: np.ndarray, means: np.ndarray, stds: np.ndarray) -> np.ndarray:
    """Density of an equal-weight 1-D Gaussian mixture."""
    x = np.asarray(x, np.float64)
    pdfs = [
        np.exp(-0.5 * ((x - m) / s) ** 2) / (s * np.sqrt(2 * np.pi)) for m, s in zip(means, stds, strict=True)
    ]
    return np.mean(pdfs, axis=0)


def optimal_discriminator(grid: np.ndarray, p_data: np.ndarray, generated: np.ndarray, pack: int = 1):
    """(D*(grid), p_g(grid)) with p_g from a KDE of the generated 1-D samples; D* of packs of
    `pack` copies of each grid point."""
    from scipy.stats import gaussian_kde  # ~1 s to import: only the 1-D metric needs it

    p_g = gaussian_kde(np.asarray(generated, np.float64).ravel())(grid)
    total = p_data**pack + p_g**pack
    d_star = np.divide(p_data**pack, total, out=np.full_like(total, 0.5), where=total > 1e-300)
    return d_star, p_g


def discriminator_gap(d_learned: np.ndarray, d_star: np.ndarray, weights: np.ndarray) -> dict:
    """Mean (weighted by `weights`, e.g. (p_data + p_g) / 2) and max |D - D*| over a grid."""
    gap = np.abs(np.asarray(d_learned) - d_star)
    w = np.asarray(weights) / np.sum(weights)
    return {"mean_abs": float(np.sum(w * gap)), "max_abs": float(gap.max())}
