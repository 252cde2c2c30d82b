r"""Throughput on a GPU or TPU: the DCGAN and ResNet steps and a vmapped population of 2-D GANs.

    python -m benchmarks.accelerator            # the full table: a GPU or TPU, about 5 minutes
    python -m benchmarks.accelerator --smoke    # 32 px only, tiny sizes, any machine (a test runs it)

Rows (all timed interleaved over --rounds, medians):
  * DCGAN at 64x64x3 (CelebA-sized) and 32x32x3 (CIFAR-10-sized), batch 128, in float32 and in
    bfloat16 (config.model.dtype), each with both convolution forms (model.g/d.conv_impl):
    `custom_vjp`, written for XLA:CPU's kernels (gan_jax/models/conv.py), and `flax`, the
    compiler's own lowering -- on a GPU or TPU the compiler's layout choices may win
    (conv.resolve's 'auto' picks per backend and dtype from these rows). Columns: steps/s,
    images/s, and model FLOP utilisation: XLA's count of one step's floating-point operations
    (step_flops) x steps/s / the device's dense peak (PEAK_TFLOPS; float32 matmuls run as TF32
    on NVIDIA tensor cores and as bf16 passes on TPUs).
  * The ResNet step of configs/sngan.py (SNGAN's 32 px and 64 px layouts, batch 64, 5 D updates
    a step) in float32 and bfloat16, with and without DiffAugment (the modern-recipe issue's rows).
  * The ring GAN of configs/gan_mlp.py as a vmapped population of 16 seeds (the accelerator path
    of experiments.sweep): member-steps/s, against the same step for one run.
  * Stacked MNIST's DCGAN iteration (configs/stacked_mnist.py: carpedm20's 28 px networks, batch
    64, one D and two G updates), one run and a vmapped population: what a full-length table
    (4 cells x 10 seeds x 100,000 iterations) costs.
The images are tfds's mock CIFAR-10 and CelebA (random pixels of the real shapes; nothing is
downloaded): throughput does not depend on what the pixels show.
"""

import argparse
import dataclasses
import json
import statistics
import sys
import time

import jax
import numpy as np

from experiments.cli import load_config
from gan_jax import experiment, parallel
from gan_jax.clock import cpu_model

# Dense peak TFLOP/s from the vendors' datasheets: (bfloat16, float32 as the matmul units run it).
PEAK_TFLOPS = {
    "H200": (989.0, 494.0),
    "H100": (989.0, 494.0),
    "A100": (312.0, 156.0),
    "L4": (121.0, 60.0),
    "TPU v4": (275.0, 275.0),
    "TPU v5 lite": (197.0, 197.0),
    "TPU v5p": (459.0, 459.0),
    "TPU v6 lite": (918.0, 918.0),
}


def peak_flops(device: jax.Device, dtype: str) -> float | None:
    """The device's dense peak in FLOP/s for `dtype`, or None when PEAK_TFLOPS does not know it."""
    for name, (bf16, f32) in PEAK_TFLOPS.items():
        if name in device.device_kind:
            return 1e12 * (bf16 if dtype == "bfloat16" else f32)
    return None


def step_flops(config) -> float:
    """XLA's count of one train step's floating-point operations: the HLO cost analysis of a
    one-step call lowered for the host's CPU (XLA counts a loop's body once, whatever its trip
    count). Not the accelerator's own analysis: a GPU's counts its cuDNN convolutions as custom
    calls of 0 FLOPs (2.1 of 276 GFLOP for the 64 px step on an H200, jax 0.11.2)."""
    config = config.copy_and_resolve_references()
    config.train.steps_per_call = 1
    run, state = _state(config, 0, jax.devices("cpu")[:1])
    analysis = run.lower(state, next(run.feed(state, 0))).cost_analysis()
    return float((analysis[0] if isinstance(analysis, list) else analysis)["flops"])


def _state(config, vmapped_seeds: int, devices=None):
    """The experiment of `config` (on `devices`, default all) and its initial state, or a
    population's stacked states."""
    run = experiment.build(config, devices)
    if not vmapped_seeds:
        return run, run.initial_state()
    states = [
        dataclasses.replace(run, config=_with_seed(config, s)).initial_state() for s in range(vmapped_seeds)
    ]
    return run, parallel.put_replicated(jax.tree.map(lambda *x: np.stack(x), *states), run.mesh)


class Timed:
    """A compiled multi-step and its data, run for a number of calls at a time."""

    def __init__(self, config, vmapped_seeds: int = 0):
        run, self.state = _state(config, vmapped_seeds)
        self.arrays = next(run.feed(self.state, 0))
        self.compiled = run.compile(self.state, self.arrays, vmapped=bool(vmapped_seeds))
        self.steps_per_call = config.train.steps_per_call
        self.rate(1)  # warm-up

    def rate(self, calls: int) -> float:
        """Train steps per second over `calls` calls."""
        start = time.perf_counter()
        for _ in range(calls):
            self.state, metrics = self.compiled(self.state, self.arrays)
        jax.block_until_ready(metrics)
        return calls * self.steps_per_call / (time.perf_counter() - start)


def _with_seed(config, seed: int):
    config = config.copy_and_resolve_references()
    config.seed = seed
    return config


def dcgan(dataset: str, dtype: str, conv_impl: str, smoke: bool):
    config = load_config(f"configs/dcgan.py:{dataset}")
    config.model.dtype = dtype
    config.model.g.conv_impl = config.model.d.conv_impl = conv_impl
    config.data.pipeline = "device"
    config.train.update(batch_size=128, steps_per_call=10)
    if smoke:
        config.model.g.width = config.model.d.width = 4
        config.train.update(batch_size=8, steps_per_call=1)
    return config


def sngan(dataset: str, dtype: str, augment: bool, smoke: bool):
    """configs/sngan.py's ResNet step (5 D updates, batch 64), with or without DiffAugment."""
    config = load_config(f"configs/sngan.py:{dataset}" + (",diffaugment" if augment else ""))
    config.model.dtype = dtype
    config.data.pipeline = "device"
    config.train.steps_per_call = 10
    if smoke:
        config.model.g.width = config.model.d.width = 4
        config.train.update(batch_size=8, steps_per_call=1)
    return config


def ring(smoke: bool):
    config = load_config("configs/gan_mlp.py")
    if smoke:
        config.train.steps_per_call = 1
    return config


def stacked(smoke: bool):
    """configs/stacked_mnist.py's DCGAN (batch 64 packs of one), on tfds's mock MNIST."""
    config = load_config("configs/stacked_mnist.py:tfds" + (",smoke" if smoke else ""))
    config.train.steps_per_call = 1 if smoke else 10
    return config


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes: checks the script, measures nothing"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="target seconds per cell per round")
    parser.add_argument("--seeds", type=int, default=16, help="population size")
    parser.add_argument("--only", default="", help="comma-separated: only the rows whose name has one")
    parser.add_argument("--json", default="", help="also write the rows and the machine to this file")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.seconds, args.seeds = 1, 0.05, 2
    import tensorflow_datasets as tfds

    rows = []  # (name, images per step, config, vmapped seeds)
    with tfds.testing.mock_data(num_examples=256 if args.smoke else 2048):
        for dataset, size in (("cifar10", 32),) if args.smoke else (("celeb_a", 64), ("cifar10", 32)):
            for dtype in ("float32", "bfloat16"):
                for conv_impl in ("custom_vjp", "flax"):
                    config = dcgan(dataset, dtype, conv_impl, args.smoke)
                    name = f"dcgan {size}x{size}x3 b{config.train.batch_size} {dtype} {conv_impl}"
                    rows.append((name, config.train.batch_size, config, 0))
            for dtype in ("float32", "bfloat16"):
                for augment in (False, True):
                    config = sngan(dataset, dtype, augment, args.smoke)
                    name = f"sngan resnet {size}x{size}x3 b{config.train.batch_size} {dtype}"
                    rows.append(
                        (name + (" diffaugment" if augment else ""), config.train.batch_size, config, 0)
                    )
        config = ring(args.smoke)
        rows.append(("ring GAN, one run", 0, config, 0))
        rows.append((f"ring GAN, vmapped population of {args.seeds}", 0, config, args.seeds))
        config = stacked(args.smoke)
        name = f"stacked MNIST DCGAN 28x28x3 b{config.train.batch_size}"
        rows.append((f"{name}, one run", config.train.batch_size, config, 0))
        rows.append((f"{name}, vmapped population of {args.seeds}", 0, config, args.seeds))
        wanted = [w for w in args.only.split(",") if w]
        rows = [row for row in rows if not wanted or any(w in row[0] for w in wanted)]
        timed, flops = [], []
        for name, images, config, seeds in rows:
            start = time.perf_counter()
            timed.append(Timed(config, seeds))
            flops.append(step_flops(config) if images else None)
            print(f"compiled {name} in {time.perf_counter() - start:.0f}s", file=sys.stderr, flush=True)
    calls = [max(1, int(args.seconds * t.rate(1) / t.steps_per_call)) for t in timed]
    rates = [[] for _ in rows]
    for _ in range(args.rounds):  # interleaved: every row once per round
        for i, t in enumerate(timed):
            rates[i].append(t.rate(calls[i]))

    device = jax.devices()[0]
    print(
        f"\n{device.device_kind} ({jax.default_backend()}, {jax.device_count()} device(s); host: "
        f"{cpu_model()}), jax {jax.__version__}, {args.rounds} interleaved rounds, median"
    )
    print("| step | steps/s | images/s (members x steps/s) | GFLOP/step | MFU |")
    print("|---|---|---|---|---|")
    results = []
    for (name, images, config, seeds), rounds, f in zip(rows, rates, flops, strict=True):
        rate = statistics.median(rounds)
        peak = peak_flops(device, config.model.dtype)
        mfu = f * rate / peak if f and peak else None
        throughput = images * rate if images else max(seeds, 1) * rate
        results.append(
            {
                "name": name,
                "steps_per_s": rate,
                "rounds": rounds,
                "throughput": throughput,
                "flops": f,
                "mfu": mfu,
            }
        )
        print(
            f"| {name} | {rate:.2f} | {throughput:,.0f} | {f / 1e9 if f else float('nan'):.2f} | "
            f"{'n/a (no peak for this device)' if mfu is None else f'{100 * mfu:.1f}%'} |"
        )
    if args.json:
        machine = {"device": device.device_kind, "backend": jax.default_backend(), "host": cpu_model()}
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "jax": jax.__version__, "rows": results}, f, indent=1)
    return results


if __name__ == "__main__":
    main()
