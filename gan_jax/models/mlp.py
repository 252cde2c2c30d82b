"""The multilayer-perceptron G and D of Goodfellow et al. 2014.

The paper's G is an MLP with ReLU hidden units; its D an MLP with maxout units (Goodfellow et
al. 2013). Both take and return flat vectors, reshaped here to the data's shape so the same
networks serve 1-D/2-D mixtures and small images. `width_mult` scales every hidden layer, so that
the capacity of G and D can be unbalanced on purpose.

Options (off by default): class conditioning (a label embedding concatenated with z in G; a
one-hot label concatenated with the input, or a projection head, in D); Gaussian noise added to
each layer's input of D during training (`noise_std`, as in Salimans et al.'s MNIST D); and D's
head options (minibatch discrimination, K class outputs; see layers.py).
"""

import math
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax.models.layers import DiscriminatorHead, pack, spectral

ACTIVATIONS = ("relu", "leaky_relu", "maxout")
OUTPUTS = ("linear", "tanh")


class Maxout(nn.Module):
    """max over `pieces` affine maps: a learned piecewise-linear convex activation."""

    features: int
    pieces: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        y = nn.Dense(self.features * self.pieces)(x)
        return jnp.max(y.reshape(*x.shape[:-1], self.features, self.pieces), axis=-1)


def hidden_layer(units: int, activation: str, pieces: int, name: str, spectral_norm=False, train=False):
    """A Dense layer with `activation`, or a maxout layer; optionally spectrally normalised."""
    if activation == "maxout":
        return spectral(Maxout(units, pieces, name=name), spectral_norm, train)
    act = nn.relu if activation == "relu" else (lambda v: nn.leaky_relu(v, 0.2))
    dense = spectral(nn.Dense(units, name=name), spectral_norm, train)
    return lambda x: act(dense(x))


class MLPGenerator(nn.Module):
    """z (N, z_dim) [, labels y] -> samples (N, *data_shape); `output='tanh'` for data in [-1, 1]."""

    data_shape: tuple[int, ...]
    width: int = 128
    depth: int = 2
    width_mult: float = 1.0
    activation: str = "relu"
    output: str = "linear"
    num_classes: int = 0  # > 0: conditional on labels y (a label embedding concatenated with z)
    CHOICES: ClassVar[dict] = {"activation": ("relu", "leaky_relu"), "output": OUTPUTS}
    reference_batch_size: ClassVar[int] = 0  # no virtual batch norm

    @staticmethod
    def data_fields(data_shape: tuple[int, ...]) -> dict:
        return {"data_shape": data_shape}

    @nn.compact
    def __call__(self, z: jax.Array, y: jax.Array | None = None, train: bool = True) -> jax.Array:
        del train  # no batch statistics; the signature is shared with DCGAN
        if self.num_classes:
            z = jnp.concatenate([z, nn.Embed(self.num_classes, z.shape[-1], name="label_embedding")(y)], -1)
        units = max(1, round(self.width * self.width_mult))
        x = z
        for i in range(self.depth):
            x = hidden_layer(units, self.activation, 0, f"hidden{i}")(x)
        x = nn.Dense(math.prod(self.data_shape), name="out")(x)
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
    CHOICES: ClassVar[dict] = {"activation": ACTIVATIONS, "condition": ("concat", "projection")}

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
        for i in range(self.depth):
            if train and self.noise_std:
                x = x + self.noise_std * jax.random.normal(self.make_rng("noise"), x.shape)
            layer = hidden_layer(
                units, self.activation, self.maxout_pieces, f"hidden{i}", self.spectral_norm, train
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
            name="head",
        )
        return spectral(head, self.spectral_norm, train)(x, y)
