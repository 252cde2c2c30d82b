"""Stacked MNIST (Metz et al. 2017; VEEGAN; PacGAN): three independently drawn digits as the three
channels of one image, 10^3 = 1,000 modes. Built on any single-channel labelled source (`idx:` files
or `tfds:mnist`): data.name = 'stacked:idx:<dir>' or 'stacked:tfds:mnist'.

Each channel walks through the base data set in its own epochs (its own permutation stream), so
the three digits of an image are independent; the label is 100 * d_red + 10 * d_green + d_blue.
"""

import dataclasses

import jax
import jax.numpy as jnp

from gan_jax.data.source import Batch, DataSource, sample_epochs
from gan_jax.errors import DataError

CHANNELS = 3


def load_stacked(base: DataSource) -> DataSource:
    if base.kind != "images" or base.shape[-1] != 1 or "label" not in base.arrays:
        raise DataError(
            f"stacked: needs a labelled single-channel image source, got {base.name} with shape "
            f"{base.shape}; use e.g. data.name='stacked:idx:<dir>' or 'stacked:tfds:mnist'."
        )

    def sample(arrays: dict, key: jax.Array, draw: jax.Array, batch_size: int) -> Batch:
        parts = [sample_epochs(arrays, jax.random.fold_in(key, c), draw, batch_size) for c in range(CHANNELS)]
        label = sum(p["label"] * 10 ** (CHANNELS - 1 - c) for c, p in enumerate(parts))
        return {"x": jnp.concatenate([p["x"] for p in parts], axis=-1), "label": label}

    return dataclasses.replace(
        base,
        name=f"stacked:{base.name}",
        shape=(*base.shape[:-1], CHANNELS),
        sample=sample,
        num_classes=base.num_classes**CHANNELS,
    )
