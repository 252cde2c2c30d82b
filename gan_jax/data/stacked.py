"""Stacked MNIST (Metz et al. 2017; VEEGAN; PacGAN): three independently drawn digits as the three
channels of one image, 10^3 = 1,000 modes. Built on any single-channel labelled source (`idx:` files
or `tfds:mnist`): data.name = 'stacked:idx:<dir>' or 'stacked:tfds:mnist'.

Each channel walks through the base data set in its own epochs (its own permutation stream), so
the three digits of an image are independent; the label is 100 * d_red + 10 * d_green + d_blue.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.data.source import Batch, DataSource, sample_epochs
from gan_jax.errors import DataError

CHANNELS = 3


def triple_label(digits):
    """The mode of an image whose channels show `digits` (a sequence of CHANNELS label arrays):
    100 * red + 10 * green + blue."""
    return sum(d * 10 ** (CHANNELS - 1 - c) for c, d in enumerate(digits))


def stack(x: np.ndarray, y: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, H, W, 3) whose channel c is the single-channel image x[index[:, c]], and their
    modes; the numpy counterpart of the training stream (the metric bench's pools)."""
    images = np.concatenate([x[index[:, c]] for c in range(CHANNELS)], axis=-1)
    return images, triple_label([y[index[:, c]] for c in range(CHANNELS)])


def every_triple(num_classes: int = 10) -> np.ndarray:
    """(num_classes^3, 3): the class triples in mode order (row t is mode t's digits)."""
    return np.indices((num_classes,) * CHANNELS).reshape(CHANNELS, -1).T


def load_stacked(base: DataSource) -> DataSource:
    if base.kind != "images" or base.shape[-1] != 1 or "label" not in base.arrays:
        raise DataError(
            f"stacked: needs a labelled single-channel image source, got {base.name} with shape "
            f"{base.shape}; use e.g. data.name='stacked:idx:<dir>' or 'stacked:tfds:mnist'."
        )

    def sample(arrays: dict, key: jax.Array, draw: jax.Array, batch_size: int) -> Batch:
        parts = [sample_epochs(arrays, jax.random.fold_in(key, c), draw, batch_size) for c in range(CHANNELS)]
        label = triple_label([p["label"] for p in parts])
        return {"x": jnp.concatenate([p["x"] for p in parts], axis=-1), "label": label}

    return dataclasses.replace(
        base,
        name=f"stacked:{base.name}",
        shape=(*base.shape[:-1], CHANNELS),
        sample=sample,
        num_classes=base.num_classes**CHANNELS,
    )
