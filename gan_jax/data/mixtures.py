"""Synthetic Gaussian mixtures, sampled afresh inside the step (infinite data).

`ring`  8 Gaussians, means (cos 2 pi k/8, sin 2 pi k/8), k = 0..7, std 0.01 (PacGAN's 2D-ring;
        eight *distinct* modes -- linspace(0, 2 pi, 8) would repeat one and give 7).
`grid`  25 Gaussians, means {-4, -2, 0, 2, 4}^2, std 0.05 (PacGAN's 2D-grid).
`gaussian1d`  one 1-D Gaussian N(4, 0.5^2), for the picture of D against p_data and p_g
        (Goodfellow et al. 2014, Figure 1).
Modes are equally likely; the label of a sample is its mode.
"""

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.data.source import Batch, DataSource


def ring_means(num_modes: int = 8, radius: float = 1.0) -> np.ndarray:
    angles = 2 * np.pi * np.arange(num_modes) / num_modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid_means(values=(-4.0, -2.0, 0.0, 2.0, 4.0)) -> np.ndarray:
    return np.array([(x, y) for x in values for y in values], dtype=np.float64)


MIXTURES = {
    "ring": (ring_means, 0.01),
    "grid": (grid_means, 0.05),
    "gaussian1d": (lambda: np.array([[4.0]]), 0.5),
}


def mixture_sampler(means: np.ndarray, std: float):
    """Draws (label, x) with label uniform over the modes and x ~ N(means[label], std^2 I)."""

    def sample(arrays: dict, key: jax.Array, draw: jax.Array, batch_size: int) -> Batch:
        del arrays
        k_mode, k_noise = jax.random.split(jax.random.fold_in(key, draw))
        labels = jax.random.randint(k_mode, (batch_size,), 0, len(means))
        noise = jax.random.normal(k_noise, (batch_size, means.shape[1]))
        x = jnp.asarray(means, jnp.float32)[labels] + std * noise
        return {"x": x, "label": labels}

    return sample


def load_mixture(name: str) -> DataSource:
    make_means, std = MIXTURES[name]
    means = make_means()
    return DataSource(
        name=name, kind="points", shape=(means.shape[1],), arrays={},
        sample=mixture_sampler(means, std), num_classes=len(means), modes=means, mode_std=std,
    )
