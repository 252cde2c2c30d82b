"""Data sources by name; see `source.py` for what a source is and how batches are drawn."""

import ml_collections

from gan_jax.data.images import check_disjoint, load_digits, load_idx, load_tfds
from gan_jax.data.mixtures import MIXTURES, load_mixture
from gan_jax.data.source import Batch, DataSource, labelled_subset, training_arrays
from gan_jax.data.stacked import load_stacked
from gan_jax.errors import DataError

__all__ = [
    "Batch",
    "DataSource",
    "KNOWN_SOURCES",
    "labelled_subset",
    "load",
    "load_heldout",
    "training_arrays",
]

KNOWN_SOURCES = (*MIXTURES, "digits", "idx:<dir>", "tfds:<name>", "stacked:<source>")


def load_heldout(cfg: ml_collections.ConfigDict) -> DataSource | None:
    """The held-out examples of cfg.eval_split, which evaluation compares G with; None without an
    eval_split. A held-out split that overlaps the training split is an error: the metrics would
    reward memorising the training set. A mixture trained on a fixed set of points is held out
    by the mixture itself: fresh draws, never trained on."""
    if cfg.name in MIXTURES and cfg.get("train_size", 0):
        return load_mixture(cfg.name)
    if not cfg.eval_split:
        return None
    check_disjoint(cfg.split, cfg.eval_split)
    return load(ml_collections.ConfigDict({**cfg.to_dict(), "split": cfg.eval_split}))


def load(cfg: ml_collections.ConfigDict) -> DataSource:
    """The source named by cfg.name (cfg: the config's `data` section)."""
    name = cfg.name
    if name.startswith("stacked:"):
        base = ml_collections.ConfigDict({**cfg.to_dict(), "name": name[len("stacked:") :]})
        return load_stacked(load(base))
    if name in MIXTURES:
        return load_mixture(name, cfg.get("train_size", 0), cfg.get("seed", 0))
    if name == "digits":
        return load_digits(cfg.image_size, cfg.split)
    if name.startswith("idx:"):
        return load_idx(name[len("idx:") :], cfg.split, cfg.image_size)
    if name.startswith("tfds:"):
        return load_tfds(name[len("tfds:") :], cfg.split, cfg.image_size, cfg.data_dir or None, cfg.download)
    raise DataError(f"Unknown config.data.name {name!r}; known sources: {KNOWN_SOURCES}.")
