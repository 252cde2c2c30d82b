"""Penalties and constraints on the players beside their objective (config.reg, config.loss.*_historical).

Penalties on D's input gradients, added to D's loss (D's real/fake output as a function of its
input batch, with the real batch's labels or the generated batch's for a conditional D; every
penalty is a mean over the batch):
  'gradient_penalty'  lambda E (||grad_x D(x_hat)|| - 1)^2 at x_hat = e x + (1 - e) G(z), e ~ U[0, 1]
                      per example: WGAN-GP (Gulrajani et al. 2017; lambda = 10 there)
  'r1'                gamma/2 E ||grad_x D(x)||^2 on real data (Mescheder et al. 2018)
  'r2'                gamma/2 E ||grad_x D(G(z))||^2 on generated data
  'dragan'            lambda E (||grad_x D(x_hat)|| - 1)^2 at x_hat = x + a (x_p - x) near real data,
                      x_p = x + 0.5 std(x) u, u ~ U[0, 1] per pixel, a ~ U[0, 1] per example:
                      DRAGAN (Kodali et al. 2017; lambda = 10 there), as its authors' code perturbs
With `reg.every = k > 1` they are lazy (Karras et al. 2020, StyleGAN2): applied at every k-th D
update, multiplied by k. The gradients are per example only when D treats the examples of a batch
independently: a BatchNorm D couples them (WGAN-GP's critic has no BatchNorm).
  'bcr_real'          lambda E (D(x) - D(T(x)))^2 and 'bcr_fake' the same on G(z): balanced consistency
  'bcr_fake'          regularisation (Zhao et al. 2021; lambda = 10 both there), T = augment's
                      consistency_transform (x-flip and a shift by up to `bcr_shift` of the
                      side, 1/8 as the paper's; the shift alone where `bcr_flip` is off)
LeCam (Tseng et al. 2021), `lecam` lambda: lambda (E relu(D(x) - a_F)^2 + E relu(a_R - D(G(z)))^2),
a_R / a_F exponential moving averages (decay 0.99, zero-debiased, this batch included) of D's
mean outputs on real / generated data, as the authors' StyleGAN2 code (google/lecam-gan,
stylegan2/lecam_loss.py; their BigGAN CIFAR-10 scripts use lambda = 0.3). The anchors are
`LeCamAnchors` in the GANState, so a resumed run continues them exactly.
Constraint: 'weight_clip' c clips every parameter of D to [-c, c] after each update (WGAN, Arjovsky
et al. 2017; c = 0.01 there).
Historical averaging (Salimans et al. 2016, 3.3): lambda ||theta - mean of past theta||^2 on either
player's parameters (weights: config.loss.g_historical / d_historical, losses.Objective). Its state,
a `RunningMean` of the player's parameters in the GANState (None when off), is started, penalised
and updated here; the train step only calls `historical_penalty` and `remember`.
"""

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections

from gan_jax import augment
from gan_jax.anneal import OFF, Anneal
from gan_jax.errors import ConfigError

Critic = Callable[[jax.Array], jax.Array]  # input batch -> D's real/fake outputs, one per example


def _input_gradients(d: Critic, x: jax.Array) -> jax.Array:
    """grad_x of each example's output, flattened per example: [batch, features]."""
    grads = jax.grad(lambda inputs: jnp.sum(d(inputs)))(x)
    return grads.reshape(grads.shape[0], -1)


def _unit_norm_penalty(d: Critic, x: jax.Array) -> jax.Array:
    """E (||grad_x D(x)|| - 1)^2 over the batch."""
    norms = jnp.sqrt(jnp.sum(_input_gradients(d, x) ** 2, axis=1) + 1e-12)
    return jnp.mean((norms - 1.0) ** 2)


def _per_example(key: jax.Array, x: jax.Array) -> jax.Array:
    """U[0, 1], one value per example, broadcastable against x."""
    return jax.random.uniform(key, (x.shape[0],) + (1,) * (x.ndim - 1), x.dtype)


def gradient_penalty(d_real: Critic, d_fake: Critic, real: jax.Array, fake: jax.Array, key: jax.Array):
    """(||grad D(x_hat)|| - 1)^2 on interpolates, with the real batch's labels."""
    e = _per_example(key, real)
    return _unit_norm_penalty(d_real, e * real + (1.0 - e) * fake)


def dragan_penalty(d_real: Critic, d_fake: Critic, real: jax.Array, fake: jax.Array, key: jax.Array):
    """(||grad D(x_hat)|| - 1)^2 on real data perturbed by up to half its std, with its labels."""
    k_example, k_pixel = jax.random.split(key)
    perturbed = real + 0.5 * jnp.std(real) * jax.random.uniform(k_pixel, real.shape, real.dtype)
    return _unit_norm_penalty(d_real, real + _per_example(k_example, real) * (perturbed - real))


def r1_penalty(d_real: Critic, d_fake: Critic, real: jax.Array, fake: jax.Array, key: jax.Array):
    return 0.5 * jnp.mean(jnp.sum(_input_gradients(d_real, real) ** 2, axis=1))


def r2_penalty(d_real: Critic, d_fake: Critic, real: jax.Array, fake: jax.Array, key: jax.Array):
    return 0.5 * jnp.mean(jnp.sum(_input_gradients(d_fake, fake) ** 2, axis=1))


def _consistency(d: Critic, x: jax.Array, key: jax.Array, **transform: Any) -> jax.Array:
    """E (D(x) - D(T(x)))^2: how much D's output moves under the consistency transform T (its
    `flip` and shift `ratio` as Regularization.penalty binds them; the paper's by default)."""
    return jnp.mean((d(x) - d(augment.consistency_transform(key, x, **transform))) ** 2)


def bcr_real_penalty(
    d_real: Critic, d_fake: Critic, real: jax.Array, fake: jax.Array, key: jax.Array, **transform: Any
) -> jax.Array:
    return _consistency(d_real, real, key, **transform)


def bcr_fake_penalty(
    d_real: Critic, d_fake: Critic, real: jax.Array, fake: jax.Array, key: jax.Array, **transform: Any
) -> jax.Array:
    return _consistency(d_fake, fake, key, **transform)


PENALTIES = {
    "gradient_penalty": gradient_penalty,
    "r1": r1_penalty,
    "r2": r2_penalty,
    "dragan": dragan_penalty,
    "bcr_real": bcr_real_penalty,
    "bcr_fake": bcr_fake_penalty,
}
LECAM_DECAY = 0.99


@flax.struct.dataclass
class LeCamAnchors:
    """LeCam's anchors: moving averages of D's mean outputs, stored biased (as TensorFlow's
    assign_moving_average with zero_debias) and read debiased."""

    real: jax.Array
    fake: jax.Array
    updates: jax.Array  # float32: how many batches the averages are over

    @classmethod
    def start(cls) -> "LeCamAnchors":
        zero = jnp.zeros((), jnp.float32)
        return cls(zero, zero, zero)

    def add(self, real_outputs: jax.Array, fake_outputs: jax.Array) -> "LeCamAnchors":
        mean = lambda v: jax.lax.stop_gradient(jnp.mean(v))  # noqa: E731
        mix = lambda old, new: LECAM_DECAY * old + (1 - LECAM_DECAY) * new  # noqa: E731
        return LeCamAnchors(
            mix(self.real, mean(real_outputs)), mix(self.fake, mean(fake_outputs)), self.updates + 1
        )

    def debiased(self) -> tuple[jax.Array, jax.Array]:
        correction = 1 - LECAM_DECAY**self.updates
        return self.real / correction, self.fake / correction


def lecam_anchors(anchors: LeCamAnchors | None, real_outputs, fake_outputs) -> LeCamAnchors | None:
    """The anchors after one D update on these outputs (None stays None: LeCam off)."""
    return None if anchors is None else anchors.add(real_outputs, fake_outputs)


def lecam_penalty(weight: float, anchors: LeCamAnchors | None, real_outputs, fake_outputs) -> jax.Array:
    """lambda (E relu(D(x) - a_F)^2 + E relu(a_R - D(G(z)))^2), the anchors including this batch."""
    if anchors is None:
        return jnp.zeros(())
    a_real, a_fake = lecam_anchors(anchors, real_outputs, fake_outputs).debiased()
    real_term = jnp.mean(jax.nn.relu(real_outputs - a_fake) ** 2)
    return weight * (real_term + jnp.mean(jax.nn.relu(a_real - fake_outputs) ** 2))


@flax.struct.dataclass
class RunningMean:
    """The mean of every parameter value a player has had: historical averaging's target."""

    mean: Any
    count: jax.Array  # float32 scalar: how many values the mean is over

    @classmethod
    def start(cls, params) -> "RunningMean":
        return cls(jax.tree.map(jnp.copy, params), jnp.ones(()))

    def add(self, params) -> "RunningMean":
        count = self.count + 1.0
        return RunningMean(jax.tree.map(lambda m, p: m + (p - m) / count, self.mean, params), count)


def historical_penalty(weight: float, history: RunningMean | None, params) -> jax.Array:
    """weight x ||theta - average||^2 summed over every parameter (0 when off: no history)."""
    if history is None:
        return jnp.zeros(())
    squares = zip(jax.tree.leaves(params), jax.tree.leaves(history.mean), strict=True)
    return weight * sum(jnp.sum((p - a) ** 2) for p, a in squares)


def remember(history: RunningMean | None, params) -> RunningMean | None:
    """The history after a player's update to `params` (None stays None)."""
    return None if history is None else history.add(params)


def clip_weights(params, bound: float):
    return jax.tree.map(lambda p: jnp.clip(p, -bound, bound), params)


@dataclasses.dataclass(frozen=True)
class Regularization:
    """The penalties on D (weights; 0 = off), their laziness and D's weight clipping. Its fields
    are the config's `reg` section (config_section): a new penalty is its function, its PENALTIES
    entry and its field here."""

    gradient_penalty: float = 0.0  # WGAN-GP's lambda (10 in its paper)
    r1: float = 0.0  # gamma of R1 (real data) and R2 (generated data), Mescheder et al. 2018
    r2: float = 0.0
    dragan: float = 0.0  # DRAGAN's lambda (10 in its paper)
    bcr_real: float = 0.0  # bCR's lambda_real and lambda_fake (10 each in its paper)
    bcr_fake: float = 0.0
    bcr_flip: bool = True  # bCR's T flips x half the time (the paper's, on CIFAR-10); off: the shift alone
    bcr_shift: float = 1 / 8  # T's shift: up to this fraction of the side (the paper's 4 of 32 px)
    lecam: float = 0.0  # LeCam's lambda (0.3 in the authors' BigGAN CIFAR-10 scripts)
    every: int = 1  # lazy regularisation (StyleGAN2): the penalties every k-th D update, times k
    weight_clip: float = 0.0  # WGAN: clip D's parameters to [-c, c] after each update (0.01 there)

    def __post_init__(self):
        for name in (*PENALTIES, "lecam", "weight_clip"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"config.reg.{name}={value} must be a finite number >= 0 (0: off).")
        if not 0 <= self.bcr_shift <= 0.5:
            raise ConfigError(
                f"config.reg.bcr_shift={self.bcr_shift} must be a fraction of the side in [0, 0.5]."
            )
        if self.every < 1:
            raise ConfigError(f"config.reg.every={self.every} must be >= 1 (1: every D update).")

    def penalty(self, name: str) -> Callable:
        """PENALTIES[name] with this config's options for it (bCR's flip and shift)."""
        found = PENALTIES[name]
        options = {"flip": self.bcr_flip, "ratio": self.bcr_shift}
        return functools.partial(found, **options) if name.startswith("bcr_") else found

    @property
    def penalties(self) -> dict[str, float]:
        """The penalties in use, name -> weight."""
        return {name: getattr(self, name) for name in PENALTIES if getattr(self, name) > 0}

    def d_penalty(
        self,
        d_real: Critic,
        d_fake: Critic,
        real,
        fake,
        key: jax.Array,
        step: jax.Array,
        anneal: Anneal = OFF,
    ):
        """The weighted sum of the penalties in use (0 when none), lazily every `every` steps;
        `d_real` / `d_fake`: D's outputs with the real / generated batch's labels. R1's and R2's
        gamma anneal to anneal.gamma (R3GAN)."""
        if not self.penalties:
            return jnp.zeros(())

        def weight(name: str, w: float):
            return anneal.value(anneal.gamma, w, step) if name in ("r1", "r2") else w

        def total(_):
            keys = jax.random.split(key, len(self.penalties))
            named = zip(self.penalties.items(), keys, strict=True)
            terms = [weight(n, w) * self.penalty(n)(d_real, d_fake, real, fake, k) for (n, w), k in named]
            return self.every * sum(terms)

        if self.every == 1:
            return total(None)
        return jax.lax.cond(step % self.every == 0, total, lambda _: jnp.zeros(()), None)


def config_section() -> ml_collections.ConfigDict:
    """The config's `reg` section: Regularization's fields at their defaults (all off)."""
    return ml_collections.ConfigDict(dataclasses.asdict(Regularization()))


def regularization(cfg: ml_collections.ConfigDict) -> Regularization:
    """Regularization from the config's `reg` section."""
    return Regularization(**cfg)
