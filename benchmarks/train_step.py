r"""Speed of the compiled train step on this machine, and of the same DCGAN step in PyTorch.

    python -m benchmarks.train_step                # add --rounds=5 for steadier numbers
    pip install -e '.[bench]'                      # PyTorch, for the comparison column

Rows: the two configs as shipped (gan_mlp on the ring; dcgan on digits at 16 px), and the DCGAN
step at 32x32x1, batch 64 -- the setting of the issue's PyTorch measurement -- with our
custom-VJP convolutions (also in bfloat16 mixed precision, config.model.dtype), with flax's
stock nn.ConvTranspose/lax.conv (the "before"), and in PyTorch eager (same architecture, losses
and update order; D's parameter gradients switched off during G's update, its best case). JAX
and PyTorch run interleaved in one process (the machine's speed drifts between runs); each cell
is the median over rounds. Timing is never asserted on.
"""

import argparse
import functools
import os
import statistics
import time

import jax

from experiments.cli import load_config
from gan_jax import experiment
from gan_jax.clock import cpu_model

SNGAN_ROWS = [  # (the row's name after "sngan digits 16px b64", configs/sngan.py's argument)
    (" (as shipped)", "digits"),
    (", + DiffAugment (color,translation,cutout)", "digits,diffaugment"),
    (", + ADA (bgc; cost independent of p)", "digits,ada"),
    (", + LeCam", "digits,lecam"),
    (", + bCR (real and fake)", "digits,bcr"),
    (", + top-k", "digits,top_k"),
]


class JaxStep:
    """The project's jitted multi-step, exactly as the trainer builds it."""

    def __init__(self, config):
        run = experiment.build(config)
        self.state = run.initial_state()
        self.feed = run.feed(self.state, 0)  # the same arrays every call, or a streamed call's batches
        start = time.perf_counter()
        self.compiled = run.compile(self.state, next(self.feed))
        self.compile_seconds = time.perf_counter() - start
        self.steps_per_call = config.train.steps_per_call
        self.run(self.steps_per_call)  # warm-up

    def run(self, steps: int) -> float:
        start = time.perf_counter()
        for _ in range(steps // self.steps_per_call):
            self.state, metrics = self.compiled(self.state, next(self.feed))
        jax.block_until_ready(metrics)
        return steps / (time.perf_counter() - start)


def fashion_mnist(pipeline: str):
    """The shipped Fashion-MNIST DCGAN (32x32, batch 128) on the IDX files in ../shared/data."""
    config = load_config("configs/dcgan.py:fashion_mnist")
    config.data.update(name="idx:../shared/data/fashion_mnist", pipeline=pipeline)
    config.train.total_steps = 10**9  # the stream is read up to total_steps
    return config


def sngan_step(arg: str) -> JaxStep:
    return JaxStep(load_config(f"configs/sngan.py:{arg}"))


def dcgan_32(conv_impl: str, steps_per_call: int, dtype: str = "float32", reuse_fake: bool = False):
    config = load_config("configs/dcgan.py")
    config.data.image_size = 32
    config.model.dtype = dtype
    config.model.g.conv_impl = config.model.d.conv_impl = conv_impl
    config.train.update(batch_size=64, steps_per_call=steps_per_call, reuse_fake=reuse_fake)
    return config


def unrolled(config, steps: int):
    config.train.unroll_steps = steps
    return config


def with_d_norm(config, norm: str):
    config.model.d.norm = norm
    return config


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0, help="target seconds per cell per round")
    parser.add_argument("--skip_flax_conv", action="store_true", help="skip the slow 'before' row")
    parser.add_argument("--only", default="", help="only the rows whose name contains this text")
    args = parser.parse_args()

    rows = [  # (name, factory); the batch size is read from the name
        ("gan_mlp ring (as shipped)", lambda: JaxStep(load_config("configs/gan_mlp.py"))),
        (
            "gan_mlp ring, unrolled GAN (5 unrolled D steps)",
            lambda: JaxStep(unrolled(load_config("configs/gan_mlp.py"), 5)),
        ),
        ("dcgan digits 16px b128 (as shipped)", lambda: JaxStep(load_config("configs/dcgan.py"))),
        # Each regulariser's cost beside the plain step: GP and R1 add a backward pass through D
        # (and grad-of-grad in D's update); wgan_gp also runs 5 critic updates per step.
        ("dcgan digits 16px b128, + R1 (gamma 10)", lambda: JaxStep(load_config("configs/dcgan.py:r1"))),
        ("dcgan digits 16px b128, + spectral norm of D", lambda: JaxStep(load_config("configs/dcgan.py:sn"))),
        (
            "dcgan digits 16px b128, wgan_gp (5 critic steps)",
            lambda: JaxStep(load_config("configs/dcgan.py:wgan_gp")),
        ),
        (  # the layer-normalised critic of Gulrajani et al.'s 64x64 code: its second derivative is slow
            "dcgan digits 16px b128, wgan_gp, layer-norm critic",
            lambda: JaxStep(with_d_norm(load_config("configs/dcgan.py:wgan_gp"), "layer")),
        ),
        (  # data.pipeline: the whole set on the device, or each call's batches read on the host
            "dcgan fashion_mnist 32px b128, data on the device",
            lambda: JaxStep(fashion_mnist("device")),
        ),
        ("dcgan fashion_mnist 32px b128, data streamed", lambda: JaxStep(fashion_mnist("stream"))),
        ("dcgan 32x32x1 b64, custom_vjp, 1 step/call", lambda: JaxStep(dcgan_32("custom_vjp", 1))),
        ("dcgan 32x32x1 b64, custom_vjp, 10 steps/call", lambda: JaxStep(dcgan_32("custom_vjp", 10))),
        (  # config.model.dtype: G and D compute in bf16, the state stays float32
            "dcgan 32x32x1 b64, custom_vjp, 10 steps/call, bf16",
            lambda: JaxStep(dcgan_32("custom_vjp", 10, "bfloat16")),
        ),
        (  # config.train.reuse_fake: G's update on D's samples, one G forward a step
            "dcgan 32x32x1 b64, custom_vjp, 10 steps/call, reuse_fake",
            lambda: JaxStep(dcgan_32("custom_vjp", 10, reuse_fake=True)),
        ),
        # The modern recipe (configs/sngan.py): the ResNet with 5 D updates per step, then each
        # augmentation and regulariser of the limited-data study on top of it.
        *[(f"sngan digits 16px b64{name}", functools.partial(sngan_step, arg)) for name, arg in SNGAN_ROWS],
    ]
    if not args.skip_flax_conv:
        rows.append(("dcgan 32x32x1 b64, XLA's own convs (flax)", lambda: JaxStep(dcgan_32("flax", 1))))
    try:
        import torch

        from benchmarks.torch_dcgan import TorchDCGANStep

        torch.set_num_threads(len(os.sched_getaffinity(0)))
        rows.append(
            (f"dcgan 32x32x1 b64, PyTorch {torch.__version__} eager", lambda: TorchDCGANStep(32, 1, 64))
        )
        rows.append(
            (
                f"dcgan 32x32x1 b64, PyTorch {torch.__version__} eager, reuse_fake",
                lambda: TorchDCGANStep(32, 1, 64, reuse_fake=True),
            )
        )
    except ImportError:
        print("(PyTorch not installed: pip install -e '.[bench]' for the comparison row)")
    rows = [(name, factory) for name, factory in rows if args.only in name]

    steppers, compile_s, batches = [], [], []
    for name, factory in rows:
        stepper = factory()
        steppers.append(stepper)
        compile_s.append(getattr(stepper, "compile_seconds", float("nan")))
        batches.append(64 if "b64" in name else 128)
    rates = [[] for _ in rows]
    budget = [max(1, int(args.seconds * s.run(max(1, getattr(s, "steps_per_call", 1))))) for s in steppers]
    for _ in range(args.rounds):  # interleaved: every row once per round
        for i, stepper in enumerate(steppers):
            spc = getattr(stepper, "steps_per_call", 1)
            steps = max(spc, budget[i] // spc * spc)
            rates[i].append(stepper.run(steps))

    print(
        f"\n{cpu_model()}; {jax.default_backend()} x{jax.device_count()}, jax {jax.__version__}, "
        f"{args.rounds} interleaved rounds, median"
    )
    width = max(len(name) for name, _ in rows)
    print(f"| {'step':<{width}} | compile s | steps/s | images/s |")
    print(f"|{'-' * (width + 2)}|-----------|---------|----------|")
    medians = [statistics.median(r) for r in rates]
    for (name, _), c, m, b in zip(rows, compile_s, medians, batches, strict=True):
        print(f"| {name:<{width}} | {c:9.1f} | {m:7.2f} | {m * b:8.0f} |")
    names = [n for n, _ in rows]
    torch_rows = {"reuse_fake" in n: i for i, n in enumerate(names) if "PyTorch" in n}
    for i, n in enumerate(names):  # each JAX row against the PyTorch step of the same update order
        t = torch_rows.get("reuse_fake" in n)
        if n.startswith("dcgan 32x32x1") and "PyTorch" not in n and t is not None:
            print(f"ratio to PyTorch eager, {n}: {medians[i] / medians[t]:.2f}x ({names[t]})")


if __name__ == "__main__":
    main()
