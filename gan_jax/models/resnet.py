"""ResNet generator and discriminator of SNGAN (Miyato et al. 2018), as Mimicry builds them
(kwotsin/mimicry, torch_mimicry/nets/sngan/sngan_{32,48,64}.py and modules/resblocks.py, which
follow the authors' Chainer code pfnet-research/sngan_projection):

* G: z -> Dense -> (b x b x C) -> residual up-blocks [BN, ReLU, up x2, conv3x3, BN, ReLU, conv3x3;
  shortcut up x2, conv1x1] -> BN, ReLU, conv3x3 -> Tanh.
* D: an optimised first block [conv3x3, ReLU, conv3x3, avg-pool; shortcut avg-pool, conv1x1], then
  residual blocks [ReLU, conv3x3, ReLU, conv3x3, (avg-pool); shortcut conv1x1 (+ avg-pool) when the
  shape changes, identity otherwise] -> ReLU -> global *sum* pooling -> Dense(1); spectral norm on
  every layer of D (and, an option, of G, as BigGAN does).
* Init as Mimicry's: Xavier-uniform, gain sqrt(2) in the residual branches, 1 in the shortcuts,
  the first Dense and the last layers; biases zero (PyTorch's default is uniform: a difference).

Layouts (LAYOUTS, Mimicry's channel counts): 32 px -- G three up-blocks of 256 channels from 4x4,
D 128 channels in blocks optimised-down, down, same, same (G 4,276,739 parameters, D 1,053,825;
counted from those files by tests/test_resnet.py); 48 px -- G from 6x6, 512 halving to 64; D 64
doubling to 1,024; 64 px -- G 1,024 halving to 64 from 4x4, D 64 doubling to 1,024, five blocks.
16 px is this project's (the digits): the 32 px layout with one up-block fewer in G.
`width` (0: the layout's) sets G's first / D's last channel count, `width_mult` scales it.

Options: `upsample` 'bilinear' (Mimicry; the number behind its published FIDs) or 'nearest' (the
Chainer code's unpooling); class conditioning by conditional BatchNorm in G and a projection head
in D (Miyato & Koyama 2018); a self-attention block (SAGAN, Zhang et al. 2019, BigGAN's form) after
the block that outputs resolution `attention` (0: none); PacGAN packing and the minibatch stddev
in D as in the DCGAN D.
"""

import math
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax.errors import ConfigError
from gan_jax.models.dcgan import CONV_IMPLS, Conv, batch_norm, square_image
from gan_jax.models.layers import ConditionalBatchNorm, DiscriminatorHead, drawn_as, pack, spectral

# image size -> (G's starting resolution, G's block channels as fractions of its width,
#                D's blocks as (channels as a fraction of its width, down-samples), widths (G, D))
LAYOUTS = {
    16: (4, (1, 1), ((1, True), (1, True), (1, False), (1, False)), (256, 128)),
    32: (4, (1, 1, 1), ((1, True), (1, True), (1, False), (1, False)), (256, 128)),
    48: (
        6,
        (1 / 2, 1 / 4, 1 / 8),
        ((1 / 16, True), (1 / 8, True), (1 / 4, True), (1 / 2, True), (1, False)),
        (512, 1024),
    ),
    64: (
        4,
        (1 / 2, 1 / 4, 1 / 8, 1 / 16),
        ((1 / 16, True), (1 / 8, True), (1 / 4, True), (1 / 2, True), (1, True)),
        (1024, 1024),
    ),
}
UPSAMPLES = ("bilinear", "nearest")


def xavier(gain: float = 1.0) -> nn.initializers.Initializer:
    """torch.nn.init.xavier_uniform_(w, gain) for Dense (in, out) and conv (k, k, in, out) kernels;
    a conv kernel drawn as (k * k, in, out), which keeps its fans (layers.drawn_as: why)."""
    return drawn_as(nn.initializers.variance_scaling(gain**2, "fan_avg", "uniform"), _kernel_as_rank3)


def _kernel_as_rank3(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (shape[0] * shape[1], *shape[2:]) if len(shape) == 4 else shape


def layout(image_size: int) -> tuple:
    if image_size not in LAYOUTS:
        raise ConfigError(
            f"The ResNet networks take images of {sorted(LAYOUTS)} px, not {image_size}; set data.image_size."
        )
    return LAYOUTS[image_size]


def channels(width: int, default: int, mult: float, fraction: float) -> int:
    return max(1, round((width or default) * mult * fraction))


def upsample(x: jax.Array, method: str) -> jax.Array:
    """x2 in height and width: bilinear with half-pixel centres (PyTorch's align_corners=False,
    edges clamped), or nearest (each pixel repeated)."""
    n, h, w, c = x.shape
    if method == "nearest":
        return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)
    return jax.image.resize(x, (n, 2 * h, 2 * w, c), "bilinear", antialias=False)


def avg_pool(x: jax.Array) -> jax.Array:
    return nn.avg_pool(x, (2, 2), (2, 2))


class _Conv(nn.Module):
    """A 3x3 (or 1x1) stride-1 convolution with bias and Xavier init, spectrally normalised on
    request (the one convolution of these networks)."""

    features: int
    kernel: int = 3
    gain: float = 1.0
    sn: bool = False
    impl: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        conv = Conv(
            self.features,
            self.kernel,
            1,
            self.kernel // 2,
            use_bias=True,
            impl=self.impl,
            kernel_init=xavier(self.gain),
            name="conv",
        )
        return spectral(conv, self.sn, train)(x)


class SelfAttention(nn.Module):
    """x + gamma * attention(x) over positions (BigGAN's SAGAN block: queries C/8, keys C/8 and
    values C/2 from 1x1 convolutions, keys and values max-pooled 2x2; gamma starts at 0)."""

    sn: bool = False
    impl: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        n, h, w, c = x.shape
        conv = lambda f, name: _Conv(f, 1, sn=self.sn, impl=self.impl, name=name)  # noqa: E731
        pool = lambda t: nn.max_pool(t, (2, 2), (2, 2))  # noqa: E731
        query = conv(max(1, c // 8), "query")(x, train).reshape(n, h * w, -1)
        key = pool(conv(max(1, c // 8), "key")(x, train)).reshape(n, h * w // 4, -1)
        value = pool(conv(max(1, c // 2), "value")(x, train)).reshape(n, h * w // 4, -1)
        attention = jax.nn.softmax(query @ key.swapaxes(1, 2), axis=-1)
        out = conv(c, "out")((attention @ value).reshape(n, h, w, -1), train)
        return x + self.param("gamma", nn.initializers.zeros, ()).astype(x.dtype) * out


class GBlock(nn.Module):
    features: int
    num_classes: int = 0
    upsample: str = "bilinear"
    sn: bool = False
    impl: str = "auto"

    def _norm(self, x, y, train: bool, name: str):
        if self.num_classes:
            return ConditionalBatchNorm(self.num_classes, not train, name=name)(x, y)
        return batch_norm(train, name)(x)

    @nn.compact
    def __call__(self, x: jax.Array, y, train: bool) -> jax.Array:
        conv = lambda f, k, gain, name: _Conv(f, k, gain, self.sn, self.impl, name=name)  # noqa: E731
        h = nn.relu(self._norm(x, y, train, "bn1"))
        h = conv(self.features, 3, math.sqrt(2), "conv1")(upsample(h, self.upsample), train)
        h = nn.relu(self._norm(h, y, train, "bn2"))
        h = conv(self.features, 3, math.sqrt(2), "conv2")(h, train)
        return h + conv(self.features, 1, 1.0, "shortcut")(upsample(x, self.upsample), train)


class DBlock(nn.Module):
    features: int
    downsample: bool
    first: bool = False  # SNGAN's optimised first block: no activation before its first conv
    sn: bool = True
    impl: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        conv = lambda f, k, gain, name: _Conv(f, k, gain, self.sn, self.impl, name=name)  # noqa: E731
        hidden = self.features if self.first else x.shape[-1]
        h = conv(hidden, 3, math.sqrt(2), "conv1")(x if self.first else nn.relu(x), train)
        h = conv(self.features, 3, math.sqrt(2), "conv2")(nn.relu(h), train)
        h = avg_pool(h) if self.downsample else h
        if self.first:
            return h + conv(self.features, 1, 1.0, "shortcut")(avg_pool(x), train)
        if self.downsample or x.shape[-1] != self.features:
            shortcut = conv(self.features, 1, 1.0, "shortcut")(x, train)
            return h + (avg_pool(shortcut) if self.downsample else shortcut)
        return h + x


class ResNetGenerator(nn.Module):
    """z (N, z_dim) [, labels y (N,)] -> images (N, size, size, channels) in [-1, 1]."""

    image_size: int
    channels: int
    width: int = 0  # channels of the first block (0: the layout's: 256 at 16-32 px, 512 at 48, 1,024 at 64)
    width_mult: float = 1.0
    upsample: str = "bilinear"
    conv_impl: str = "auto"
    num_classes: int = 0  # > 0: conditional BatchNorm on labels y
    spectral_norm: bool = False  # BigGAN normalises G's layers too; SNGAN does not
    attention: int = 0  # a self-attention block after the block that outputs this resolution (0: none)
    CHOICES: ClassVar[dict] = {"upsample": UPSAMPLES, "conv_impl": CONV_IMPLS}
    reference_batch_size: ClassVar[int] = 0  # no virtual batch norm

    @staticmethod
    def data_fields(data_shape: tuple[int, ...]) -> dict:
        size, channels_ = square_image(data_shape)
        return {"image_size": size, "channels": channels_}

    @nn.compact
    def __call__(self, z: jax.Array, y: jax.Array | None = None, train: bool = True) -> jax.Array:
        bottom, fractions, _, (default, _) = layout(self.image_size)
        first = channels(self.width, default, self.width_mult, 1.0)
        dense = nn.Dense(bottom * bottom * first, kernel_init=xavier(), name="project")
        x = spectral(dense, self.spectral_norm, train)(z).reshape(z.shape[0], bottom, bottom, first)
        for i, fraction in enumerate(fractions):
            ch = channels(self.width, default, self.width_mult, fraction)
            block = GBlock(
                ch, self.num_classes, self.upsample, self.spectral_norm, self.conv_impl, name=f"block{i}"
            )
            x = block(x, y, train)
            if x.shape[1] == self.attention:
                x = SelfAttention(self.spectral_norm, self.conv_impl, name="attention")(x, train)
        x = nn.relu(batch_norm(train, "bn_out")(x))
        to_image = _Conv(self.channels, 3, 1.0, self.spectral_norm, self.conv_impl, name="to_image")
        return jnp.tanh(to_image(x, train))


class ResNetDiscriminator(nn.Module):
    """images (N, size, size, channels) [, labels y] -> logits (N,) (or (N, outputs)).

    Sows every block's output as 'intermediates'/'features' (feature matching's layers)."""

    image_size: int
    width: int = 0  # channels of the last block (0: the layout's: 128 at 16-32 px, 1,024 at 48-64)
    width_mult: float = 1.0
    conv_impl: str = "auto"
    num_classes: int = 0  # > 0: projection discriminator on labels y
    condition: str = "projection"
    outputs: int = 1
    spectral_norm: bool = True  # SNGAN's D
    attention: int = 0  # a self-attention block after the first block at this resolution (0: none)
    pack: int = 1  # PacGAN: D judges packs of this many images (layers.pack)
    minibatch_std: int = 0  # > 1: Karras et al.'s minibatch stddev over groups of this many (0: off)
    CHOICES: ClassVar[dict] = {"conv_impl": CONV_IMPLS, "condition": ("projection",)}

    @staticmethod
    def data_fields(data_shape: tuple[int, ...]) -> dict:
        return {"image_size": square_image(data_shape)[0]}

    @nn.compact
    def __call__(self, x: jax.Array, y: jax.Array | None = None, train: bool = True) -> jax.Array:
        _, _, blocks, (_, default) = layout(self.image_size)
        x = pack(x, self.pack)
        attended = False
        for i, (fraction, down) in enumerate(blocks):
            ch = channels(self.width, default, self.width_mult, fraction)
            x = DBlock(ch, down, i == 0, self.spectral_norm, self.conv_impl, name=f"block{i}")(x, train)
            self.sow("intermediates", "features", x)
            if x.shape[1] == self.attention and not attended:  # after the first block at that size
                x = SelfAttention(self.spectral_norm, self.conv_impl, name="attention")(x, train)
                attended = True
        h = jnp.sum(nn.relu(x), axis=(1, 2))  # global sum pooling
        head = DiscriminatorHead(
            self.outputs, self.minibatch_std, 0, 5, self.num_classes, xavier(), name="head"
        )
        return spectral(head, self.spectral_norm, train)(h, y)
