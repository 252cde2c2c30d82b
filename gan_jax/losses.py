"""GAN objectives, all from D's logits (pre-sigmoid), numerically stable for any logit.

Goodfellow et al. 2014 define the value function
    V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))],   D = sigmoid(logit),
which D ascends and G descends; at the equilibrium D = 1/2 everywhere and V = -log 4.
With log sigmoid(l) = -softplus(-l) and log(1 - sigmoid(l)) = -softplus(l) every term is a
softplus, which never overflows and whose gradient is a sigmoid, never NaN.

D's losses (config.loss.d):
  'minimax'          -V, with one-sided label smoothing when config.loss.real_label = alpha < 1:
                     real targets alpha, fake targets 0 (never smoothed: Salimans et al. 2016, 3.4)
  'semi_supervised'  D has K class logits l; its real/fake logit is logsumexp(l), so that
                     D(x) = Z / (Z + 1), Z = sum exp(l) (Salimans et al. 2016, section 5); the loss
                     is the minimax one on that logit plus cross-entropy on labelled examples.
G's losses (config.loss.g):
  'saturating'       minimise E log(1 - D(G(z))) -- the minimax game itself; its gradient
                     vanishes when D rejects the samples confidently (early training).
  'non_saturating'   minimise -E log D(G(z)) -- the paper's practical fix.
  'feature_matching' minimise ||E f(x) - E f(G(z))||^2 over an intermediate layer f of D
                     (config.loss.feature_layer; Salimans et al. 2016, 3.1).
Historical averaging adds lambda ||theta - mean of past theta||^2 to either player's loss
(config.loss.g_historical / d_historical; Salimans et al. 2016, 3.3).
"""

import dataclasses

import jax
import jax.numpy as jnp
import optax

from gan_jax.errors import ConfigError

LOG_4 = float(jnp.log(4.0))
D_LOSSES = ("minimax", "semi_supervised")
G_LOSSES = ("saturating", "non_saturating", "feature_matching")


def real_fake_logit(outputs: jax.Array) -> jax.Array:
    """D's real/fake logit: its single output, or logsumexp of its K class logits."""
    return outputs if outputs.ndim == 1 else jax.nn.logsumexp(outputs, axis=-1)


def value_function(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """V(D, G) estimated on a batch; in [-inf, 0], equal to -log 4 at the equilibrium."""
    return -jnp.mean(jax.nn.softplus(-real_logits)) - jnp.mean(jax.nn.softplus(fake_logits))


def minimax_d_loss(real_logits: jax.Array, fake_logits: jax.Array, real_label: float = 1.0) -> jax.Array:
    """Binary cross-entropy with real targets `real_label` and fake targets 0; -V when 1."""
    real = real_label * jax.nn.softplus(-real_logits) + (1.0 - real_label) * jax.nn.softplus(real_logits)
    return jnp.mean(real) + jnp.mean(jax.nn.softplus(fake_logits))


def saturating_g_loss(fake_logits: jax.Array) -> jax.Array:
    """E log(1 - D(G(z))), minimised by G."""
    return -jnp.mean(jax.nn.softplus(fake_logits))


def non_saturating_g_loss(fake_logits: jax.Array) -> jax.Array:
    """-E log D(G(z)), minimised by G."""
    return jnp.mean(jax.nn.softplus(-fake_logits))


def feature_matching_loss(real_features: jax.Array, fake_features: jax.Array) -> jax.Array:
    """||mean f(x) - mean f(G(z))||^2 over the batch, features flattened."""
    real = real_features.reshape(real_features.shape[0], -1).mean(0)
    fake = fake_features.reshape(fake_features.shape[0], -1).mean(0)
    return jnp.sum((real - fake) ** 2)


def classification_loss(class_logits: jax.Array, labels: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(class_logits, labels).mean()


def historical_penalty(params, average) -> jax.Array:
    """||theta - average||^2 summed over every parameter."""
    return sum(
        jnp.sum((p - a) ** 2) for p, a in zip(jax.tree.leaves(params), jax.tree.leaves(average), strict=True)
    )


@dataclasses.dataclass(frozen=True)
class Objective:
    """What the two players minimise (built from config.loss by `objective`)."""

    d: str = "minimax"
    g: str = "non_saturating"
    real_label: float = 1.0
    feature_layer: int = -1
    g_historical: float = 0.0
    d_historical: float = 0.0

    def __post_init__(self):
        if self.d not in D_LOSSES:
            raise ConfigError(f"Unknown config.loss.d {self.d!r}; choose one of {D_LOSSES}.")
        if self.g not in G_LOSSES:
            raise ConfigError(f"Unknown config.loss.g {self.g!r}; choose one of {G_LOSSES}.")
        if not 0.0 < self.real_label <= 1.0:
            raise ConfigError(
                f"config.loss.real_label={self.real_label} must be in (0, 1] (1: no smoothing)."
            )

    @property
    def feature_matching(self) -> bool:
        return self.g == "feature_matching"

    @property
    def semi_supervised(self) -> bool:
        return self.d == "semi_supervised"

    def g_loss_from_logits(self, fake_logits: jax.Array) -> jax.Array:
        return (
            saturating_g_loss(fake_logits) if self.g == "saturating" else non_saturating_g_loss(fake_logits)
        )


def objective(cfg) -> Objective:
    """Objective from the config's `loss` section."""
    return Objective(cfg.d, cfg.g, cfg.real_label, cfg.feature_layer, cfg.g_historical, cfg.d_historical)
