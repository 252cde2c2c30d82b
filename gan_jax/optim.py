"""Optimisers for G and D, built from their config sections (config.optim.g / config.optim.d)."""

import ml_collections
import optax

from gan_jax.anneal import OFF, Anneal
from gan_jax.errors import ConfigError

OPTIMIZERS = ("adam", "sgd")


def learning_rate(
    cfg: ml_collections.ConfigDict, which: str, anneal: Anneal = OFF, updates_per_step: int = 1
) -> float | optax.Schedule:
    """cfg.lr; with cfg.decay_steps = n > 0 a linear decay from it to 0 over the player's first n
    updates (Mimicry's 'linear' lr_decay; 0 after them); or annealed to anneal.lr (anneal.py)."""
    steps = cfg.get("decay_steps", 0)
    if steps < 0:
        raise ConfigError(f"config.optim.{which}.decay_steps={steps} must be >= 0 (0: a constant rate).")
    if anneal.lr:
        return anneal.schedule(anneal.lr, cfg.lr, updates_per_step)
    return optax.linear_schedule(cfg.lr, 0.0, steps) if steps else cfg.lr


def make(
    cfg: ml_collections.ConfigDict, which: str, anneal: Anneal = OFF, updates_per_step: int = 1
) -> optax.GradientTransformation:
    """`adam` (lr, b1, b2) -- DCGAN uses 2e-4, 0.5, 0.999 -- or `sgd` with momentum (lr, b1).
    `anneal`'s schedules read the player's update count (Anneal.schedule); an annealed beta2 is a
    hyperparameter in the optimiser's state, and Adam's bias correction uses its current value, as
    PyTorch's."""
    lr = learning_rate(cfg, which, anneal, updates_per_step)
    if cfg.name == "adam" and anneal.b2:
        b2 = anneal.schedule(anneal.b2, cfg.b2, updates_per_step)
        return optax.inject_hyperparams(optax.adam)(learning_rate=lr, b1=cfg.b1, b2=b2)
    if cfg.name == "adam":
        return optax.adam(lr, b1=cfg.b1, b2=cfg.b2)
    if cfg.name == "sgd":
        return optax.sgd(lr, momentum=cfg.b1 or None)
    raise ConfigError(f"Unknown config.optim.{which}.name {cfg.name!r}; choose one of {OPTIMIZERS}.")
