"""The custom-VJP convolutions equal XLA's own (and flax's ConvTranspose): values, gradients, and
gradients of gradients (the penalties on D's input gradient)."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import normal
from jax import lax

from gan_jax.models import conv

DN = ("NHWC", "HWIO", "NHWC")


def reference_conv(u, w, stride, pad):
    return lax.conv_general_dilated(u, w, (stride, stride), ((pad, pad), (pad, pad)), dimension_numbers=DN)


def flax_conv_transpose(x, w, stride, pad):
    k, lax_pad = w.shape[0], w.shape[0] - 1 - pad
    layer = nn.ConvTranspose(
        w.shape[2],
        (k, k),
        strides=(stride, stride),
        padding=((lax_pad, lax_pad),) * 2,
        transpose_kernel=True,
        use_bias=False,
    )
    return layer.apply({"params": {"kernel": w}}, x)


def loss_of(fn):
    """A non-linear, position-weighted loss, so the cotangents reaching the conv all differ."""

    def loss(a, b):
        y = fn(a, b)
        return jnp.sum(jnp.sin(y) * jnp.linspace(-1.0, 1.0, y.size).reshape(y.shape))

    return loss


def assert_same_values_and_grads(fn, ref, a, b):
    np.testing.assert_allclose(fn(a, b), ref(a, b), rtol=1e-5, atol=1e-5)
    got = jax.grad(loss_of(fn), (0, 1))(a, b)
    want = jax.grad(loss_of(ref), (0, 1))(a, b)
    for g, r in zip(got, want, strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "hw,k,stride,pad",
    [
        (16, 4, 2, 1),  # DCGAN's downsampling layer
        (4, 4, 1, 0),  # DCGAN D's last layer: 4x4 valid -> 1x1
        (9, 3, 2, 1),  # odd size: the gradient paddings must absorb the remainder
        (8, 3, 1, 1),
    ],
)
def test_conv2d_matches_lax(hw, k, stride, pad):
    u, w = normal(hw, (3, hw, hw, 5), (k, k, 5, 7))
    assert_same_values_and_grads(
        lambda a, b: conv.conv2d(a, b, stride, pad), lambda a, b: reference_conv(a, b, stride, pad), u, w
    )


@pytest.mark.parametrize("hw,k,stride,pad", [(4, 4, 2, 1), (8, 4, 2, 1), (5, 3, 2, 1), (6, 3, 1, 1)])
def test_conv2d_transpose_matches_flax(hw, k, stride, pad):
    x, w = normal(hw, (3, hw, hw, 7), (k, k, 5, 7))  # forward kernel: (k, k, C_out, C_in)
    out = conv.conv2d_transpose(x, w, stride, pad)
    assert out.shape[1] == conv.transposed_output_size(hw, k, stride, pad)
    assert_same_values_and_grads(
        lambda a, b: conv.conv2d_transpose(a, b, stride, pad),
        lambda a, b: flax_conv_transpose(a, b, stride, pad),
        x,
        w,
    )


def test_transposed_conv_is_the_adjoint_of_conv():
    """<conv(u), y> == <u, conv_transpose(y)>: the defining property of a transposed conv."""
    u, w, y = normal(0, (2, 8, 8, 3), (4, 4, 3, 6), (2, 4, 4, 6))
    lhs = jnp.vdot(conv.conv2d(u, w, 2, 1), y)
    rhs = jnp.vdot(u, conv.conv2d_transpose(y, w, 2, 1))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-4)


def test_gradients_inside_scan_match():
    """The scan path (steps_per_call > 1) differentiates through the same custom VJPs."""
    u, w0 = normal(1, (2, 8, 8, 3), (4, 4, 3, 4))
    w0 = w0 * 0.1

    def sgd(conv_fn):
        def body(w, _):
            g = jax.grad(lambda w: jnp.sum(jnp.tanh(conv_fn(u, w)) ** 2))(w)
            return w - 0.1 * g, None

        return jax.jit(lambda w: lax.scan(body, w, length=3)[0])(w0)

    np.testing.assert_allclose(
        sgd(lambda u, w: conv.conv2d(u, w, 2, 1)),
        sgd(lambda u, w: reference_conv(u, w, 2, 1)),
        rtol=1e-5,
        atol=1e-6,
    )


def input_gradient_penalty(fn):
    """A gradient penalty's shape: grad w.r.t. both arguments of ||d loss / d a||^2 (grad of grad),
    compiled whole (op by op, each of its ops would compile a program of its own)."""

    def penalty(a, b):
        g = jax.grad(loss_of(fn))(a, b)
        return jnp.sum(g**2)

    return jax.jit(jax.grad(penalty, (0, 1)))


@pytest.mark.parametrize("hw,k,stride,pad", [(16, 4, 2, 1), (9, 3, 2, 1), (4, 4, 1, 0)])
def test_second_order_gradients_match_lax(hw, k, stride, pad):
    u, w, x = normal(hw + 1, (2, hw, hw, 3), (k, k, 3, 4), (2, hw // 2, hw // 2, 4))
    got = input_gradient_penalty(lambda a, b: conv.conv2d(a, b, stride, pad))(u, w)
    want = input_gradient_penalty(lambda a, b: reference_conv(a, b, stride, pad))(u, w)
    for g, r in zip(got, want, strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-3)
    got = input_gradient_penalty(lambda a, b: conv.conv2d_transpose(a, b, stride, pad))(x, w)
    want = input_gradient_penalty(lambda a, b: flax_conv_transpose(a, b, stride, pad))(x, w)
    for g, r in zip(got, want, strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("layer", ["Conv", "ConvTranspose"])
def test_every_conv_impl_of_a_layer_shares_its_parameters_and_values(layer):
    """A checkpoint made with one form (e.g. 'auto' on a GPU) resumes under another (on a CPU)."""
    from gan_jax.models import dcgan

    (x,) = normal(2, (2, 8, 8, 3))
    outputs, trees = [], []
    for impl in dcgan.CONV_IMPLS:
        module = getattr(dcgan, layer)(4, use_bias=True, impl=impl)
        params = module.init(jax.random.PRNGKey(0), x)
        trees.append(jax.tree.map(jnp.shape, params))
        outputs.append(module.apply(params, x))
    assert trees[0] == trees[1] == trees[2]
    for out in outputs[1:]:
        np.testing.assert_allclose(out, outputs[0], rtol=1e-5, atol=1e-5)


def test_auto_picks_the_form_measured_faster_per_backend_and_dtype(monkeypatch):
    picks = {}
    for backend in ("cpu", "gpu", "tpu"):
        monkeypatch.setattr(jax, "default_backend", lambda b=backend: b)
        picks[backend] = [conv.resolve("auto", dtype) for dtype in (jnp.float32, jnp.bfloat16)]
    assert picks == {"cpu": ["custom_vjp"] * 2, "gpu": ["custom_vjp", "flax"], "tpu": ["flax"] * 2}
    assert conv.resolve("flax", jnp.float32) == "flax"


@pytest.mark.parametrize("form", ["patches", "custom_vjp"])
@pytest.mark.parametrize("hw,k,stride", [(28, 5, 2), (7, 5, 2), (4, 5, 2), (9, 3, 1)])
def test_same_convolutions_are_laxs_same_convolution(hw, k, stride, form):
    """conv2d_patches with same_padding, and conv2d_same (the custom-VJP form), equal lax's
    'SAME' convolution (TensorFlow's rule): values, gradients, and the gradients of a penalty on
    its input gradient."""
    u, w = normal(hw, (2, hw, hw, 3), (k, k, 3, 4))
    pad = conv.same_padding(hw, k, stride)

    def same(a, b):
        return lax.conv_general_dilated(a, b, (stride, stride), "SAME", dimension_numbers=DN)

    if form == "patches":
        ours = lambda a, b: conv.conv2d_patches(a, b, stride, pad)  # noqa: E731
    else:
        ours = lambda a, b: conv.conv2d_same(a, b, stride)  # noqa: E731
    assert_same_values_and_grads(ours, same, u, w)
    for g, r in zip(input_gradient_penalty(ours)(u, w), input_gradient_penalty(same)(u, w), strict=True):
        np.testing.assert_allclose(g, r, rtol=3e-3, atol=1e-3)  # sums of ~10^4 float32 terms
