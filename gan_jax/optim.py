"""Optimisers for G and D, built from their config sections (config.optim.g / config.optim.d)."""

import ml_collections
import optax

from gan_jax.errors import ConfigError

OPTIMIZERS = ("adam", "sgd")


def make(cfg: ml_collections.ConfigDict, which: str) -> optax.GradientTransformation:
    """`adam` (lr, b1, b2) -- DCGAN uses 2e-4, 0.5, 0.999 -- or `sgd` with momentum (lr, b1)."""
    if cfg.name == "adam":
        return optax.adam(cfg.lr, b1=cfg.b1, b2=cfg.b2)
    if cfg.name == "sgd":
        return optax.sgd(cfg.lr, momentum=cfg.b1 or None)
    raise ConfigError(f"Unknown config.optim.{which}.name {cfg.name!r}; choose one of {OPTIMIZERS}.")
