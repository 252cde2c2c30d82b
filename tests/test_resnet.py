"""The SNGAN ResNet networks: parameter counts against Mimicry's layer lists, shapes at every
resolution, the up-sampling against PyTorch's definition, the options' parameters."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import models
from gan_jax.models import resnet


def conv(k, c_in, c_out):  # weight and bias, as torch.nn.Conv2d
    return k * k * c_in * c_out + c_out


def g_block(c_in, c_out):  # Mimicry's GBlock(upsample=True): BN, conv, BN, conv, 1x1 shortcut
    return 2 * c_in + conv(3, c_in, c_out) + 2 * c_out + conv(3, c_out, c_out) + conv(1, c_in, c_out)


def d_block(c_in, c_out, learnable_shortcut):  # Mimicry's DBlock (hidden = in channels)
    return conv(3, c_in, c_in) + conv(3, c_in, c_out) + (conv(1, c_in, c_out) if learnable_shortcut else 0)


def d_optimised(c_in, c_out):  # Mimicry's DBlockOptimized
    return conv(3, c_in, c_out) + conv(3, c_out, c_out) + conv(1, c_in, c_out)


def mimicry_counts(size):
    """(G, D) parameters of torch_mimicry/nets/sngan/sngan_{32,48,64}.py, layer by layer."""
    if size == 32:
        g = 128 * 16 * 256 + 16 * 256 + 3 * g_block(256, 256) + 2 * 256 + conv(3, 256, 3)
        d = d_optimised(3, 128) + d_block(128, 128, True) + 2 * d_block(128, 128, False) + 128 + 1
    elif size == 48:
        g = 128 * 36 * 512 + 36 * 512 + g_block(512, 256) + g_block(256, 128) + g_block(128, 64)
        g += 2 * 64 + conv(3, 64, 3)
        d = d_optimised(3, 64) + sum(d_block(a, 2 * a, True) for a in (64, 128, 256, 512)) + 1024 + 1
    else:
        g = 128 * 16 * 1024 + 16 * 1024 + sum(g_block(a, a // 2) for a in (1024, 512, 256, 128))
        g += 2 * 64 + conv(3, 64, 3)
        d = d_optimised(3, 64) + sum(d_block(a, 2 * a, True) for a in (64, 128, 256, 512)) + 1024 + 1
    return g, d


def parameters(variables) -> int:
    return sum(leaf.size for leaf in jax.tree.leaves(variables["params"]))


def init(size, channels=3, g=None, d=None, num_classes=0):
    """G's and D's variables, G's samples and D's logits on them -- as shapes only (eval_shape):
    the 64 px networks have 12 and 10 million parameters."""
    cfg = models.model_config("resnet", z_dim=128, g=g, d=d)
    gen, disc = models.build(cfg, (size, size, channels), num_classes)
    y = jnp.zeros(4, jnp.int32)

    def run(key):
        vg = gen.init(key, jnp.zeros((4, 128)), y, train=False)
        vd = disc.init(key, jnp.zeros((4, size, size, channels)), y, train=False)
        samples = gen.apply(vg, jax.random.normal(key, (4, 128)), y, train=False)
        return vg, vd, samples, disc.apply(vd, samples, y, train=False)

    return jax.eval_shape(run, jax.random.PRNGKey(0))


@pytest.mark.parametrize("size", [32, 48, 64])
def test_parameter_counts_and_shapes_are_mimicrys(size):
    vg, vd, samples, logits = init(size)
    assert (parameters(vg), parameters(vd)) == mimicry_counts(size)
    assert samples.shape == (4, size, size, 3) and logits.shape == (4,)


def test_the_published_32px_counts():
    """4,276,739 and 1,053,825: the numbers docs and README quote for SNGAN's CIFAR-10 networks."""
    assert mimicry_counts(32) == (4_276_739, 1_053_825)


def test_sixteen_pixels_grey_and_the_width_options():
    vg, vd, samples, logits = init(16, channels=1, g={"width": 32}, d={"width": 16})
    assert samples.shape == (4, 16, 16, 1) and logits.shape == (4,)
    assert vg["params"]["project"]["kernel"].shape == (128, 4 * 4 * 32)


def test_bilinear_upsampling_is_pytorchs_align_corners_false():
    from gan_jax.models.resnet import upsample

    row = jnp.broadcast_to(jnp.array([0.0, 1.0, 3.0]).reshape(1, 1, 3, 1), (1, 3, 3, 1))
    # PyTorch: source = (j + 0.5) / 2 - 0.5, clamped at the edges
    np.testing.assert_allclose(upsample(row, "bilinear")[0, 0, :, 0], [0, 0.25, 0.75, 1.5, 2.5, 3.0])
    np.testing.assert_array_equal(upsample(row, "nearest")[0, 0, :, 0], [0, 0, 1, 1, 3, 3])


def test_conditional_networks_and_self_attention_add_their_parameters():
    vg, vd, _, logits = init(32, g={"attention": 16}, d={"attention": 16}, num_classes=10)
    assert logits.shape == (4,)
    assert "scale" in vg["params"]["block0"]["bn1"]  # conditional BatchNorm: a scale per class
    assert "gamma" in vg["params"]["attention"] and "gamma" in vd["params"]["attention"]
    head = vd["params"]["head_sn"]["head"] if "head_sn" in vd["params"] else vd["params"]["head"]
    assert head["projection"]["embedding"].shape == (10, 128)


def test_spectral_norm_is_on_in_d_and_keeps_its_power_iteration_state():
    cfg = models.model_config("resnet", z_dim=8)
    _, disc = models.build(cfg, (16, 16, 1))
    variables = jax.eval_shape(  # shapes are what is asserted: nothing to compute
        lambda: disc.init(jax.random.PRNGKey(0), jnp.zeros((2, 16, 16, 1)), None, train=False)
    )
    assert disc.spectral_norm and jax.tree.leaves(variables["batch_stats"])


@pytest.mark.parametrize("shape", [(3, 3, 32, 16), (1, 1, 8, 4), (64, 128)])
def test_xavier_is_torchs_xavier_uniform_drawn_as_flax_draws_it(shape):
    """Conv kernels are drawn as (k * k, in, out) (it compiles faster): the values must be flax's
    variance scaling on the kernel's own shape, to the bit, and within torch's xavier_uniform_
    bound gain * sqrt(6 / (fan_in + fan_out))."""
    key = jax.random.PRNGKey(3)
    want = nn.initializers.variance_scaling(4.0, "fan_avg", "uniform")(key, shape, jnp.float32)
    got = resnet.xavier(2.0)(key, shape, jnp.float32)
    np.testing.assert_array_equal(got, want)
    receptive = int(np.prod(shape[:-2]))
    bound = 2.0 * np.sqrt(6 / (receptive * (shape[-2] + shape[-1])))
    assert np.max(np.abs(got)) <= bound and np.max(np.abs(got)) > 0.9 * bound
