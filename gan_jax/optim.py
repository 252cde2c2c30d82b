"""Optimisers for G and D, built from their config sections (config.optim.g / config.optim.d)."""

import ml_collections
import optax

from gan_jax.errors import ConfigError

OPTIMIZERS = ("adam", "sgd")


def learning_rate(cfg: ml_collections.ConfigDict, which: str) -> float | optax.Schedule:
    """cfg.lr, or with cfg.decay_steps = n > 0 a linear decay from it to 0 over the player's first
    n updates (Mimicry's 'linear' lr_decay; 0 after them)."""
    steps = cfg.get("decay_steps", 0)
    if steps < 0:
        raise ConfigError(f"config.optim.{which}.decay_steps={steps} must be >= 0 (0: a constant rate).")
    return optax.linear_schedule(cfg.lr, 0.0, steps) if steps else cfg.lr


def make(cfg: ml_collections.ConfigDict, which: str) -> optax.GradientTransformation:
    """`adam` (lr, b1, b2) -- DCGAN uses 2e-4, 0.5, 0.999 -- or `sgd` with momentum (lr, b1)."""
    lr = learning_rate(cfg, which)
    if cfg.name == "adam":
        return optax.adam(lr, b1=cfg.b1, b2=cfg.b2)
    if cfg.name == "sgd":
        return optax.sgd(lr, momentum=cfg.b1 or None)
    raise ConfigError(f"Unknown config.optim.{which}.name {cfg.name!r}; choose one of {OPTIMIZERS}.")
