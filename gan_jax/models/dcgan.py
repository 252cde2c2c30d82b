"""DCGAN generator and discriminator (Radford et al. 2015), every guideline of the paper:

* D downsamples with strided convolutions, G upsamples with fractional-strided (transposed) ones;
  no pooling.
* BatchNorm in both networks, except at G's output layer and D's input layer.
* No fully-connected hidden layers: G's only matmul is the projection of z, reshaped to a 4x4
  feature map (the paper's "project and reshape"); D's last convolutional feature map is
  flattened and fed to a single output (`DiscriminatorHead`).
* ReLU in G with Tanh at its output; LeakyReLU(0.2) in D.
* All weights from N(0, 0.02) (BatchNorm scales from N(1, 0.02), as the reference code does).

Images are NHWC in [-1, 1]; sizes 16, 32 or 64 px (4x4 doubled 2, 3 or 4 times), any channel
count. `width` is the channel count at full resolution (the paper's 128 at 64 px; ngf/ndf in
PyTorch's example), multiplied by `width_mult` so G and D can be unbalanced on purpose.

Options beyond the paper (all off by default): class conditioning of G (label embedding
concatenated with z, or conditional BatchNorm) and of D (one-hot label maps at the input, or a
projection head); virtual batch normalisation in G; minibatch discrimination and K class
outputs in D's head (see layers.py).
"""

import math
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax.errors import ConfigError
from gan_jax.models import conv
from gan_jax.models.layers import (
    ConditionalBatchNorm,
    DiscriminatorHead,
    VirtualBatchNorm,
    normal_init,
    one_hot_maps,
    pack,
    scale_init,
    spectral,
)

LEAKY_SLOPE = 0.2
CONV_IMPLS = ("auto", "custom_vjp", "flax")  # auto: conv.resolve
G_NORMS = ("batch", "virtual_batch")
D_NORMS = ("batch", "layer", "none")
_K, _STRIDE, _PAD = 4, 2, 1  # every resolution change: 4x4 kernel, stride 2, padding 1
weight_init = normal_init()


def num_resolution_changes(image_size: int) -> int:
    """How many stride-2 layers connect a 4x4 map to `image_size`; only 16, 32 and 64 px."""
    if image_size not in (16, 32, 64):
        raise ConfigError(f"DCGAN image_size must be 16, 32 or 64, got {image_size}; set data.image_size.")
    return int(math.log2(image_size // 4))


def square_image(data_shape: tuple[int, ...]) -> tuple[int, int]:
    """(size, channels) of (H, W, C) images with H = W; anything else is a ConfigError."""
    if len(data_shape) != 3 or data_shape[0] != data_shape[1]:
        raise ConfigError(f"DCGAN needs square images (H, W, C); the data source gives shape {data_shape}.")
    return data_shape[0], data_shape[2]


def batch_norm(train: bool, name: str) -> nn.BatchNorm:
    """Flax BatchNorm with PyTorch's momentum/epsilon; global-batch statistics under jit."""
    return nn.BatchNorm(
        use_running_average=not train, momentum=0.9, epsilon=1e-5, scale_init=scale_init, name=name
    )


class Conv(nn.Module):
    """Convolution with a square kernel and symmetric zero padding. `impl`: models/conv.py's
    custom-VJP form, XLA's own ('flax'), or the one measured faster here ('auto', conv.resolve);
    the parameters are the same for every form."""

    features: int
    kernel: int = _K
    stride: int = _STRIDE
    pad: int = _PAD
    use_bias: bool = False
    impl: str = "auto"
    kernel_init: nn.initializers.Initializer = weight_init

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        w = self.param("kernel", self.kernel_init, (self.kernel, self.kernel, x.shape[-1], self.features))
        w = w.astype(x.dtype)  # spectral norm hands back a float32 kernel under mixed precision
        if conv.resolve(self.impl, x.dtype) == "custom_vjp":
            y = conv.conv2d(x, w, self.stride, self.pad)
        else:
            y = jax.lax.conv_general_dilated(
                x,
                w,
                (self.stride,) * 2,
                ((self.pad, self.pad),) * 2,
                dimension_numbers=("NHWC", "HWIO", "NHWC"),
            )
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,))
        return y


class ConvTranspose(nn.Module):
    """Fractional-strided convolution; kernel (k, k, out, in) as `nn.ConvTranspose(transpose_kernel=True)`."""

    features: int
    use_bias: bool = False
    impl: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        w = self.param("kernel", weight_init, (_K, _K, self.features, x.shape[-1])).astype(x.dtype)
        if conv.resolve(self.impl, x.dtype) == "flax":  # what nn.ConvTranspose(transpose_kernel=True) runs
            lax_pad = _K - 1 - _PAD
            y = jax.lax.conv_transpose(
                x,
                w,
                (_STRIDE,) * 2,
                ((lax_pad, lax_pad),) * 2,
                dimension_numbers=("NHWC", "HWIO", "NHWC"),
                transpose_kernel=True,
            )
        else:
            y = conv.conv2d_transpose(x, w, _STRIDE, _PAD)
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,))
        return y


class DCGANGenerator(nn.Module):
    """z (N, z_dim) [, labels y (N,)] -> images (N, size, size, channels) in [-1, 1].

    With `norm='virtual_batch'` the first `vbn_ref_size` rows of z are the reference batch and the
    output has only the remaining rows."""

    image_size: int
    channels: int
    width: int = 64
    width_mult: float = 1.0
    conv_impl: str = "auto"
    num_classes: int = 0  # > 0: conditional on labels y
    condition: str = "concat"  # 'concat' (embedding with z) or 'conditional_bn'
    norm: str = "batch"  # or 'virtual_batch' (Salimans et al.)
    vbn_ref_size: int = 64  # virtual batch norm's reference batch, fixed at the start
    CHOICES: ClassVar[dict] = {
        "conv_impl": CONV_IMPLS,
        "condition": ("concat", "conditional_bn"),
        "norm": G_NORMS,
    }

    @staticmethod
    def data_fields(data_shape: tuple[int, ...]) -> dict:
        size, channels = square_image(data_shape)
        return {"image_size": size, "channels": channels}

    @property
    def reference_batch_size(self) -> int:
        """The rows of z that are virtual batch norm's reference batch (0: no VBN)."""
        return self.vbn_ref_size if self.norm == "virtual_batch" else 0

    def _norm(self, x, y, train: bool, name: str):
        if self.norm == "virtual_batch":
            return VirtualBatchNorm(self.vbn_ref_size, name=name)(x)
        if self.num_classes and self.condition == "conditional_bn":
            return ConditionalBatchNorm(self.num_classes, not train, name=name)(x, y)
        return batch_norm(train, name)(x)

    @nn.compact
    def __call__(self, z: jax.Array, y: jax.Array | None = None, train: bool = True) -> jax.Array:
        n_up = num_resolution_changes(self.image_size)
        ch = max(1, round(self.width * self.width_mult)) * 2 ** (n_up - 1)
        if self.num_classes and self.condition == "concat":
            z = jnp.concatenate([z, nn.Embed(self.num_classes, z.shape[-1], name="label_embedding")(y)], -1)
        x = nn.Dense(4 * 4 * ch, use_bias=False, kernel_init=weight_init, name="project")(z)
        x = x.reshape(z.shape[0], 4, 4, ch)
        x = nn.relu(self._norm(x, y, train, "bn_project"))
        for i in range(n_up - 1):
            ch //= 2
            x = ConvTranspose(ch, impl=self.conv_impl, name=f"up{i}")(x)
            x = nn.relu(self._norm(x, y, train, f"bn_up{i}"))
        x = ConvTranspose(self.channels, use_bias=True, impl=self.conv_impl, name="to_image")(x)
        x = jnp.tanh(x)
        return x[self.reference_batch_size :]


class DCGANDiscriminator(nn.Module):
    """images (N, size, size, channels) [, labels y] -> logits (N,) (or (N, outputs)).

    Sows the output of every stage (after its activation) as 'intermediates'/'features', the
    layers feature matching can choose from."""

    image_size: int
    width: int = 64
    width_mult: float = 1.0
    conv_impl: str = "auto"
    num_classes: int = 0  # > 0: conditional on labels y
    condition: str = "concat"  # 'concat' (label maps at the input) or 'projection'
    outputs: int = 1
    minibatch_kernels: int = 0
    minibatch_kernel_dim: int = 5
    norm: str = "batch"  # after each down-sampling conv: 'batch', 'layer' or 'none'
    spectral_norm: bool = False  # every layer's weights spectrally normalised (layers.spectral)
    pack: int = 1  # PacGAN: D judges packs of this many images (layers.pack); logits (N / pack,)
    minibatch_std: int = 0  # > 1: Karras et al.'s minibatch stddev over groups of this many (0: off)
    input_noise_std: float = 0.0  # Gaussian noise on D's input in training (Salimans et al.'s CIFAR D: 0.2)
    dropout: float = 0.0  # rate after each down-sampling block in training (Salimans et al.'s CIFAR D: 0.5)
    CHOICES: ClassVar[dict] = {
        "conv_impl": CONV_IMPLS,
        "condition": ("concat", "projection"),
        "norm": D_NORMS,
    }

    @staticmethod
    def data_fields(data_shape: tuple[int, ...]) -> dict:
        return {"image_size": square_image(data_shape)[0]}

    def _normalise(self, x: jax.Array, train: bool, i: int) -> jax.Array:
        if self.norm == "batch":
            return batch_norm(train, f"bn_down{i}")(x)
        return nn.LayerNorm(name=f"ln_down{i}")(x) if self.norm == "layer" else x

    def _drop(self, x: jax.Array, train: bool) -> jax.Array:
        """Dropout on a block's output, from the 'noise' stream (D's only randomness in training);
        the features sown for feature matching are the block's, before it."""
        if not self.dropout:
            return x
        return nn.Dropout(self.dropout, deterministic=not train, rng_collection="noise")(x)

    @nn.compact
    def __call__(self, x: jax.Array, y: jax.Array | None = None, train: bool = True) -> jax.Array:
        n_down = num_resolution_changes(self.image_size)
        ch = max(1, round(self.width * self.width_mult))
        if train and self.input_noise_std:
            x = x + self.input_noise_std * jax.random.normal(self.make_rng("noise"), x.shape, x.dtype)
        x = pack(x, self.pack)
        if self.num_classes and self.condition == "concat":
            x = jnp.concatenate([x, one_hot_maps(y, self.num_classes, x.shape[1:3])], -1)
        x = spectral(
            Conv(ch, use_bias=True, impl=self.conv_impl, name="from_image"), self.spectral_norm, train
        )(x)
        x = nn.leaky_relu(x, LEAKY_SLOPE)
        self.sow("intermediates", "features", x)
        x = self._drop(x, train)
        for i in range(n_down - 1):
            ch *= 2
            x = spectral(Conv(ch, impl=self.conv_impl, name=f"down{i}"), self.spectral_norm, train)(x)
            x = nn.leaky_relu(self._normalise(x, train, i), LEAKY_SLOPE)
            self.sow("intermediates", "features", x)
            x = self._drop(x, train)
        projection = self.num_classes if self.condition == "projection" else 0
        head = DiscriminatorHead(
            self.outputs,
            self.minibatch_std,
            self.minibatch_kernels,
            self.minibatch_kernel_dim,
            projection,
            weight_init,
            name="head",
        )
        return spectral(head, self.spectral_norm, train)(x.reshape(x.shape[0], -1), y)
