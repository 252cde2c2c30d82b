"""The multilayer-perceptron G and D of Goodfellow et al. 2014.

The paper's G is an MLP with ReLU hidden units; its D an MLP with maxout units (Goodfellow et
al. 2013). Both take and return flat vectors, reshaped here to the data's shape so the same
networks serve 1-D/2-D mixtures and small images. `width_mult` scales every hidden layer, so that
the capacity of G and D can be unbalanced on purpose.

Options (off by default): class conditioning (a label embedding concatenated with z in G; a
one-hot label concatenated with the input, or a projection head, in D); Gaussian noise added to
each layer's input of D during training (`noise_std`, as in Salimans et al.'s MNIST D); and D's
head options (minibatch discrimination, K class outputs; see layers.py). For the mode-collapse
papers' own networks: BatchNorm in G's hidden layers (`norm='batch'`, PacGAN's G; `norm_slots=m`
normalises each slot of PacGAN's packs of m by its own statistics, as their G runs once a slot),
tanh units and the weight initialisation (`weight_init`: flax's default LeCun normal,
N(0, weight_scale^2) as PacGAN's N(0, 0.02^2), or orthogonal with gain weight_scale as the
unrolled GAN's 1.4; biases start at 0).
"""

import math
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax.errors import ConfigError
from gan_jax.models.layers import DiscriminatorHead, SlotBatchNorm, normal_init, pack, spectral

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "maxout")
OUTPUTS = ("linear", "tanh")
INITS = ("default", "normal", "orthogonal")
_UNITS = {"relu": nn.relu, "leaky_relu": lambda v: nn.leaky_relu(v, 0.2), "tanh": jnp.tanh}


def kernel_init(init: str, scale: float) -> nn.initializers.Initializer:
    """The weights' initialiser: flax's LeCun normal, N(0, scale^2), or orthogonal with gain scale."""
    if init == "normal":
        return normal_init(scale)
    if init == "orthogonal":
        return nn.initializers.orthogonal(scale)
    return nn.linear.default_kernel_init


BN_MOMENTUM, BN_EPSILON = 0.95, 1e-4  # Blocks' defaults, as PacGAN's code sets them


def batch_norm(train: bool, name: str, slots: int = 1) -> nn.Module:
    """G's BatchNorm as in PacGAN's code (Blocks): running averages updated by 0.05 of each
    batch's statistics, epsilon 1e-4, scale 1 and shift 0 at the start; over `slots` > 1
    interleaved slices of the batch, each by its own statistics (SlotBatchNorm)."""
    if slots > 1:
        return SlotBatchNorm(slots, not train, BN_MOMENTUM, BN_EPSILON, name=name)
    return nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)


class Maxout(nn.Module):
    """max over `pieces` affine maps: a learned piecewise-linear convex activation. The max is the
    arg-max piece gathered, whose gradient goes to that piece: jnp.max's gradient divides by the
    number of pieces equal to the max, and where XLA computes the pieces twice, rounded apart
    (XLA:CPU at -O0, under tests/test_unrolled.py's second-order reference), that count is 0 and
    the gradient NaN. Values and gradients are jnp.max's but at exact ties, which it splits."""

    features: int
    pieces: int
    kernel_init: nn.initializers.Initializer = nn.linear.default_kernel_init

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        y = nn.Dense(self.features * self.pieces, kernel_init=self.kernel_init)(x)
        y = y.reshape(*x.shape[:-1], self.features, self.pieces)
        return jnp.take_along_axis(y, jnp.argmax(y, axis=-1, keepdims=True), axis=-1)[..., 0]


def hidden_layer(
    units: int,
    activation: str,
    pieces: int,
    name: str,
    init: nn.initializers.Initializer,
    spectral_norm: bool = False,
    train: bool = False,
    norm: nn.Module | None = None,
):
    """A Dense layer with `activation`, or a maxout layer; optionally spectrally normalised, or
    batch-normalised before the activation (the Dense then has no bias, as in PacGAN's G)."""
    if activation == "maxout":
        return spectral(Maxout(units, pieces, init, name=name), spectral_norm, train)
    dense = spectral(
        nn.Dense(units, use_bias=norm is None, kernel_init=init, name=name), spectral_norm, train
    )
    normalise = norm or (lambda v: v)
    return lambda x: _UNITS[activation](normalise(dense(x)))


class MLPGenerator(nn.Module):
    """z (N, z_dim) [, labels y] -> samples (N, *data_shape); `output='tanh'` for data in [-1, 1]."""

    data_shape: tuple[int, ...]
    width: int = 128
    depth: int = 2
    width_mult: float = 1.0
    activation: str = "relu"
    output: str = "linear"
    norm: str = "none"  # or 'batch': BatchNorm before each hidden activation (PacGAN's G)
    norm_slots: int = 1  # > 1: BatchNorm per slice of the batch (SlotBatchNorm; PacGAN's G per pack slot)
    weight_init: str = "default"
    weight_scale: float = 1.0  # the std of weight_init='normal', the gain of 'orthogonal'
    num_classes: int = 0  # > 0: conditional on labels y (a label embedding concatenated with z)
    CHOICES: ClassVar[dict] = {
        "activation": ("relu", "leaky_relu", "tanh"),
        "output": OUTPUTS,
        "norm": ("none", "batch"),
        "weight_init": INITS,
    }
    reference_batch_size: ClassVar[int] = 0  # no virtual batch norm

    def __post_init__(self):
        if self.norm_slots < 1 or (self.norm_slots > 1 and self.norm != "batch"):
            raise ConfigError(
                f"config.model.g.norm_slots={self.norm_slots}: G's BatchNorm per slot of PacGAN's packs "
                "takes a whole number >= 1, and > 1 only with config.model.g.norm='batch'."
            )
        super().__post_init__()

    @staticmethod
    def data_fields(data_shape: tuple[int, ...]) -> dict:
        return {"data_shape": data_shape}

    @nn.compact
    def __call__(self, z: jax.Array, y: jax.Array | None = None, train: bool = True) -> jax.Array:
        if self.num_classes:
            z = jnp.concatenate([z, nn.Embed(self.num_classes, z.shape[-1], name="label_embedding")(y)], -1)
        units = max(1, round(self.width * self.width_mult))
        init = kernel_init(self.weight_init, self.weight_scale)
        x = z
        for i in range(self.depth):
            norm = batch_norm(train, f"bn{i}", self.norm_slots) if self.norm == "batch" else None
            x = hidden_layer(units, self.activation, 0, f"hidden{i}", init, norm=norm)(x)
        x = nn.Dense(math.prod(self.data_shape), kernel_init=init, name="out")(x)
        x = jnp.tanh(x) if self.output == "tanh" else x
        return x.reshape(z.shape[0], *self.data_shape)


class MLPDiscriminator(nn.Module):
    """samples (N, *data_shape) [, labels y] -> logits (N,) (or (N, outputs)).

    Sows every hidden layer's output as 'intermediates'/'features' (for feature matching)."""

    width: int = 128
    depth: int = 2
    width_mult: float = 1.0
    activation: str = "maxout"
    maxout_pieces: int = 5
    num_classes: int = 0
    condition: str = "concat"  # or 'projection'
    outputs: int = 1
    minibatch_kernels: int = 0
    minibatch_kernel_dim: int = 5
    noise_std: float = 0.0  # Gaussian noise on every layer's input while training ('noise' rng)
    spectral_norm: bool = False  # every layer's weights spectrally normalised (layers.spectral)
    pack: int = 1  # PacGAN: D judges packs of this many samples (layers.pack); logits (N / pack,)
    minibatch_std: int = 0  # > 1: Karras et al.'s minibatch stddev over groups of this many (0: off)
    weight_init: str = "default"
    weight_scale: float = 1.0  # the std of weight_init='normal', the gain of 'orthogonal'
    CHOICES: ClassVar[dict] = {
        "activation": ACTIVATIONS,
        "condition": ("concat", "projection"),
        "weight_init": INITS,
    }

    @staticmethod
    def data_fields(data_shape: tuple[int, ...]) -> dict:
        del data_shape  # any shape: flattened
        return {}

    @nn.compact
    def __call__(self, x: jax.Array, y: jax.Array | None = None, train: bool = True) -> jax.Array:
        x = pack(x.reshape(x.shape[0], -1), self.pack)
        if self.num_classes and self.condition == "concat":
            x = jnp.concatenate([x, jax.nn.one_hot(y, self.num_classes)], -1)
        units = max(1, round(self.width * self.width_mult))
        init = kernel_init(self.weight_init, self.weight_scale)
        for i in range(self.depth):
            if train and self.noise_std:
                x = x + self.noise_std * jax.random.normal(self.make_rng("noise"), x.shape)
            layer = hidden_layer(
                units, self.activation, self.maxout_pieces, f"hidden{i}", init, self.spectral_norm, train
            )
            x = layer(x)
            self.sow("intermediates", "features", x)
        projection = self.num_classes if self.condition == "projection" else 0
        head = DiscriminatorHead(
            self.outputs,
            self.minibatch_std,
            self.minibatch_kernels,
            self.minibatch_kernel_dim,
            projection,
            kernel_init=init,
            name="head",
        )
        return spectral(head, self.spectral_norm, train)(x, y)
