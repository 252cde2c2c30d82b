"""R3GAN's annealing (Huang et al. 2024): hyperparameters that move from their starting value to a
final one along half a cosine over the first `steps` training steps, then hold -- their code's
`cosine_decay_with_warmup` (brownvc/R3GAN, training/training_loop.py; its presets use neither the
warm-up nor the hold), evaluated once per step at the images seen before it.

The starting values are the config's own: each player's optim.lr and b2, reg.r1 and reg.r2, and a
half-life of 0 images for G's moving average (R3GAN's start: the average is G itself). R3GAN's
presets anneal all of them over the same span (CIFAR-10: lr 2e-4 -> 5e-5, beta2 0.9 -> 0.99, gamma
0.05 -> 0.005, EMA half-life 0 -> 5M images, over 20M images). Written-down difference: their
augmentation probability, annealed the same way, is not (their pipeline adds cutout to ADA's and
halves the colour transforms' probabilities; augment.py's ADA is the paper's), and G's moving
average here averages BatchNorm statistics too, where theirs copies G's buffers (R3GAN's networks
have no BatchNorm)."""

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections

from gan_jax.errors import ConfigError


def cosine(step: jax.Array | int, start: float, final: float, steps: int) -> jax.Array:
    """`start` at step 0, `final` from step `steps` on, along half a cosine between. Their
    (1 - cos(pi f)) / 2 is written sin(pi f / 2)^2: the same, without float32's cancellation near 0."""
    fraction = jnp.minimum(jnp.asarray(step, jnp.float32) / steps, 1.0)
    return start + (final - start) * jnp.sin(0.5 * math.pi * fraction) ** 2


@dataclasses.dataclass(frozen=True)
class Anneal:
    """config.anneal: its fields are that section's keys (config_section). A final value of 0
    leaves that hyperparameter as the config sets it."""

    steps: int = 0  # training steps the annealing takes (R3GAN: decay images / batch); 0: off
    lr: float = 0.0  # final learning rate of both players
    b2: float = 0.0  # final Adam beta2 of both players
    gamma: float = 0.0  # final weight of R1 and of R2 (each one in use)
    ema_images: float = 0.0  # final half-life of G's moving average, in images (from 0)

    def __post_init__(self):
        if self.steps < 0:
            raise ConfigError(f"config.anneal.steps={self.steps} must be >= 0 (0: no annealing).")
        for name in ("lr", "b2", "gamma", "ema_images"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"config.anneal.{name}={value} must be finite and >= 0 (0: not annealed).")
        if self.b2 >= 1:
            raise ConfigError(f"config.anneal.b2={self.b2} must be below 1.")
        if not self.steps and any((self.lr, self.b2, self.gamma, self.ema_images)):
            raise ConfigError("config.anneal sets final values but steps=0: give the steps they take.")

    def value(self, final: float, start: float, step: jax.Array | int) -> jax.Array | float:
        """The hyperparameter at `step`: annealed from `start` when `final` is set, else `start`."""
        return cosine(step, start, final, self.steps) if final else start

    def schedule(self, final: float, start: float, updates_per_step: int) -> Callable[[jax.Array], jax.Array]:
        """`value` as an optax schedule of an optimiser's update count, `updates_per_step` of them a
        training step: all of one step's updates get that step's value."""
        return lambda count: self.value(final, start, count // updates_per_step)

    def ema_decay(self, step: jax.Array, batch_size: int) -> jax.Array:
        """G's moving-average decay at `step`: 0.5 per half-life of images (R3GAN's ema_beta)."""
        half_life = self.value(self.ema_images, 0.0, step)
        return 0.5 ** (batch_size / jnp.maximum(half_life, 1e-8))


OFF = Anneal()


def config_section() -> ml_collections.ConfigDict:
    """The config's `anneal` section: Anneal's fields at their defaults (off)."""
    return ml_collections.ConfigDict(dataclasses.asdict(Anneal()))


def annealing(cfg: ml_collections.ConfigDict) -> Anneal:
    return Anneal(**cfg)
