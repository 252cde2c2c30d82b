r"""Speed of the compiled train step on this machine, and of the same DCGAN step in PyTorch.

    python -m benchmarks.train_step                # add --rounds=5 for steadier numbers
    pip install -e '.[bench]'                      # PyTorch, for the comparison column
    python -m benchmarks.train_step --only="dcgan 32x32x1" --skip_flax_conv --processes=yes --rounds=5
    python -m benchmarks.train_step --only="step/call" --processes=yes --host_allocator=both --skip_flax_conv

Rows: the two configs as shipped (gan_mlp on the ring; dcgan on digits at 16 px), and the DCGAN
step at 32x32x1, batch 64 -- the setting of the issue's PyTorch measurement -- with our
custom-VJP convolutions (also in bfloat16 mixed precision, config.model.dtype), with flax's
stock nn.ConvTranspose/lax.conv (the "before"), and in PyTorch eager (benchmarks/torch_dcgan.py:
same architecture, losses and update order; D's parameter gradients switched off during G's
update, its best case). Rows run interleaved, every row once a round (the machine's speed drifts
between runs), each cell the median over rounds with the rounds' min-max beside it; by default
all in this process, with --processes=yes each row in a fresh process of its own every round (no
two runtimes share a process: PyTorch's OpenMP threads and XLA's pool never meet), --processes=
both for both arrangements side by side. Every process keeps its freed memory for reuse, as every
command does (memory.reuse_freed_host_memory); --host_allocator=glibc times glibc's default instead,
=both each in its own process (the before and after of that policy). Timing is never asserted on.
"""

import argparse
import functools
import importlib.metadata
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import jax

from experiments.cli import load_config
from gan_jax import experiment, memory
from gan_jax.clock import cpu_model

SNGAN_ROWS = [  # (the row's name after "sngan digits 16px b64", configs/sngan.py's argument)
    (" (as shipped)", "digits"),
    (", + DiffAugment (color,translation,cutout)", "digits,diffaugment"),
    (", + ADA (bgc; cost independent of p)", "digits,ada"),
    (", + LeCam", "digits,lecam"),
    (", + bCR (real and fake)", "digits,bcr"),
    (", + top-k", "digits,top_k"),
]
ALLOCATORS = {"reuse": "freed memory reused", "glibc": "glibc's default allocator"}
# A row's name suffix in its own process: the allocator named only when both are timed (None).
OWN_PROCESS = {None: " (own process)", **{a: f" (own process, {label})" for a, label in ALLOCATORS.items()}}
SUFFIXES = (" (in one process)", *OWN_PROCESS.values())


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


def rows(skip_flax_conv: bool) -> list[tuple[str, Callable]]:
    """(name, factory) of every row; the batch size is read from the name."""
    table = [
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
        # PacGAN's protocol (configs/pacgan.py): D's packs drawn afresh every batch, or formed once
        # and walked an epoch at a time (data.fixed_packs: a keyed permutation, no sort a step)
        ("pacgan grid b400, PacGAN4", lambda: JaxStep(load_config("configs/pacgan.py:grid,pack=4"))),
        (
            "pacgan grid b400, PacGAN4, fixed packs",
            lambda: JaxStep(load_config("configs/pacgan.py:grid,pack=4,fixed_packs")),
        ),
        # The modern recipe (configs/sngan.py): the ResNet with 5 D updates per step, then each
        # augmentation and regulariser of the limited-data study on top of it.
        *[(f"sngan digits 16px b64{name}", functools.partial(sngan_step, arg)) for name, arg in SNGAN_ROWS],
    ]
    if not skip_flax_conv:
        table.append(("dcgan 32x32x1 b64, XLA's own convs (flax)", lambda: JaxStep(dcgan_32("flax", 1))))
    try:  # the version without importing PyTorch: a JAX row's own process never loads it
        version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        print("(PyTorch not installed: pip install -e '.[bench]' for the comparison row)")
        return table
    name = f"dcgan 32x32x1 b64, PyTorch {version} eager"
    table.append((name, functools.partial(torch_step, reuse_fake=False)))
    table.append((name + ", reuse_fake", functools.partial(torch_step, reuse_fake=True)))
    return table


def torch_step(reuse_fake: bool):
    """PyTorch's DCGAN step at 32x32x1, batch 64, on every core this process may use."""
    import torch

    from benchmarks.torch_dcgan import TorchDCGANStep

    torch.set_num_threads(len(os.sched_getaffinity(0)))
    return TorchDCGANStep(32, 1, 64, reuse_fake=reuse_fake)


def calibrate(stepper, seconds: float) -> int:
    """Steps (a whole number of calls) that take about `seconds`, from one call's rate."""
    spc = getattr(stepper, "steps_per_call", 1)
    return max(spc, int(seconds * stepper.run(spc)) // spc * spc)


def timed(stepper, steps: int) -> dict:
    """Steps/s over `steps`, with the process's page faults and system (kernel) CPU time a step:
    where a call's fresh buffers go (memory.reuse_freed_host_memory)."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    rate = stepper.run(steps)
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "rate": rate,
        "faults": (after.ru_minflt - before.ru_minflt) / steps,
        "system_ms": (after.ru_stime - before.ru_stime) / steps * 1e3,
    }


def worker(name: str, skip_flax_conv: bool, seconds: float) -> None:
    """--worker: build one row in this fresh process, time it once, print `timed`'s figures and
    the compile time as the last line (the parent's --processes mode reads it)."""
    (factory,) = [f for n, f in rows(skip_flax_conv) if n == name]
    stepper = factory()
    figures = timed(stepper, calibrate(stepper, seconds))
    print(json.dumps({**figures, "compile_s": getattr(stepper, "compile_seconds", float("nan"))}))


def in_own_process(name: str, skip_flax_conv: bool, seconds: float, allocator: str) -> dict:
    flags = ["--skip_flax_conv"] if skip_flax_conv else []
    command = [
        sys.executable,
        "-m",
        "benchmarks.train_step",
        f"--worker={name}",
        f"--seconds={seconds}",
        f"--host_allocator={allocator}",
        *flags,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0, help="target seconds per cell per round")
    parser.add_argument("--skip_flax_conv", action="store_true", help="skip the slow 'before' row")
    parser.add_argument("--only", default="", help="'|'-separated: only the rows whose name has one")
    parser.add_argument(
        "--processes",
        choices=("no", "yes", "both"),
        default="no",
        help="time each row in one process with the others (no), in a fresh process of its own each "
        "round (yes: no two runtimes share a process), or both, interleaved",
    )
    parser.add_argument(
        "--host_allocator",
        choices=(*ALLOCATORS, "both"),
        default="reuse",
        help="freed host memory kept for reuse as every command keeps it (reuse), glibc's default "
        "(glibc), or both, each row in its own process (needs --processes=yes)",
    )
    parser.add_argument("--worker", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.host_allocator == "both" and args.processes != "yes":
        parser.error("--host_allocator=both times each row in a process of its own: add --processes=yes.")
    return args


def main():
    args = parse_args()
    if args.host_allocator == "reuse":  # before the first JAX computation, as experiments.cli.run
        memory.reuse_freed_host_memory()
    if args.worker:
        return worker(args.worker, args.skip_flax_conv, args.seconds)

    wanted = args.only.split("|")
    chosen = [
        (name, factory) for name, factory in rows(args.skip_flax_conv) if any(w in name for w in wanted)
    ]
    timers = [timer for name, factory in chosen for timer in arranged(name, factory, args)]
    rounds = {n: [] for n, _ in timers}
    for _ in range(args.rounds):  # interleaved: every row once per round
        for name, timer in timers:
            rounds[name].append(timer())
    print_table(rounds)


def print_table(rounds: dict[str, list[dict]]) -> None:
    """Each row's median steps/s with its rounds' min-max, page faults and system ms a step
    (medians), then the ratios to PyTorch."""
    rates = {name: [r["rate"] for r in figures] for name, figures in rounds.items()}
    print(
        f"\n{cpu_model()}; {jax.default_backend()} x{jax.device_count()}, jax {jax.__version__}, "
        f"{len(next(iter(rates.values())))} interleaved rounds, median (min-max)"
    )
    width = max(len(name) for name in rates)
    print(f"| {'step':<{width}} | compile s | steps/s (min-max) | images/s | faults/step | system ms/step |")
    print(f"|{'-' * (width + 2)}|-----------|-------------------|----------|-------------|----------------|")
    medians = {name: statistics.median(r) for name, r in rates.items()}
    for name, r in rates.items():
        spread = f"{medians[name]:7.2f} ({min(r):.2f}-{max(r):.2f})"
        faults, system_ms = (statistics.median(f[k] for f in rounds[name]) for k in ("faults", "system_ms"))
        print(
            f"| {name:<{width}} | {rounds[name][-1]['compile_s']:9.1f} | {spread:17} | "
            f"{medians[name] * batch(name):8.0f} | {faults:11.0f} | {system_ms:14.1f} |"
        )
    for line in torch_ratios(medians):
        print(line)


def arranged(name: str, factory: Callable, args: argparse.Namespace) -> list[tuple[str, Callable]]:
    """The row's timers, (label, () -> `timed`'s figures and the compile s), in the arrangements
    --processes asks for: built here once and run here each round, or built and run in a fresh
    process each round."""
    timers = []
    if args.processes != "yes":
        stepper = factory()
        steps = calibrate(stepper, args.seconds)
        compile_s = getattr(stepper, "compile_seconds", float("nan"))
        label = name + (" (in one process)" if args.processes == "both" else "")
        timers.append((label, lambda: {**timed(stepper, steps), "compile_s": compile_s}))
    if args.processes == "no":
        return timers
    allocators = list(ALLOCATORS) if args.host_allocator == "both" else [args.host_allocator]
    for allocator in allocators:
        suffix = OWN_PROCESS[allocator if len(allocators) > 1 else None]
        run = functools.partial(in_own_process, name, args.skip_flax_conv, args.seconds, allocator)
        timers.append((name + suffix, run))
    return timers


def batch(name: str) -> int:
    return 64 if "b64" in name else 128


def torch_ratios(medians: dict[str, float]) -> list[str]:
    """Each dcgan 32x32x1 row of ours over PyTorch eager's with the same update order and the same
    process arrangement (the suffix in parentheses, if any)."""
    lines = []
    for name, rate in medians.items():
        if not name.startswith("dcgan 32x32x1") or "PyTorch" in name:
            continue
        suffix = next((s for s in SUFFIXES if name.endswith(s)), "")
        reuse = "reuse_fake" in name
        theirs = [
            n for n in medians if "PyTorch" in n and n.endswith(suffix) and ("reuse_fake" in n) == reuse
        ]
        if theirs:
            lines.append(f"ratio to PyTorch eager, {name}: {rate / medians[theirs[0]]:.2f}x ({theirs[0]})")
    return lines


if __name__ == "__main__":
    main()
