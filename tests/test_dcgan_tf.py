"""carpedm20/DCGAN-tensorflow's networks (models/dcgan_tf.py): TensorFlow's 'SAME' transposed
convolution against its definition written out, the map sizes, the parameter counts of the
Stacked MNIST networks by hand, and G's BatchNorm per pack slot."""

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import normal

from gan_jax.errors import ConfigError
from gan_jax.models import conv
from gan_jax.models.dcgan_tf import DCGANTFDiscriminator, DCGANTFGenerator, layer_form, map_sizes

KEY = jax.random.PRNGKey(0)


def transpose_by_hand(x: np.ndarray, w: np.ndarray, size: int, stride: int = 2) -> np.ndarray:
    """TensorFlow's conv2d_transpose with 'SAME' padding, as its documentation defines it: input
    pixel (i, j) adds w[a, b] * x[i, j] at output (i s - lo + a, j s - lo + b), lo the leading
    padding of the forward 'SAME' convolution from `size` (half the total, rounded down)."""
    k, h = w.shape[0], x.shape[1]
    lo = max((h - 1) * stride + k - size, 0) // 2
    out = np.zeros((x.shape[0], size, size, w.shape[2]))
    for i in range(h):
        for j in range(h):
            for a in range(k):
                for b in range(k):
                    r, c = i * stride - lo + a, j * stride - lo + b
                    if 0 <= r < size and 0 <= c < size:
                        out[:, r, c] += x[:, i, j] @ w[a, b].T
    return out


@pytest.mark.parametrize("transpose", [conv.conv2d_transpose_patches, conv.conv2d_transpose_same])
@pytest.mark.parametrize("h,size", [(2, 4), (4, 7), (7, 14), (4, 8), (14, 28)])
def test_transposed_convolution_is_tensorflows(h, size, transpose):
    x, w = normal(0, (2, h, h, 3), (5, 5, 4, 3))
    np.testing.assert_allclose(transpose(x, w, 2, size), transpose_by_hand(x, w, size), atol=1e-4)


@pytest.mark.parametrize("setting", [{}, dict(kernel=3, layers=3, output="conv")])
def test_every_layer_computes_the_same_in_either_convolution_form(setting):
    """conv_impl='auto' (the custom-VJP form on the 14- and 28-pixel maps, patches on the small
    ones) against the patch form everywhere, the same variables: G's images and D's logits (and
    so every layer's wiring); `layer_form` picks per map as its rule says."""
    z = normal(0, (4, 16))[0]
    g = DCGANTFGenerator(image_size=28, channels=3, width=4, conv_impl="patches", **setting)
    d = DCGANTFDiscriminator(image_size=28, width=4, conv_impl="patches", kernel=setting.get("kernel", 5))
    g_vars = jax.jit(g.init)(KEY, z)
    images = jax.jit(lambda v: g.apply(v, z, train=False))(g_vars)
    d_vars = jax.jit(d.init)(KEY, images)
    for module, variables, x in ((g, g_vars, z), (d, d_vars, images)):
        outputs = [
            jax.jit(lambda v, m=m, x=x: m.apply(v, x, train=False))(variables)
            for m in (module, module.clone(conv_impl="auto"))
        ]
        np.testing.assert_allclose(outputs[1], outputs[0], atol=1e-5)
        programs = [
            str(jax.make_jaxpr(lambda v, m=m, x=x: m.apply(v, x, train=False))(variables))
            for m in (module, module.clone(conv_impl="auto"))
        ]
        assert "conv_general_dilated" not in programs[0] and "conv_general_dilated" in programs[1]
    assert [layer_form("auto", size, 5) for size in (28, 14, 7, 4, 2)] == ["custom_vjp"] * 2 + ["patches"] * 3
    assert layer_form("patches", 28, 5) == "patches" and layer_form("auto", 28, 3) == "custom_vjp"


def test_map_sizes_halve_rounding_up():
    assert map_sizes(28, 4) == [28, 14, 7, 4, 2] and map_sizes(32, 4) == [32, 16, 8, 4, 2]
    assert map_sizes(28, 3) == [28, 14, 7, 4]


def count(variables: dict) -> int:
    return sum(int(np.prod(v.shape)) for v in jax.tree.leaves(variables["params"]))


def test_parameter_counts_of_the_stacked_mnist_networks():
    """VEEGAN's / PacGAN's networks at 28 px, 3 channels, z in R^100, gf_dim = df_dim = 64; every
    layer (weights + biases, BatchNorm's scale and shift) written out."""
    g = DCGANTFGenerator(image_size=28, channels=3)
    g_vars = jax.eval_shape(g.init, KEY, jnp.zeros((2, 100)))
    g_by_hand = (
        (100 * 2 * 2 * 512 + 2 * 2 * 512)  # z -> 2x2x512, biased
        + 2 * 512  # its BatchNorm
        + (25 * 512 * 256 + 256)
        + 2 * 256  # -> 4x4x256
        + (25 * 256 * 128 + 128)
        + 2 * 128  # -> 7x7x128
        + (25 * 128 * 64 + 64)
        + 2 * 64  # -> 14x14x64
        + (25 * 64 * 3 + 3)  # -> 28x28x3
    )
    assert count(g_vars) == g_by_hand == 4_514_819
    for m in (1, 2):
        d = DCGANTFDiscriminator(image_size=28, pack=m)
        d_vars = jax.eval_shape(d.init, KEY, jnp.zeros((2 * m, 28, 28, 3)))
        d_by_hand = (
            (25 * 3 * m * 64 + 64)  # 28 -> 14, 3 m channels in, no BatchNorm
            + (25 * 64 * 128 + 128 + 2 * 128)
            + (25 * 128 * 256 + 256 + 2 * 256)
            + (25 * 256 * 512 + 512 + 2 * 512)  # -> 2x2x512
            + (2 * 2 * 512 + 1)
        )
        assert count(d_vars) == d_by_hand
    images = jax.eval_shape(lambda v: g.apply(v, jnp.zeros((2, 100)), train=False), g_vars)
    assert images.shape == (2, 28, 28, 3)


@pytest.mark.parametrize("d_width", [2, 4])
def test_parameter_counts_of_the_metz_setting_networks(d_width):
    """PacGAN's Table 3 (unrolled_GAN_experiment): G z in R^256 -> 4x4x64 -> 7x7x32 -> 14x14x16 ->
    28x28x8 -> a 3x3 stride-1 conv to 3 channels; D 3x3 convs of d_width, 2 and 4 x d_width
    channels (2: D is 1/4 of G, 4: 1/2), BatchNorm after each; every layer written out."""
    g = DCGANTFGenerator(image_size=28, channels=3, width=8, kernel=3, layers=3, output="conv")
    g_vars = jax.eval_shape(g.init, KEY, jnp.zeros((2, 256)))
    g_by_hand = (
        (256 * 4 * 4 * 64 + 4 * 4 * 64)
        + 2 * 64
        + (9 * 64 * 32 + 32 + 2 * 32)
        + (9 * 32 * 16 + 16 + 2 * 16)
        + (9 * 16 * 8 + 8 + 2 * 8)
        + (9 * 8 * 3 + 3)  # the stride-1 conv to the image
    )
    assert count(g_vars) == g_by_hand == 287_875
    d = DCGANTFDiscriminator(image_size=28, width=d_width, kernel=3, layers=3, leak=0.3, norm_first=True)
    d_vars = jax.eval_shape(d.init, KEY, jnp.zeros((2, 28, 28, 3)))
    w = d_width
    d_by_hand = (
        (9 * 3 * w + w + 2 * w)
        + (9 * w * 2 * w + 2 * w + 4 * w)
        + (9 * 2 * w * 4 * w + 4 * w + 8 * w)
        + (4 * 4 * 4 * w + 1)  # 28 -> 14 -> 7 -> 4
    )
    assert count(d_vars) == d_by_hand
    images = jax.eval_shape(lambda v: g.apply(v, jnp.zeros((2, 256)), train=False), g_vars)
    assert images.shape == (2, 28, 28, 3)


def test_g_per_pack_slot_is_g_run_on_each_slot():
    """norm_slots = 2 on 8 samples equals G (norm_slots = 1, the same variables) run on the slots'
    4 samples each -- examples 0, 2, 4, 6 and 1, 3, 5, 7 -- outputs and the running averages'
    mean."""
    z = normal(0, (8, 16))[0]
    one = DCGANTFGenerator(image_size=8, channels=1, width=4)
    variables = jax.jit(one.init)(KEY, z)

    def train(module):  # jitted: the patch convolutions run op by op (and slowly) when eager
        return jax.jit(lambda v, x: module.apply(v, x, mutable="batch_stats"))

    slotted, moved = train(one.clone(norm_slots=2))(variables, z)
    parts = [train(one)(variables, z[k::2]) for k in range(2)]
    np.testing.assert_allclose(slotted[0::2], parts[0][0], atol=1e-5)
    np.testing.assert_allclose(slotted[1::2], parts[1][0], atol=1e-5)
    mean_of_slots = jax.tree.map(lambda a, b: (a + b) / 2, parts[0][1], parts[1][1])
    flat = flax.traverse_util.flatten_dict
    for name, value in flat(moved).items():
        np.testing.assert_allclose(value, flat(mean_of_slots)[name], atol=1e-6)


def test_it_is_unconditional():
    with pytest.raises(ConfigError, match="unconditional"):
        DCGANTFGenerator(image_size=28, channels=1, num_classes=10)
