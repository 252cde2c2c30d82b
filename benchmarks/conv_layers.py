r"""Each convolution of the DCGAN step and its two gradients, alone: XLA (models/conv.py) vs PyTorch.

    python -m benchmarks.conv_layers [--rounds=5] [--batch=64] [--dtype=float32]
    python -m benchmarks.conv_layers --shapes="64,3,64|32,64,128" --batch=128 --dtype=bfloat16 \
        --forms=custom_vjp,flax      # the 64 px layers, both of our forms (on a GPU: PyTorch's CUDA)

Every layer of the 32x32x1 DCGAN (width 64) is a 4x4, stride-2, padding-1 convolution
y = conv(u, w) or its transpose, and every pass of the step is one of three primitives of such a
y = conv(u, w): `forward` (D's layers), `input grad` (G's transposed layers forward; D's backward
to its input) and `weight grad` (every layer's parameter gradient). This times the three for each
shape (--shapes: the spatial size of u and both channel counts), jitted XLA in each of --forms
(models/conv.py's custom-VJP primitives, the CPU's and the float32 GPU's default; or 'flax', XLA's
own: `lax.conv_general_dilated`, `lax.conv_transpose` for the input grad as flax's ConvTranspose
runs it, and autodiff's weight gradient) against PyTorch's own kernels (torch.nn.functional.conv2d
and torch.nn.grad.conv2d_input / conv2d_weight, NCHW, as its DCGAN example runs; on CUDA where JAX
runs on a GPU; left out where PyTorch, the `bench` extra, is not installed), interleaved, medians;
GFLOP/s counts 2 x MACs.
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
SHAPES = "32,1,64|16,64,128|8,128,256"
FORMS = ("custom_vjp", "flax")
K, STRIDE, PAD = 4, 2, 1


def xla_primitives(n: int, size: int, c_in: int, c_out: int, dtype, form: str = "custom_vjp") -> dict:
    """The three primitives in `form` (FORMS) as jitted XLA calls with their inputs (NHWC / HWIO)."""
    rng = np.random.default_rng(0)
    u = jnp.asarray(rng.standard_normal((n, size, size, c_in)), dtype)
    w = jnp.asarray(rng.standard_normal((K, K, c_in, c_out)), dtype)
    dy = jnp.asarray(rng.standard_normal((n, size // 2, size // 2, c_out)), dtype)
    if form == "custom_vjp":
        forward = jax.jit(lambda u, w: conv.conv2d(u, w, STRIDE, PAD))
        input_grad = jax.jit(lambda dy, w: conv.input_grad(dy, w, STRIDE, PAD, (size, size)))
        weight_grad = jax.jit(lambda u, dy: conv.weight_grad(u, dy, STRIDE, PAD, K))
    else:
        dims = ("NHWC", "HWIO", "NHWC")

        def lax_conv(u, w):
            return jax.lax.conv_general_dilated(
                u, w, (STRIDE,) * 2, ((PAD, PAD),) * 2, dimension_numbers=dims
            )

        forward = jax.jit(lax_conv)
        pad = K - 1 - PAD  # models/dcgan.py's ConvTranspose in this form
        input_grad = jax.jit(
            lambda dy, w: jax.lax.conv_transpose(
                dy, w, (STRIDE,) * 2, ((pad, pad),) * 2, dimension_numbers=dims, transpose_kernel=True
            )
        )
        weight_grad = jax.jit(lambda u, dy: jax.vjp(lambda w: lax_conv(u, w), w)[1](dy)[0])
    return {
        "forward": lambda: forward(u, w).block_until_ready(),
        "input grad": lambda: input_grad(dy, w).block_until_ready(),
        "weight grad": lambda: weight_grad(u, dy).block_until_ready(),
    }


def torch_primitives(n: int, size: int, c_in: int, c_out: int, dtype: str) -> dict:
    import torch
    import torch.nn.functional as F

    dtype, device = getattr(torch, dtype), "cuda" if jax.default_backend() == "gpu" else "cpu"
    u = torch.randn(n, c_in, size, size, dtype=dtype, device=device)
    w = torch.randn(c_out, c_in, K, K, dtype=dtype, device=device)
    dy = torch.randn(n, c_out, size // 2, size // 2, dtype=dtype, device=device)
    done = torch.cuda.synchronize if device == "cuda" else lambda: None
    return {
        "forward": lambda: (F.conv2d(u, w, stride=STRIDE, padding=PAD), done()),
        "input grad": lambda: (
            torch.nn.grad.conv2d_input(u.shape, w, dy, stride=STRIDE, padding=PAD),
            done(),
        ),
        "weight grad": lambda: (
            torch.nn.grad.conv2d_weight(u, w.shape, dy, stride=STRIDE, padding=PAD),
            done(),
        ),
    }


def rate(fn, seconds: float) -> float:
    """Calls per second of `fn` over about `seconds`."""
    fn()
    calls, start = 0, time.perf_counter()
    while True:  # at least one call
        fn()
        calls += 1
        if (elapsed := time.perf_counter() - start) >= seconds:
            return calls / elapsed


def _arguments(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.5, help="per cell per round")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    parser.add_argument("--shapes", default=SHAPES, help="'|'-separated size,c_in,c_out of u -> y")
    parser.add_argument("--forms", default="custom_vjp", help=f"comma-separated, of {', '.join(FORMS)}")
    args = parser.parse_args(argv)
    args.shapes = [tuple(int(v) for v in shape.split(",")) for shape in args.shapes.split("|")]
    args.forms = args.forms.split(",")
    if any(len(shape) != 3 or shape[0] % STRIDE for shape in args.shapes) or not set(args.forms) <= set(
        FORMS
    ):
        parser.error(f"--shapes are size,c_in,c_out with an even size; --forms of {', '.join(FORMS)}")
    return args


def timed_medians(cells: list[tuple], rounds: int, seconds: float) -> dict:
    """Each (shape, pass, framework, fn) cell's median calls/s over `rounds` interleaved rounds."""
    rates = {cell[:3]: [] for cell in cells}
    for _ in range(rounds):
        for *name, fn in cells:
            rates[tuple(name)].append(rate(fn, seconds))
    return {name: statistics.median(r) for name, r in rates.items()}


def print_table(medians: dict, frameworks: list[str], batch: int) -> None:
    """Milliseconds (GFLOP/s) per framework and each one's ratio to the last (PyTorch, where it is
    installed), a row per pass."""
    columns = [*frameworks, *(f"{form}/{frameworks[-1]}" for form in frameworks[:-1])]
    print(f"| u (H, C_in) -> C_out | pass | {' | '.join(columns)} |")
    print("|---|---|" + "---|" * len(columns))
    for (size, c_in, c_out), primitive in dict.fromkeys(name[:2] for name in medians):
        flops = 2 * batch * (size // STRIDE) ** 2 * c_out * c_in * K * K
        x = [medians[((size, c_in, c_out), primitive, f)] for f in frameworks]
        times = " | ".join(f"{1e3 / r:.3f} ({flops * r / 1e9:,.0f})" for r in x)
        ratios = " | ".join(f"{r / x[-1]:.2f}x" for r in x[:-1])
        print(f"| {size}x{size}x{c_in} -> {c_out} | {primitive} | {times} | {ratios} |")


def _torch():
    """PyTorch, or None where it is not installed (it is the `bench` extra): the table then
    compares our forms alone."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(len(__import__("os").sched_getaffinity(0)))
    return torch


def main(argv=None) -> dict:
    args = _arguments(argv)
    torch = _torch()
    frameworks = [*args.forms, *(["PyTorch"] if torch else [])]
    cells = []  # (shape, primitive, framework, fn)
    for shape in args.shapes:
        passes = {
            form: xla_primitives(args.batch, *shape, jnp.dtype(args.dtype), form) for form in args.forms
        }
        if torch:
            passes["PyTorch"] = torch_primitives(args.batch, *shape, args.dtype)
        cells += [(shape, p, f, passes[f][p]) for p in passes[args.forms[0]] for f in frameworks]
    medians = timed_medians(cells, args.rounds, args.seconds)
    versus = f"PyTorch {torch.__version__}" if torch else "no PyTorch (pip install -e '.[bench]')"
    print(
        f"\n{jax.devices()[0].device_kind} ({cpu_model()}); jax {jax.__version__}, {versus}, "
        f"{args.dtype}, batch {args.batch}, {args.rounds} interleaved rounds, median ms (GFLOP/s)"
    )
    print_table(medians, frameworks, args.batch)
    return medians


if __name__ == "__main__":
    main()
