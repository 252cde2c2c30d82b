"""The DCGAN of carpedm20/DCGAN-tensorflow: the networks behind the Stacked MNIST tables of
VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018), read from PacGAN's code
(fjxmlzn/PacGAN, stacked_MNIST_experiments/VEEGAN_experiment/model.py and ops.py); with
`kernel`, `layers`, G's `output='conv'` and D's `leak` and `norm_first`, the smaller networks of
PacGAN's Table 3 (Metz et al.'s setting: unrolled_GAN_experiment/D=0.25G and D=0.5G/model.py).

It differs from models/dcgan.py (PyTorch's example) in every layer, so it is its own pair:
* k x k kernels (5; Table 3: 3), stride 2, TensorFlow's 'SAME' padding, so any image size works:
  `layers` stride-2 layers whatever the size (4; Table 3: 3), the maps of size ceil(size / 2^i)
  (28 px: 28, 14, 7, 4, 2);
  G's transposed convolutions are the transposes of those convolutions (as tf.nn.conv2d_transpose
  with its output shape), so they land on 7 from 4. Each takes the form its map favours
  (`conv_impl`, `layer_form`): matrix products of shifted slices on the small maps
  (models/conv.py `conv2d_patches`; XLA:CPU's own convolutions of 5x5 kernels on 4x4 maps are
  ~100x slower), the custom-VJP form on the large ones (`conv2d_same`);
* biases in every convolution and linear layer; G projects z with a biased linear layer to the
  smallest map, channels halving each map up to `width`; its image is the last transposed
  convolution's output, or (`output='conv'`, Table 3) a 3x3 stride-1 convolution's after it;
* BatchNorm as tf.contrib.layers.batch_norm (decay 0.9, epsilon 1e-5, scale 1 and shift 0 at the
  start) after every layer but G's output and D's first (`norm_first`: that one too, Table 3); G's
  per pack slot with `norm_slots` = m, as their PacDCGAN runs G once per slot
  (layers.SlotBatchNorm);
* weights: convolutions N(0, 0.02) truncated at 2 standard deviations, transposed convolutions and
  linear layers N(0, 0.02); ReLU in G with tanh at its output, LeakyReLU(`leak`: 0.2; Table 3:
  0.3) in D;
* D's `pack` = m concatenates m images along the channels (PacDCGAN's input of 3 m channels).

Images are NHWC; `width` is their gf_dim / df_dim (64; Table 3: G 8, D 2 or 4).
"""

import math
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax.errors import ConfigError
from gan_jax.models import conv
from gan_jax.models.dcgan import square_image
from gan_jax.models.layers import SlotBatchNorm, drawn_as, normal_init, pack

STRIDE = 2
BN_MOMENTUM, BN_EPSILON = 0.9, 1e-5  # tf.contrib.layers.batch_norm as ops.py sets it


def map_sizes(image_size: int, layers: int) -> list[int]:
    """The feature maps' sizes from the image down `layers` stride-2 layers: size, ceil(size / 2), ..."""
    return [math.ceil(image_size / STRIDE**k) for k in range(layers + 1)]


CONV_IMPLS = ("auto", "patches", "custom_vjp")


def layer_form(impl: str, size: int, kernel: int) -> str:
    """The form of a convolution whose larger map is size x size: `impl`, or for 'auto' the
    patch form where the kernel spans half the map or more and models/conv.py's custom-VJP form
    (XLA:CPU's fast kernel) on larger maps -- measured layer by layer, docs/mode_collapse.md."""
    if impl != "auto":
        return impl
    return "custom_vjp" if size > 2 * kernel else "patches"


class _Conv(nn.Module):
    """A biased k x k 'SAME' convolution of `stride` (`size` = 0) or a stride-2 transposed
    convolution to `size` (kernel (k, k, out, in), as tf.nn.conv2d_transpose's), in the form
    `layer_form` chooses."""

    features: int
    kernel: int
    size: int = 0
    stride: int = STRIDE
    impl: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k = self.kernel
        if self.size:
            w = self.param("kernel", normal_init(0.02), (k, k, self.features, x.shape[-1]))
            patches = layer_form(self.impl, self.size, k) == "patches"
            transpose = conv.conv2d_transpose_patches if patches else conv.conv2d_transpose_same
            y = transpose(x, w.astype(x.dtype), STRIDE, self.size)
        else:
            shape = (k, k, x.shape[-1], self.features)
            w = self.param("kernel", drawn_as(nn.initializers.truncated_normal(0.02)), shape)
            if layer_form(self.impl, x.shape[1], k) == "patches":
                pad = conv.same_padding(x.shape[1], k, self.stride)
                y = conv.conv2d_patches(x, w.astype(x.dtype), self.stride, pad)
            else:
                y = conv.conv2d_same(x, w.astype(x.dtype), self.stride)
        return y + self.param("bias", nn.initializers.zeros, (self.features,)).astype(x.dtype)


def _batch_norm(train: bool, name: str, slots: int = 1) -> SlotBatchNorm:
    return SlotBatchNorm(slots, not train, BN_MOMENTUM, BN_EPSILON, name=name)


def _unconditional(num_classes: int) -> None:
    if num_classes:
        raise ConfigError(
            "config.model.name='dcgan_tf' is unconditional (as its papers' code); set "
            "config.model.conditional=False, or use 'dcgan' for a conditional GAN."
        )


class DCGANTFGenerator(nn.Module):
    """z (N, z_dim) -> images (N, size, size, channels) in [-1, 1] (tanh)."""

    image_size: int
    channels: int
    width: int = 64  # channels of the last hidden map (gf_dim); x 2 each map down
    width_mult: float = 1.0
    kernel: int = 5
    layers: int = 4  # stride-2 up-sampling layers from the projected map to the image
    output: str = "transposed"  # the last up-sampling makes the image, or 'conv': a stride-1 conv after it
    norm_slots: int = 1  # > 1: BatchNorm per slot of PacGAN's packs (their G runs once per slot)
    conv_impl: str = "auto"  # the convolutions' form (layer_form)
    num_classes: int = 0
    CHOICES: ClassVar[dict] = {"output": ("transposed", "conv"), "conv_impl": CONV_IMPLS}
    reference_batch_size: ClassVar[int] = 0  # no virtual batch norm

    def __post_init__(self):
        _unconditional(self.num_classes)
        if self.norm_slots < 1:
            raise ConfigError(f"config.model.g.norm_slots={self.norm_slots}: a whole number >= 1.")
        super().__post_init__()

    @staticmethod
    def data_fields(data_shape: tuple[int, ...]) -> dict:
        size, channels = square_image(data_shape)
        return {"image_size": size, "channels": channels}

    @nn.compact
    def __call__(self, z: jax.Array, y: jax.Array | None = None, train: bool = True) -> jax.Array:
        del y
        sizes = map_sizes(self.image_size, self.layers)
        hidden = sizes[-2:0:-1] if self.output == "transposed" else sizes[-2::-1]  # their maps' sizes
        ch = max(1, round(self.width * self.width_mult)) * 2 ** len(hidden)
        x = nn.Dense(sizes[-1] ** 2 * ch, kernel_init=normal_init(0.02), name="project")(z)
        x = x.reshape(z.shape[0], sizes[-1], sizes[-1], ch)
        x = nn.relu(_batch_norm(train, "bn_project", self.norm_slots)(x))
        for i, size in enumerate(hidden):
            ch //= 2
            x = _Conv(ch, self.kernel, size, impl=self.conv_impl, name=f"up{i}")(x)
            x = nn.relu(_batch_norm(train, f"bn_up{i}", self.norm_slots)(x))
        if self.output == "transposed":
            return jnp.tanh(
                _Conv(self.channels, self.kernel, sizes[0], impl=self.conv_impl, name="to_image")(x)
            )
        return jnp.tanh(_Conv(self.channels, self.kernel, stride=1, impl=self.conv_impl, name="to_image")(x))


class DCGANTFDiscriminator(nn.Module):
    """images (N, size, size, channels) -> logits (N / pack,)."""

    image_size: int
    width: int = 64  # channels of the first map (df_dim); x 2 each map down
    width_mult: float = 1.0
    kernel: int = 5
    layers: int = 4  # stride-2 convolutions from the image
    leak: float = 0.2  # LeakyReLU's slope
    norm_first: bool = False  # BatchNorm after the first convolution too
    pack: int = 1  # PacGAN: D judges packs of this many images, concatenated along the channels
    conv_impl: str = "auto"  # the convolutions' form (layer_form)
    num_classes: int = 0
    outputs: int = 1
    CHOICES: ClassVar[dict] = {"conv_impl": CONV_IMPLS}

    def __post_init__(self):
        _unconditional(self.num_classes)
        if self.outputs != 1:
            raise ConfigError("config.model.name='dcgan_tf': D has one output (no semi-supervised D).")
        super().__post_init__()

    @staticmethod
    def data_fields(data_shape: tuple[int, ...]) -> dict:
        return {"image_size": square_image(data_shape)[0]}

    @nn.compact
    def __call__(self, x: jax.Array, y: jax.Array | None = None, train: bool = True) -> jax.Array:
        del y
        x = pack(x, self.pack)
        ch = max(1, round(self.width * self.width_mult))
        for i in range(self.layers):
            x = _Conv(ch * 2**i, self.kernel, impl=self.conv_impl, name=f"down{i}")(x)
            if i or self.norm_first:
                x = _batch_norm(train, f"bn_down{i}")(x)
            x = nn.leaky_relu(x, self.leak)
        x = x.reshape(x.shape[0], -1)
        return nn.Dense(1, kernel_init=normal_init(0.02), name="to_logit")(x)[:, 0]
