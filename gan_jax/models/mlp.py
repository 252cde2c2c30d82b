"""The multilayer-perceptron G and D of Goodfellow et al. 2014.

The paper's G is an MLP with ReLU hidden units; its D an MLP with maxout units (Goodfellow et
al. 2013). Both take and return flat vectors, reshaped here to the data's shape so the same
networks serve 1-D/2-D mixtures and small images. `width_mult` scales every hidden layer, so that
the capacity of G and D can be unbalanced on purpose.
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

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


class MLP(nn.Module):
    """Hidden layers of `width * width_mult` units with `activation`, then a linear layer."""

    out_dim: int
    width: int = 128
    depth: int = 2
    width_mult: float = 1.0
    activation: str = "relu"
    maxout_pieces: int = 5

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        units = max(1, round(self.width * self.width_mult))
        for i in range(self.depth):
            if self.activation == "maxout":
                x = Maxout(units, self.maxout_pieces, name=f"hidden{i}")(x)
            else:
                x = nn.Dense(units, name=f"hidden{i}")(x)
                x = nn.relu(x) if self.activation == "relu" else nn.leaky_relu(x, 0.2)
        return nn.Dense(self.out_dim, name="out")(x)


class MLPGenerator(nn.Module):
    """z (N, z_dim) -> samples (N, *data_shape); `output='tanh'` for data in [-1, 1]."""

    data_shape: tuple[int, ...]
    width: int = 128
    depth: int = 2
    width_mult: float = 1.0
    activation: str = "relu"
    output: str = "linear"

    @nn.compact
    def __call__(self, z: jax.Array, train: bool = True) -> jax.Array:
        del train  # no batch statistics; the signature is shared with DCGAN
        dim = math.prod(self.data_shape)
        x = MLP(dim, self.width, self.depth, self.width_mult, self.activation, name="mlp")(z)
        x = jnp.tanh(x) if self.output == "tanh" else x
        return x.reshape(z.shape[0], *self.data_shape)


class MLPDiscriminator(nn.Module):
    """samples (N, *data_shape) -> logits (N,)."""

    width: int = 128
    depth: int = 2
    width_mult: float = 1.0
    activation: str = "maxout"
    maxout_pieces: int = 5

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        del train
        x = x.reshape(x.shape[0], -1)
        mlp = MLP(1, self.width, self.depth, self.width_mult, self.activation, self.maxout_pieces, name="mlp")
        return mlp(x)[:, 0]
