"""Data sources by name; see `source.py` for what a source is and how batches are drawn."""

import ml_collections

from gan_jax.data.images import check_disjoint, image_source, load_digits, load_idx, load_tfds
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
PIPELINES = ("auto", "device", "stream")


def load_heldout(cfg: ml_collections.ConfigDict) -> DataSource | None:
    """The held-out examples of cfg.eval_split, which evaluation compares G with; None without an
    eval_split. A held-out split that overlaps the training split is an error: the metrics would
    reward memorising the training set. A mixture trained on a fixed set of points is held out
    by the mixture itself: fresh draws, never trained on."""
    if cfg.name in MIXTURES and cfg.get("train_size", 0):
        return load_mixture(cfg.name)
    if not cfg.eval_split:
        return None
    check_disjoint(cfg.split, cfg.eval_split)  # held out in memory: the evaluation reads it whole
    return load(ml_collections.ConfigDict({**cfg.to_dict(), "split": cfg.eval_split, "pipeline": "device"}))


def load(cfg: ml_collections.ConfigDict, pack: int = 1) -> DataSource:
    """The source named by cfg.name (cfg: the config's `data` section), on the device or streamed
    as cfg.pipeline says ('auto': streamed when the images exceed cfg.device_budget_mb); `pack`:
    the samples D judges at once, which cfg.fixed_packs forms into packs once (a mixture's)."""
    name, pipeline = cfg.name, cfg.get("pipeline", "device")
    if pipeline not in PIPELINES:
        raise DataError(f"config.data.pipeline={pipeline!r} is not one of {PIPELINES}.")
    if name in MIXTURES or name.startswith("stacked:"):
        if pipeline == "stream":
            raise DataError(
                f"config.data.pipeline='stream' streams image sets; {name!r} is built on the device. "
                "Use pipeline='device' (or 'auto')."
            )
        if name in MIXTURES:
            return load_mixture(
                name,
                cfg.get("train_size", 0),
                cfg.get("seed", 0),
                cfg.get("train_modes", 0),
                cfg.get("train_modes_from", 0),
                pack if cfg.get("fixed_packs", False) else 0,
            )
        base = {**cfg.to_dict(), "name": name[len("stacked:") :], "pipeline": "device"}
        return load_stacked(load(ml_collections.ConfigDict(base)))
    if name == "digits":
        examples = load_digits(cfg.image_size, cfg.split)
    elif name.startswith("idx:"):
        examples = load_idx(name[len("idx:") :], cfg.split, cfg.image_size)
    elif name.startswith("tfds:"):
        examples = load_tfds(
            name[len("tfds:") :], cfg.split, cfg.image_size, cfg.data_dir or None, cfg.download
        )
    else:
        raise DataError(f"Unknown config.data.name {name!r}; known sources: {KNOWN_SOURCES}.")
    too_big = examples.nbytes > cfg.get("device_budget_mb", 0) * 2**20
    return image_source(examples, streamed=pipeline == "stream" or (pipeline == "auto" and too_big))
