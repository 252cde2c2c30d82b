"""Layers shared by the generators and discriminators: the Improved-GAN techniques that live in
the networks (Salimans et al. 2016) and the conditioning of Mirza & Osindero 2014 / Miyato &
Koyama 2018.

* MinibatchDiscrimination: features f (N, A) -> M = f T reshaped (N, B, C);
  o(x_i)_b = sum_{j != i} exp(-||M_i,b - M_j,b||_1), appended to f. Across the *whole* batch:
  under jit + sharding that is the global batch, whatever the device count.
* VirtualBatchNorm: normalises each example with the statistics of a reference batch fixed at the
  start of training *and the example itself* (weights R/(R+1) and 1/(R+1)); the reference rows
  (the first `ref_size` rows of the input) are normalised with their own statistics. An example's
  output therefore does not depend on the rest of its batch.
* ConditionalBatchNorm: BatchNorm without affine parameters, then a scale and shift per class.
* minibatch_stddev: Karras et al. 2018's minibatch standard deviation, the cheap descendant of
  minibatch discrimination: per group of consecutive examples, the standard deviation of every
  feature over the group, averaged over the features, appended to each member's features.
* pack: PacGAN's packing (Lin et al. 2018): D judges m samples at once, examples
  i*m, ..., i*m + m - 1 of the batch concatenated along the last axis (features or channels).
* SlotBatchNorm: BatchNorm over each of m interleaved slices of the batch by its own statistics
  (PacGAN's code runs G once per pack slot).
* DiscriminatorHead: the output layer of D on its last features: optional minibatch
  discrimination, `outputs` logits (1, or K for the semi-supervised K-class D), and the
  projection term <embed(y), features> of a projection discriminator.
"""

import functools
import math
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

INIT_STD = 0.02


def pack(x: jax.Array, m: int) -> jax.Array:
    """(N, ..., C) -> (N / m, ..., m * C): example i*m + k is the k-th member of pack i, its values
    at channels [k*C, (k+1)*C) (PacGAN's concatenation; m = 1 returns x)."""
    if m == 1:
        return x
    if x.shape[0] % m:
        raise ValueError(f"A batch of {x.shape[0]} examples does not split into packs of {m}.")
    packs = x.reshape(x.shape[0] // m, m, *x.shape[1:])
    return jnp.moveaxis(packs, 1, -2).reshape(x.shape[0] // m, *x.shape[1:-1], m * x.shape[-1])


def vector(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (math.prod(shape),)


def drawn_as(
    init: nn.initializers.Initializer, draw_shape: Callable[[tuple[int, ...]], tuple[int, ...]] = vector
) -> nn.initializers.Initializer:
    """`init` drawn at `draw_shape(shape)` (a vector by default) and reshaped: the same values --
    JAX's threefry numbers the elements in row-major order; the draw shape must keep whatever
    `init` reads of the shape (none for normal and truncated_normal; the fans for variance
    scaling) -- but a run's first start and the tests compile less: flax's init runs eagerly, and
    XLA:CPU compiles a lower-rank draw several times faster, once per draw shape instead of once
    per shape (tests/test_models.py and tests/test_resnet.py check the values)."""

    def draw(key, shape, *args, **kwargs):
        return init(key, draw_shape(tuple(shape)), *args, **kwargs).reshape(shape)

    return draw


def normal_init(std: float = INIT_STD) -> nn.initializers.Initializer:
    return drawn_as(nn.initializers.normal(std))


def scale_init(key, shape, dtype=jnp.float32):
    return 1.0 + INIT_STD * jax.random.normal(key, shape, dtype)


class MinibatchDiscrimination(nn.Module):
    num_kernels: int  # B
    kernel_dim: int  # C

    @nn.compact
    def __call__(self, f: jax.Array) -> jax.Array:
        t = self.param("T", normal_init(0.1), (f.shape[-1], self.num_kernels * self.kernel_dim))
        m = (f @ t).reshape(f.shape[0], self.num_kernels, self.kernel_dim)
        l1 = jnp.abs(m[:, None] - m[None, :]).sum(-1)  # (N, N, B)
        o = jnp.exp(-l1).sum(1) - 1.0  # the j = i term is exp(0) = 1
        return jnp.concatenate([f, o], axis=-1)


class VirtualBatchNorm(nn.Module):
    ref_size: int
    epsilon: float = 1e-5

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        every = tuple(range(x.ndim - 1))  # batch and spatial axes
        spatial = tuple(range(1, x.ndim - 1))
        ref = x[: self.ref_size]
        ref_mean = ref.mean(every, keepdims=True)
        ref_sq = (ref * ref).mean(every, keepdims=True)
        own_mean = x.mean(spatial, keepdims=True) if spatial else x
        own_sq = (x * x).mean(spatial, keepdims=True) if spatial else x * x
        w = 1.0 / (self.ref_size + 1)
        is_ref = (jnp.arange(x.shape[0]) < self.ref_size).reshape((-1,) + (1,) * (x.ndim - 1))
        mean = jnp.where(is_ref, ref_mean, w * own_mean + (1 - w) * ref_mean)
        sq = jnp.where(is_ref, ref_sq, w * own_sq + (1 - w) * ref_sq)
        normalised = (x - mean) * jax.lax.rsqrt(jnp.maximum(sq - mean * mean, 0.0) + self.epsilon)
        scale = self.param("scale", scale_init, (x.shape[-1],))
        return normalised * scale + self.param("bias", nn.initializers.zeros, (x.shape[-1],))


class ConditionalBatchNorm(nn.Module):
    num_classes: int
    use_running_average: bool

    @nn.compact
    def __call__(self, x: jax.Array, y: jax.Array) -> jax.Array:
        x = nn.BatchNorm(
            use_running_average=self.use_running_average,
            momentum=0.9,
            epsilon=1e-5,
            use_scale=False,
            use_bias=False,
            name="bn",
        )(x)
        shape = (-1,) + (1,) * (x.ndim - 2) + (x.shape[-1],)
        scale = nn.Embed(self.num_classes, x.shape[-1], embedding_init=scale_init, name="scale")(y)
        bias = nn.Embed(self.num_classes, x.shape[-1], embedding_init=nn.initializers.zeros, name="bias")(y)
        return x * scale.reshape(shape) + bias.reshape(shape)


def group_size(discriminator: nn.Module) -> int:
    """How many examples D must see together: one minibatch-stddev group of PacGAN packs (1 with
    neither). Batches, and each device's share of one, are multiples of it."""
    return discriminator.pack * max(1, getattr(discriminator, "minibatch_std", 0))


def minibatch_stddev(h: jax.Array, group: int) -> jax.Array:
    """h (N, A) -> (N, A + 1): each example's features and the mean over the A features of their
    standard deviation within its group (examples i*group .. i*group + group - 1; ProGAN's
    epsilon 1e-8 under the square root). Groups of consecutive examples stay on one device when
    the per-device batch is a multiple of `group`."""
    if h.shape[0] % group:
        raise ValueError(f"A batch of {h.shape[0]} does not split into minibatch-stddev groups of {group}.")
    groups = h.reshape(h.shape[0] // group, group, h.shape[-1])
    std = jnp.sqrt(jnp.mean(jnp.square(groups - groups.mean(1, keepdims=True)), axis=1) + 1e-8)
    per_group = jnp.repeat(std.mean(-1), group)[:, None]  # (N, 1)
    return jnp.concatenate([h, per_group], axis=-1)


class SlotBatchNorm(nn.Module):
    """BatchNorm whose training statistics are those of each of `slots` interleaved slices of the
    batch -- example i in slice i mod slots, the (i mod m)-th member of a PacGAN pack of m (`pack`)
    -- with one scale and shift, over every axis but the features (the last). PacGAN's code runs G
    once per pack slot, so its BatchNorm normalises each slot's samples by their own statistics;
    the running averages move by the mean over the slots of their statistics (their 2-D code merges
    the slots' updates so; it averages standard deviations, here variances, as nn.BatchNorm keeps).
    slots = 1 is nn.BatchNorm with scale 1 and shift 0 at the start; the variables are named as its."""

    slots: int
    use_running_average: bool
    momentum: float
    epsilon: float

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        features = x.shape[-1]
        scale = self.param("scale", nn.initializers.ones, (features,))
        bias = self.param("bias", nn.initializers.zeros, (features,))
        running_mean = self.variable("batch_stats", "mean", jnp.zeros, (features,))
        running_var = self.variable("batch_stats", "var", jnp.ones, (features,))

        def normalise(v, mean, var):
            return (v - mean) * jax.lax.rsqrt(var + self.epsilon) * scale + bias

        if self.use_running_average or self.is_initializing():  # (initialised on a single row)
            return normalise(x, running_mean.value, running_var.value)
        if x.shape[0] % self.slots:
            raise ValueError(f"A batch of {x.shape[0]} samples does not split into {self.slots} slots.")
        slotted = x.reshape(x.shape[0] // self.slots, self.slots, -1, features)
        mean, var = slotted.mean((0, 2), keepdims=True), slotted.var((0, 2), keepdims=True)  # per slot
        for running, new in ((running_mean, mean), (running_var, var)):
            running.value = self.momentum * running.value + (1 - self.momentum) * new.mean((0, 1, 2))
        return normalise(slotted, mean, var).reshape(x.shape)


class DiscriminatorHead(nn.Module):
    outputs: int = 1  # 1: real/fake logit; K: class logits of the semi-supervised D
    minibatch_std: int = 0  # > 0: group size of the minibatch standard deviation feature
    minibatch_kernels: int = 0  # 0: no minibatch discrimination
    minibatch_kernel_dim: int = 5
    projection_classes: int = 0  # > 0: projection discriminator over that many classes
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, h: jax.Array, y: jax.Array | None = None) -> jax.Array:
        """h (N, A) -> logits (N,) or (N, outputs)."""
        f = minibatch_stddev(h, self.minibatch_std) if self.minibatch_std else h
        if self.minibatch_kernels:
            f = MinibatchDiscrimination(self.minibatch_kernels, self.minibatch_kernel_dim, name="minibatch")(
                f
            )
        out = nn.Dense(self.outputs, kernel_init=self.kernel_init, name="to_logit")(f)
        if self.projection_classes:
            embed = nn.Embed(
                self.projection_classes, h.shape[-1], embedding_init=normal_init(), name="projection"
            )
            out = out + jnp.sum(embed(y) * h, axis=-1, keepdims=True)
        return out[:, 0] if self.outputs == 1 else out


def spectral(layer: nn.Module, enabled: bool, train: bool):
    """`layer`, or `layer` with each weight matrix divided by its largest singular value (Miyato et
    al. 2018, flax's nn.SpectralNorm; a conv kernel as a (k*k*C_in, C_out) matrix). The power
    iteration's vector u and the estimate sigma live in 'batch_stats' and advance by one iteration
    per call in training: D's update keeps them, G's update drops D's statistics."""
    if not enabled:
        return layer
    return functools.partial(nn.SpectralNorm(layer, name=f"{layer.name}_sn"), update_stats=train)


def one_hot_maps(y: jax.Array, num_classes: int, spatial: tuple[int, ...]) -> jax.Array:
    """Labels (N,) -> one-hot label maps (N, *spatial, K), for concatenation with D's input."""
    one_hot = jax.nn.one_hot(y, num_classes).reshape((y.shape[0],) + (1,) * len(spatial) + (num_classes,))
    return jnp.broadcast_to(one_hot, (y.shape[0], *spatial, num_classes))
