"""GAN objectives, all from D's logits (pre-sigmoid), numerically stable for any logit.

Goodfellow et al. 2014 define the value function
    V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))],   D = sigmoid(logit),
which D ascends and G descends; at the equilibrium D = 1/2 everywhere and V = -log 4.
With log sigmoid(l) = -softplus(-l) and log(1 - sigmoid(l)) = -softplus(l) every term is a
softplus, which never overflows and whose gradient is a sigmoid, never NaN.

G's losses, selected by name (config.loss.g):
  'saturating'      minimise E log(1 - D(G(z)))  -- the minimax game itself; its gradient
                    vanishes when D rejects the samples confidently (early training).
  'non_saturating'  minimise -E log D(G(z))      -- the paper's practical fix: same fixed
                    point, strong gradients early.
Other objectives (hinge, Wasserstein, least squares) register here under a new name.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

LOG_4 = float(jnp.log(4.0))


def value_function(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """V(D, G) estimated on a batch; in [-inf, 0], equal to -log 4 at the equilibrium."""
    return -jnp.mean(jax.nn.softplus(-real_logits)) - jnp.mean(jax.nn.softplus(fake_logits))


def minimax_d_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """D ascends V, i.e. minimises -V (binary cross-entropy, real = 1, fake = 0)."""
    return -value_function(real_logits, fake_logits)


def saturating_g_loss(fake_logits: jax.Array) -> jax.Array:
    """E log(1 - D(G(z))), minimised by G."""
    return -jnp.mean(jax.nn.softplus(fake_logits))


def non_saturating_g_loss(fake_logits: jax.Array) -> jax.Array:
    """-E log D(G(z)), minimised by G."""
    return jnp.mean(jax.nn.softplus(-fake_logits))


D_LOSSES: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
    "minimax": minimax_d_loss,
}
G_LOSSES: dict[str, Callable[[jax.Array], jax.Array]] = {
    "saturating": saturating_g_loss,
    "non_saturating": non_saturating_g_loss,
}


def _lookup(table: dict, name: str, key: str):
    if name not in table:
        raise ValueError(f"Unknown {key} {name!r}; choose one of {sorted(table)}.")
    return table[name]


def d_loss_fn(name: str) -> Callable[[jax.Array, jax.Array], jax.Array]:
    return _lookup(D_LOSSES, name, "config.loss.d")


def g_loss_fn(name: str) -> Callable[[jax.Array], jax.Array]:
    return _lookup(G_LOSSES, name, "config.loss.g")
