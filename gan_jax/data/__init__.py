"""Data sources by name; see `source.py` for what a source is and how batches are drawn."""

import ml_collections

from gan_jax.data.images import load_digits, load_idx, load_tfds
from gan_jax.data.mixtures import MIXTURES, load_mixture
from gan_jax.data.source import Batch, DataSource, labelled_subset, training_arrays
from gan_jax.data.stacked import load_stacked

__all__ = ["Batch", "DataSource", "load", "labelled_subset", "training_arrays", "KNOWN_SOURCES"]

KNOWN_SOURCES = (*MIXTURES, "digits", "idx:<dir>", "tfds:<name>", "stacked:<source>")


def load(cfg: ml_collections.ConfigDict) -> DataSource:
    """The source named by cfg.name (cfg: the config's `data` section)."""
    name = cfg.name
    if name.startswith("stacked:"):
        base = ml_collections.ConfigDict({**cfg.to_dict(), "name": name[len("stacked:") :]})
        return load_stacked(load(base))
    if name in MIXTURES:
        return load_mixture(name)
    if name == "digits":
        return load_digits(cfg.image_size, cfg.split)
    if name.startswith("idx:"):
        return load_idx(name[len("idx:") :], cfg.split, cfg.image_size)
    if name.startswith("tfds:"):
        return load_tfds(name[len("tfds:") :], cfg.split, cfg.image_size, cfg.data_dir or None, cfg.download)
    raise ValueError(f"Unknown config.data.name {name!r}; known sources: {KNOWN_SOURCES}.")
