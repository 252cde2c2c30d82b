"""GANState: everything that changes during training, as one pytree.

Pure data (no modules, no optimiser functions), so it can be jitted, donated, sharded and
checkpointed as is. The functions that act on it live in `GAN` (below) and in `steps.py`.
Randomness: `base_key` never changes; the key of step t is fold_in(base_key, t) (see `step_key`),
so a resumed run draws exactly the numbers the uninterrupted run would have drawn.
"""

import dataclasses
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

# Independent random streams derived from the base key.
_STEP_STREAM, _DATA_STREAM = 0, 1


@flax.struct.dataclass
class NetState:
    params: Any
    batch_stats: Any  # running BatchNorm statistics; {} for networks without BatchNorm
    opt_state: Any

    @property
    def variables(self) -> dict:
        return {"params": self.params, "batch_stats": self.batch_stats}


@flax.struct.dataclass
class GANState:
    step: jax.Array  # int32 scalar: completed training steps
    g: NetState
    d: NetState
    g_ema: dict | None  # EMA of G's variables (params and batch_stats); None when off
    base_key: jax.Array  # uint32[2]


@dataclasses.dataclass(frozen=True)
class GAN:
    """The static half of a GAN: networks, optimisers and latent size (never checkpointed)."""

    generator: nn.Module
    discriminator: nn.Module
    g_optimizer: optax.GradientTransformation
    d_optimizer: optax.GradientTransformation
    z_dim: int


def step_key(state: GANState) -> jax.Array:
    return jax.random.fold_in(jax.random.fold_in(state.base_key, _STEP_STREAM), state.step)


def data_key(state: GANState) -> jax.Array:
    """Key of the run's data stream (one key, so epochs are permutations of the whole set)."""
    return jax.random.fold_in(state.base_key, _DATA_STREAM)


def _init_net(module: nn.Module, optimizer, key, example) -> NetState:
    variables = module.init(key, example, train=False)
    params = variables["params"]
    return NetState(params, variables.get("batch_stats", {}), optimizer.init(params))


def create(gan: GAN, seed: int, data_shape: tuple[int, ...], use_ema: bool) -> GANState:
    """Fresh state: weights from each network's initialisers, seeded by `seed` alone."""
    k_g, k_d, k_run = jax.random.split(jax.random.PRNGKey(seed), 3)
    g = _init_net(gan.generator, gan.g_optimizer, k_g, jnp.zeros((1, gan.z_dim)))
    d = _init_net(gan.discriminator, gan.d_optimizer, k_d, jnp.zeros((1, *data_shape)))
    g_ema = jax.tree.map(jnp.copy, g.variables) if use_ema else None
    return GANState(jnp.zeros((), jnp.int32), g, d, g_ema, k_run)


def fixed_noise(seed: int, num: int, z_dim: int) -> jax.Array:
    """The z behind every sample grid of a run: the same at every step and after resume."""
    return jax.random.normal(jax.random.fold_in(jax.random.PRNGKey(seed), 0x5A3B1E), (num, z_dim))
