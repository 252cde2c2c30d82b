r"""Each convolution of the DCGAN step and its two gradients, alone: XLA (models/conv.py) vs PyTorch.

    python -m benchmarks.conv_layers [--rounds=5] [--batch=64] [--dtype=float32]

Every layer of the 32x32x1 DCGAN (width 64) is a 4x4, stride-2, padding-1 convolution
y = conv(u, w) or its transpose, and every pass of the step is one of three primitives of such a
y = conv(u, w): `forward` (D's layers), `input grad` (G's transposed layers forward; D's backward
to its input) and `weight grad` (every layer's parameter gradient). This times the three for each
of the three shapes, jitted XLA (gan_jax/models/conv.py, the custom-VJP forms the model runs)
against PyTorch's own kernels (torch.nn.functional.conv2d and torch.nn.grad.conv2d_input /
conv2d_weight, NCHW, as its DCGAN example runs), interleaved, medians; GFLOP/s counts 2 x MACs.
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.clock import cpu_model
from gan_jax.models import conv

# (spatial size of u, channels of u, channels of y): the DCGAN step's three resolution changes.
SHAPES = ((32, 1, 64), (16, 64, 128), (8, 128, 256))
K, STRIDE, PAD = 4, 2, 1


def xla_primitives(n: int, size: int, c_in: int, c_out: int, dtype) -> dict:
    """The three primitives as jitted XLA calls with their inputs (NHWC / HWIO)."""
    rng = np.random.default_rng(0)
    u = jnp.asarray(rng.standard_normal((n, size, size, c_in)), dtype)
    w = jnp.asarray(rng.standard_normal((K, K, c_in, c_out)), dtype)
    dy = jnp.asarray(rng.standard_normal((n, size // 2, size // 2, c_out)), dtype)
    forward = jax.jit(lambda u, w: conv.conv2d(u, w, STRIDE, PAD))
    input_grad = jax.jit(lambda dy, w: conv.input_grad(dy, w, STRIDE, PAD, (size, size)))
    weight_grad = jax.jit(lambda u, dy: conv.weight_grad(u, dy, STRIDE, PAD, K))
    return {
        "forward": lambda: forward(u, w).block_until_ready(),
        "input grad": lambda: input_grad(dy, w).block_until_ready(),
        "weight grad": lambda: weight_grad(u, dy).block_until_ready(),
    }


def torch_primitives(n: int, size: int, c_in: int, c_out: int, dtype: str) -> dict:
    import torch
    import torch.nn.functional as F

    dtype = getattr(torch, dtype)
    u = torch.randn(n, c_in, size, size, dtype=dtype)
    w = torch.randn(c_out, c_in, K, K, dtype=dtype)
    dy = torch.randn(n, c_out, size // 2, size // 2, dtype=dtype)
    return {
        "forward": lambda: F.conv2d(u, w, stride=STRIDE, padding=PAD),
        "input grad": lambda: torch.nn.grad.conv2d_input(u.shape, w, dy, stride=STRIDE, padding=PAD),
        "weight grad": lambda: torch.nn.grad.conv2d_weight(u, w.shape, dy, stride=STRIDE, padding=PAD),
    }


def rate(fn, seconds: float) -> float:
    """Calls per second of `fn` over about `seconds`."""
    fn()
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        calls += 1
    return calls / elapsed


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.5, help="per cell per round")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(len(__import__("os").sched_getaffinity(0)))
    cells = []  # (shape, primitive, framework, fn)
    for size, c_in, c_out in SHAPES:
        xla = xla_primitives(args.batch, size, c_in, c_out, jnp.dtype(args.dtype))
        pt = torch_primitives(args.batch, size, c_in, c_out, args.dtype)
        for primitive in xla:
            cells += [((size, c_in, c_out), primitive, "xla", xla[primitive])]
            cells += [((size, c_in, c_out), primitive, "torch", pt[primitive])]
    rates = {cell[:3]: [] for cell in cells}
    for _ in range(args.rounds):
        for *name, fn in cells:
            rates[tuple(name)].append(rate(fn, args.seconds))
    print(
        f"\n{cpu_model()}; jax {jax.__version__}, PyTorch {torch.__version__} ({torch.get_num_threads()} "
        f"threads), {args.dtype}, batch {args.batch}, {args.rounds} interleaved rounds, median"
    )
    print(
        "| u (H, C_in) -> C_out | pass | XLA ms | PyTorch ms | XLA GFLOP/s | PyTorch GFLOP/s | XLA/PyTorch |"
    )
    print("|---|---|---|---|---|---|---|")
    for (size, c_in, c_out), primitive in dict.fromkeys((c[0], c[1]) for c in cells):
        flops = 2 * args.batch * (size // 2) ** 2 * c_out * c_in * K * K
        x, t = (statistics.median(rates[((size, c_in, c_out), primitive, f)]) for f in ("xla", "torch"))
        print(
            f"| {size}x{size}x{c_in} -> {c_out} | {primitive} | {1e3 / x:.3f} | {1e3 / t:.3f} | "
            f"{flops * x / 1e9:.0f} | {flops * t / 1e9:.0f} | {x / t:.2f}x |"
        )


if __name__ == "__main__":
    main()
