"""Strided convolution and its transpose, with gradients that XLA:CPU runs fast.

Why this exists: XLA:CPU computes the weight gradient of `lax.conv_transpose` ~40x slower than a
plain convolution (jax #31662, #23783), and any convolution gradient inside `lax.scan` falls onto
a generic kernel ~45x slower (jax #12868). Its fast (Eigen) kernel takes only one form: NHWC
input, HWIO kernel, NHWC output. So every pass here -- forward and both gradients of both layers --
is written as a convolution in that form, and `lax.optimization_barrier` keeps XLA from folding
the explicit transposes back into other dimension numbers.

The two layers share three primitives of a forward strided convolution y = conv(u, w):
  `_conv`            y      from u, w
  `_conv_input_vjp`  du     from dy, w   (this *is* the transposed convolution)
  `_conv_weight_vjp` dw     from u, dy
Kernels are HWIO of the *forward* convolution, as in PyTorch and `nn.ConvTranspose(...,
transpose_kernel=True)`: a transposed conv from C_in to C_out channels has kernel (k, k, C_out, C_in).

A second form, `conv2d_patches` and its transpose, is a convolution as k^2 shifted strided slices
and one matrix product (autodiff differentiates it: slices, pads and matrix products). XLA:CPU's
convolutions, in any form, fall onto a slow kernel when the kernel is as large as the map (5x5 on
4x4 maps: ~100x slower than the matrix product; docs/mode_collapse.md, "Stacked MNIST", has the
measurements), so carpedm20's 28 px DCGAN (models/dcgan_tf.py) uses this form with TensorFlow's
'SAME' padding on its small maps, and `conv2d_same` -- the custom-VJP form with that padding -- on
its large ones.
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax

_NHWC = ("NHWC", "HWIO", "NHWC")


def _conv(u: jax.Array, w: jax.Array, stride: int, pad: int) -> jax.Array:
    return lax.conv_general_dilated(u, w, (stride, stride), ((pad, pad), (pad, pad)), dimension_numbers=_NHWC)


def _conv_input_vjp(dy: jax.Array, w: jax.Array, stride: int, pad: int, in_hw) -> jax.Array:
    """du of y = conv(u, w): dy dilated by the stride, convolved with the flipped, IO-swapped w."""
    k = w.shape[0]
    w_t = lax.optimization_barrier(jnp.flip(w, (0, 1)).swapaxes(2, 3))
    padding = [
        (k - 1 - pad, size + k - 2 - (out - 1) * stride - (k - 1 - pad))
        for size, out in zip(in_hw, dy.shape[1:3], strict=True)
    ]
    return lax.conv_general_dilated(
        dy, w_t, (1, 1), padding, lhs_dilation=(stride, stride), dimension_numbers=_NHWC
    )


def _conv_weight_vjp(u: jax.Array, dy: jax.Array, stride: int, pad: int, k: int) -> jax.Array:
    """dw of y = conv(u, w): channels of u play the batch, examples play the features."""
    lhs = lax.optimization_barrier(u.transpose(3, 1, 2, 0))  # (C_in, H, W, N)
    rhs = lax.optimization_barrier(dy.transpose(1, 2, 0, 3))  # (H_out, W_out, N, C_out)
    padding = [
        (pad, k + stride * (out - 1) - size - pad)
        for size, out in zip(u.shape[1:3], dy.shape[1:3], strict=True)
    ]
    dw = lax.conv_general_dilated(
        lhs, rhs, (1, 1), padding, rhs_dilation=(stride, stride), dimension_numbers=_NHWC
    )  # (C_in, k, k, C_out)
    return dw.transpose(1, 2, 0, 3)


# The three primitives are closed under VJPs (each one's gradient is made of the other two), so
# each is a custom_vjp whose rule calls the others: derivatives of any order -- a gradient penalty
# differentiates D's input gradient -- stay on the fast kernel form.


def _bilinear(primal, nondiff_argnums: tuple[int, ...], transpose):
    """`primal(a, b, *static)`, linear in a and in b, as a custom_vjp whose residuals are (a, b)
    and whose rule is `transpose(*static, a, b, g) -> (da, db)`."""
    fn = jax.custom_vjp(primal, nondiff_argnums=nondiff_argnums)
    fn.defvjp(
        lambda a, b, *static: (primal(a, b, *static), (a, b)),
        lambda *args: transpose(*args[:-2], *args[-2], args[-1]),
    )
    return fn


def _conv_transpose_rule(stride, pad, u, w, dy):
    return input_grad(dy, w, stride, pad, u.shape[1:3]), weight_grad(u, dy, stride, pad, w.shape[0])


def _input_grad_transpose_rule(stride, pad, in_hw, dy, w, g):
    """<g, input_grad(dy, w)> = <conv(g, w), dy>."""
    return conv2d(g, w, stride, pad), weight_grad(g, dy, stride, pad, w.shape[0])


def _weight_grad_transpose_rule(stride, pad, k, u, dy, g):
    """<g, weight_grad(u, dy)> = <dy, conv(u, g)>."""
    return input_grad(dy, g, stride, pad, u.shape[1:3]), conv2d(u, g, stride, pad)


# conv2d(u (N, H, W, C_in), w (k, k, C_in, C_out), stride, pad): the convolution, zero padding.
conv2d = _bilinear(_conv, (2, 3), _conv_transpose_rule)
# input_grad(dy, w, stride, pad, in_hw): du of y = conv2d(u, w) for the cotangent dy.
input_grad = _bilinear(_conv_input_vjp, (2, 3, 4), _input_grad_transpose_rule)
# weight_grad(u, dy, stride, pad, k): dw of y = conv2d(u, w) for the cotangent dy.
weight_grad = _bilinear(_conv_weight_vjp, (2, 3, 4), _weight_grad_transpose_rule)


def transposed_output_size(size: int, k: int, stride: int, pad: int) -> int:
    """Spatial size a transposed conv produces (PyTorch's formula, no output padding)."""
    return (size - 1) * stride + k - 2 * pad


def conv2d_transpose(x: jax.Array, w: jax.Array, stride: int, pad: int) -> jax.Array:
    """Transposed convolution of x (N, h, w, C_in) with the forward kernel w (k, k, C_out, C_in).

    It is the input-gradient of `conv2d(., w, stride, pad)`: with k=4, stride=2, pad=1 it doubles
    the spatial size, as DCGAN's fractional-strided convolutions do.
    """
    k = w.shape[0]
    out_hw = tuple(transposed_output_size(s, k, stride, pad) for s in x.shape[1:3])
    return input_grad(x, w, stride, pad, out_hw)


def resolve(impl: str, dtype) -> str:
    """`impl`, or for 'auto' the form measured faster on this backend in this compute dtype
    (benchmarks/train_step.py on CPUs, benchmarks/accelerator.py on an NVIDIA H200, README's
    Performance section): XLA:CPU's fast kernel takes one form, so 'custom_vjp' there; on the H200
    'custom_vjp' in float32 (1.10x / 1.17x at 32 / 64 px) and XLA's own in bfloat16 (1.14x / 1.17x).
    TPUs were not measured: XLA's own form, whose layouts their compiler chooses."""
    if impl != "auto":
        return impl
    backend = jax.default_backend()
    if backend == "cpu" or (backend == "gpu" and jnp.dtype(dtype) == jnp.float32):
        return "custom_vjp"
    return "flax"


def same_padding(size: int, k: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'SAME' padding (before, after) of a side of `size`, whose convolution gives
    ceil(size / stride): the total the kernel needs, half of it before (rounded down)."""
    total = max((-(-size // stride) - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def conv2d_same(u: jax.Array, w: jax.Array, stride: int) -> jax.Array:
    """conv(u, w) with TensorFlow's 'SAME' padding in the custom-VJP form above: the padding's
    extra row and column after (before, after) are padded explicitly, the rest symmetrically."""
    before, after = same_padding(u.shape[1], w.shape[0], stride)
    u = jnp.pad(u, ((0, 0), (0, after - before), (0, after - before), (0, 0)))
    return conv2d(u, w, stride, before)


def conv2d_transpose_same(x: jax.Array, w: jax.Array, stride: int, size: int) -> jax.Array:
    """The transpose of `conv2d_same` from size x size maps (tf.nn.conv2d_transpose, 'SAME'), in
    the custom-VJP form: the transpose of the explicit padding is a crop."""
    before, after = same_padding(size, w.shape[0], stride)
    padded = size + after - before
    return input_grad(x, w, stride, before, (padded, padded))[:, :size, :size]


# Jitted (their shapes static): run eagerly -- as flax's init runs the networks -- their dozens of
# slices would compile one by one; inside a jitted step XLA inlines them.
@functools.partial(jax.jit, static_argnums=(2, 3))
def conv2d_patches(u: jax.Array, w: jax.Array, stride: int, pad: tuple[int, int]) -> jax.Array:
    """conv(u (N, H, W, C_in), w (k, k, C_in, C_out)), zero padding `pad` (before, after) on each
    spatial side, as one matrix product of the k^2 shifted strided slices of u."""
    k, (before, after) = w.shape[0], pad
    out = (u.shape[1] + before + after - k) // stride + 1
    x = jnp.pad(u, ((0, 0), pad, pad, (0, 0)))
    span = stride * (out - 1) + 1
    slices = [x[:, a : a + span : stride, b : b + span : stride] for a in range(k) for b in range(k)]
    columns = jnp.stack(slices, axis=3).reshape(u.shape[0], out, out, k * k * u.shape[-1])
    return columns @ w.reshape(-1, w.shape[-1])


@functools.partial(jax.jit, static_argnums=(2, 3))
def conv2d_transpose_patches(x: jax.Array, w: jax.Array, stride: int, size: int) -> jax.Array:
    """The transpose of `conv2d_patches` from size x size maps with TensorFlow's 'SAME' padding:
    tf.nn.conv2d_transpose(x, w (k, k, C_out, C_in), output size, stride, 'SAME')."""
    pad = same_padding(size, w.shape[0], stride)
    shape = jax.ShapeDtypeStruct((x.shape[0], size, size, w.shape[2]), x.dtype)
    return jax.linear_transpose(lambda u: conv2d_patches(u, w, stride, pad), shape)(x)[0]
