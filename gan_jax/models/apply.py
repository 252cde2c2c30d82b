"""Running the networks: one way to apply G or D (with or without BatchNorm statistics, D's noise
layers and the features D sows, in float32 or in mixed precision), G's samples (with virtual batch
norm's reference batch), and the labels samples are drawn for. The train step, the evaluation and
`experiments.sample` all use these, so the networks are applied the same way everywhere."""

from collections.abc import Callable

import jax
import jax.numpy as jnp

from gan_jax.state import GAN


def _cast(tree, dtype):
    """Every floating array of `tree` as `dtype` (integer labels stay as they are)."""
    return jax.tree.map(lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree)


def apply_net(
    module,
    variables: dict,
    x: jax.Array,
    train: bool,
    y=None,
    rng=None,
    features: bool = False,
    dtype: str = "float32",
):
    """(output, new batch_stats[, sown features]) for networks with and without BatchNorm.

    `dtype` is the compute dtype (config.model.dtype). Below float32 it is mixed precision: the
    parameters and the input are cast to it for this pass only, and the output, the features and
    the new BatchNorm statistics come back in float32 -- so parameters, optimiser state, running
    statistics, losses and metrics stay float32, and gradients reach the float32 parameters
    through the casts."""
    rngs = {"noise": rng} if rng is not None else None
    mutable = (["batch_stats"] if train else []) + (["intermediates"] if features else [])
    stats = variables["batch_stats"]
    if dtype != "float32":
        variables, x = {**variables, "params": _cast(variables["params"], dtype)}, _cast(x, dtype)
    if not mutable:
        return _cast(module.apply(variables, x, y, train=False, rngs=rngs), jnp.float32), stats
    out, mutated = module.apply(variables, x, y, train=train, rngs=rngs, mutable=mutable)
    out, new_stats = _cast(out, jnp.float32), mutated.get("batch_stats", stats)
    new_stats = jax.tree.map(lambda new, old: new.astype(old.dtype), new_stats, stats)
    if features:
        return out, new_stats, _cast(mutated["intermediates"]["features"], jnp.float32)
    return out, new_stats


def generate(gan: GAN, variables: dict, z: jax.Array, y: jax.Array, train: bool, reference: dict | None):
    """(samples, new batch_stats) of G; with virtual batch norm the reference batch runs along."""
    if reference is not None:
        z, y = jnp.concatenate([reference["z"], z]), jnp.concatenate([reference["y"], y])
    return apply_net(gan.generator, variables, z, train, y, dtype=gan.dtype)


def make_sampler(gan: GAN) -> Callable:
    """jitted (variables, z, y, reference) -> G's samples in inference mode (running averages)."""
    return jax.jit(lambda variables, z, y, reference: generate(gan, variables, z, y, False, reference)[0])


def balanced_labels(gan: GAN, n: int) -> jax.Array:
    """0, 1, ..., K-1, 0, 1, ... for class-conditional sample grids and evaluations."""
    return jnp.arange(n, dtype=jnp.int32) % max(gan.num_classes, 1)


def sample_labels(gan: GAN, key: jax.Array, n: int) -> jax.Array:
    """Labels for generated samples: uniform over the classes (zeros when unconditional)."""
    return jax.random.randint(key, (n,), 0, max(gan.num_classes, 1))
