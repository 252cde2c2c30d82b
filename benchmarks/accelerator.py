r"""Throughput on a GPU or TPU: the DCGAN step beside PyTorch's on the same chip, its FLOP
utilisation against the batch size, the ResNet step, and vmapped populations of 2-D GANs.

    python -m benchmarks.accelerator            # every group: a GPU or TPU, about 8 minutes
    python -m benchmarks.accelerator --groups=dcgan64,population --json=out/  # some, as files
    python -m benchmarks.accelerator --smoke    # tiny sizes, any machine (a test runs it)
    bash device/benchmark.sh                    # the lent H200's script (wheels, groups, files)

Each group is built, then timed interleaved over --rounds (medians), and printed as one table:
  * dcgan64, dcgan32, reuse64: the DCGAN step at 64x64x3 (CelebA-sized) and 32x32x3
    (CIFAR-10-sized), batch 128, ours in float32 and bfloat16 (config.model.dtype;
    `conv_impl='auto'`, the form gan_jax/models/conv.py picks per backend and dtype) beside the
    same step in PyTorch on the same device (benchmarks/torch_dcgan.py: eager, channels-last, AMP
    bf16, CUDA graphs, torch.compile default; compile and capture times reported), with fresh
    noise for G's update (Goodfellow's order), and in reuse64 at 64 px with `reuse_fake` (PyTorch's
    DCGAN example's order); then the ratio of our best to PyTorch's best per dtype. On a CPU only
    the eager rows.
  * autotune: torch.compile's max-autotune (AMP bf16) beside ours at 64 px (minutes to compile).
  * batch: model FLOP utilisation of our step against the batch size (128 to 1024), 64 px in
    bfloat16 and float32, 32 px in bfloat16.
  * calls: 64 px bf16 b128 at 1, 10 and 100 steps a call (10 elsewhere): the host loop's share.
  * conv_forms: both of our convolution forms (custom_vjp, flax) at 64 and 32 px, b128.
  * sngan: the ResNet step of configs/sngan.py (SNGAN's 32 px and 64 px layouts, batch 64, 5 D
    updates a step) in float32 and bfloat16, with and without DiffAugment.
  * population: PacGAN's ring protocol (configs/pacgan.py:ring,pack=2) as a vmapped population of
    1, 10, 40 and 160 members at 100 and 1,000 steps a call: member-steps/s, what PacGAN's full Table 1
    (8 cells x 10 seeds x 400,000 steps) costs. The members start from one state (the speed does
    not depend on the weights' values).
  * population_dtype: populations of 40 and 160 at 100 steps a call in float32 and bfloat16
    (config.model.dtype: the MLPs' matmuls in bf16, parameters and Adam's moments float32).
  * stacked: Stacked MNIST's DCGAN iteration (configs/stacked_mnist.py: carpedm20's 28 px
    networks, batch 64, one D and two G updates), one run and a vmapped population of 16.
MFU: XLA's count of one step's floating-point operations (step_flops; for a PyTorch row, that of
our step with the same networks, batch and order; for a population, the members' sum) x steps/s
/ the device's dense peak (PEAK_TFLOPS; float32 matmuls run as TF32 on NVIDIA tensor cores and
as bf16 passes on TPUs).
The images are tfds's mock CIFAR-10 and CelebA (random pixels of the real shapes; nothing is
downloaded): throughput does not depend on what the pixels show.
"""

import argparse
import dataclasses
import functools
import json
import os
import statistics
import sys
import time
from collections.abc import Callable

import jax
import numpy as np
from etils import epath

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


def _state(config, members: int, devices=None):
    """The experiment of `config` (on `devices`, default all) and its initial state, or, for
    `members` > 0, a population of that many copies of it stacked on a leading axis."""
    run = experiment.build(config, devices)
    state = run.initial_state()
    if not members:
        return run, state
    return run, parallel.put_replicated(jax.tree.map(lambda x: np.stack([x] * members), state), run.mesh)


class Timed:
    """A compiled multi-step and its data, run for a number of calls at a time."""

    def __init__(self, config, members: int = 0):
        start = time.perf_counter()
        run, self.state = _state(config, members)
        self.arrays = next(run.feed(self.state, 0))
        self.compiled = run.compile(self.state, self.arrays, vmapped=bool(members))
        self.steps_per_call = config.train.steps_per_call
        self.rate(1)  # warm-up
        self.compile_seconds = time.perf_counter() - start

    def rate(self, calls: int) -> float:
        """Train steps per second over `calls` calls."""
        start = time.perf_counter()
        for _ in range(calls):
            self.state, metrics = self.compiled(self.state, self.arrays)
        jax.block_until_ready(metrics)
        return calls * self.steps_per_call / (time.perf_counter() - start)


class TorchTimed:
    """benchmarks/torch_dcgan.py's step behind Timed's interface (one step a call)."""

    steps_per_call = 1

    def __init__(self, **kwargs):
        from benchmarks.torch_dcgan import TorchDCGANStep

        self.step = TorchDCGANStep(**kwargs)
        self.compile_seconds = self.step.compile_seconds

    def rate(self, calls: int) -> float:
        return self.step.run(calls)


@dataclasses.dataclass
class Row:
    """A table row: `make()` builds its timed step; `config` is ours (or the one whose FLOPs a
    PyTorch row shares); `members` the population size (0: one run)."""

    name: str
    config: object
    make: Callable[[], Timed | TorchTimed]
    images: int = 0
    members: int = 0
    dtype: str = "float32"


def dcgan(size: int, dtype: str, batch: int, smoke: bool, conv_impl: str = "auto", reuse_fake=False):
    config = load_config("configs/dcgan.py:" + {64: "celeb_a", 32: "cifar10"}[size])
    config.model.dtype = dtype
    config.model.g.conv_impl = config.model.d.conv_impl = conv_impl
    config.data.pipeline = "device"
    config.train.update(batch_size=batch, steps_per_call=10, reuse_fake=reuse_fake)
    if smoke:
        config.model.g.width = config.model.d.width = 4
        config.train.steps_per_call = 1
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


def pacgan_ring(steps_per_call: int, smoke: bool, dtype: str = "float32"):
    """PacGAN's ring cell with packing 2, as its authors run it (configs/pacgan.py)."""
    config = load_config("configs/pacgan.py:ring,pack=2" + (",smoke" if smoke else ""))
    config.train.steps_per_call = steps_per_call
    config.model.dtype = dtype
    return config


def stacked(smoke: bool):
    """configs/stacked_mnist.py's DCGAN (batch 64 packs of one), on tfds's mock MNIST."""
    config = load_config("configs/stacked_mnist.py:tfds" + (",smoke" if smoke else ""))
    config.train.steps_per_call = 1 if smoke else 10
    return config


def ours(name: str, config, members: int = 0) -> Row:
    images = 0 if members else config.train.batch_size
    return Row(name, config, lambda: Timed(config, members), images, members, config.model.dtype)


def torch_row(size: int, batch: int, smoke: bool, on_gpu: bool, variant, reuse_fake: bool) -> Row:
    """PyTorch's DCGAN step of `variant`, sharing the FLOP count of our step with the same setting."""
    dtype = "bfloat16" if variant.bf16 else "float32"
    order = ", reuse_fake" if reuse_fake else ""
    kwargs = dict(size=size, channels=3, batch=batch, reuse_fake=reuse_fake, variant=variant)
    kwargs.update(width=4 if smoke else 64, device="cuda" if on_gpu else "cpu")
    return Row(
        f"dcgan {size}px b{batch}{order}: PyTorch {variant.name}",
        dcgan(size, dtype, batch, smoke, reuse_fake=reuse_fake),
        functools.partial(TorchTimed, **kwargs),
        batch,
        dtype=dtype,
    )


def torch_variants(on_gpu: bool) -> tuple:
    """PyTorch's variants to run here: all on CUDA, eager on a CPU, none without PyTorch (it is
    the `bench` extra)."""
    try:
        from benchmarks import torch_dcgan
    except ImportError:
        return ()
    return torch_dcgan.VARIANTS if on_gpu else (torch_dcgan.EAGER,)


def dcgan_rows(size: int, reuse_fake: bool, smoke: bool, on_gpu: bool) -> list[Row]:
    """Ours and PyTorch's DCGAN step at `size` px, batch 128 (8 in smoke), in one update order;
    PyTorch's compiled variants in the fresh order only, max-autotune in its own group (its
    compile alone takes minutes)."""
    batch = 8 if smoke else 128
    order = ", reuse_fake" if reuse_fake else ""
    rows = [
        ours(
            f"dcgan {size}px b{batch}{order}: ours, {dtype}",
            dcgan(size, dtype, batch, smoke, reuse_fake=reuse_fake),
        )
        for dtype in ("float32", "bfloat16")
    ]
    for variant in torch_variants(on_gpu):
        if variant.compile == "max-autotune" or (reuse_fake and variant.compile):
            continue
        rows.append(torch_row(size, batch, smoke, on_gpu, variant, reuse_fake))
    return rows


def autotune_rows(smoke: bool, on_gpu: bool) -> list[Row]:
    batch = 8 if smoke else 128
    autotuned = [v for v in torch_variants(True) if v.compile == "max-autotune"]
    rows = [ours(f"dcgan 64px b{batch}: ours, bfloat16", dcgan(64, "bfloat16", batch, smoke))]
    return rows + [torch_row(64, batch, smoke, on_gpu, variant, False) for variant in autotuned]


def batch_rows(smoke: bool, on_gpu: bool) -> list[Row]:
    cells = (("bfloat16", 64, (128, 256, 512, 1024)), ("float32", 64, (256, 1024)), ("bfloat16", 32, (1024,)))
    return [
        ours(f"dcgan {size}px b{b} {dtype}", dcgan(size, dtype, b, smoke))
        for dtype, size, batches in cells
        for b in ((8, 16) if smoke else batches)
    ]


def calls_rows(smoke: bool, on_gpu: bool) -> list[Row]:
    """The host loop's share: the same step at 1, 10 and 100 steps a call."""
    rows = []
    for steps in (1, 10, 100):
        config = dcgan(64, "bfloat16", 8 if smoke else 128, smoke)
        config.train.steps_per_call = steps
        rows.append(ours(f"dcgan 64px b{config.train.batch_size} bfloat16, {steps} steps a call", config))
    return rows


def conv_form_rows(smoke: bool, on_gpu: bool) -> list[Row]:
    return [
        ours(f"dcgan {size}px b128 {dtype} {form}", dcgan(size, dtype, 8 if smoke else 128, smoke, form))
        for size in (64, 32)
        for dtype in ("float32", "bfloat16")
        for form in ("custom_vjp", "flax")
    ]


def sngan_rows(smoke: bool, on_gpu: bool) -> list[Row]:
    return [
        ours(f"sngan resnet {size}px b64 {dtype}" + (" diffaugment" if augment else ""), config)
        for size, dataset in ((32, "cifar10"), (64, "celeb_a"))
        for dtype in ("float32", "bfloat16")
        for augment in (False, True)
        for config in (sngan(dataset, dtype, augment, smoke),)
    ]


def population_rows(smoke: bool, on_gpu: bool) -> list[Row]:
    return [
        ours(f"pacgan ring pack 2, population of {n}, {spc} steps a call", pacgan_ring(spc, smoke), n)
        for spc in ((1,) if smoke else (100, 1000))
        for n in ((1, 2) if smoke else (1, 10, 40, 160))
    ]


def population_dtype_rows(smoke: bool, on_gpu: bool) -> list[Row]:
    return [
        ours(
            f"pacgan ring pack 2, population of {n}, {dtype}",
            pacgan_ring(1 if smoke else 100, smoke, dtype),
            n,
        )
        for n in ((2,) if smoke else (40, 160))
        for dtype in ("float32", "bfloat16")
    ]


def stacked_rows(smoke: bool, on_gpu: bool) -> list[Row]:
    config = stacked(smoke)
    return [
        ours("stacked MNIST DCGAN 28px b64, one run", config),
        ours("stacked MNIST DCGAN 28px b64, population of 16", config, 16),
    ]


GROUPS = {  # name -> its rows (smoke, on_gpu); in the order a visit should measure them
    "dcgan64": functools.partial(dcgan_rows, 64, False),
    "batch": batch_rows,
    "population": population_rows,
    "population_dtype": population_dtype_rows,
    "reuse64": functools.partial(dcgan_rows, 64, True),
    "calls": calls_rows,
    "autotune": autotune_rows,
    "dcgan32": functools.partial(dcgan_rows, 32, False),
    "conv_forms": conv_form_rows,
    "sngan": sngan_rows,
    "stacked": stacked_rows,
}


def measure(rows: list[Row], rounds: int, seconds: float, report: Callable[[list[dict]], None]) -> list[dict]:
    """Build every row, then time them interleaved (every row once per round): medians, spreads,
    MFU, handed to `report` after every round (a group stopped by its time limit keeps the rounds
    it finished; the log keeps each row's one-call rate from its build). A row that fails to
    build is reported with its error, the others still run."""
    built, failed, counted = [], {}, {}  # counted: FLOPs by config, shared by our rows and PyTorch's
    for row in rows:
        try:
            timed = row.make()
            key = str(row.config)
            if key not in counted:
                counted[key] = step_flops(row.config)
            first = timed.rate(1)
            calls = max(1, int(seconds * first / timed.steps_per_call))
            built.append((row, timed, counted[key] * max(row.members, 1), calls))
            print(
                f"built {row.name} in {timed.compile_seconds:.0f}s; one call: {first:,.1f} steps/s",
                file=sys.stderr,
                flush=True,
            )
        except Exception as error:  # a PyTorch variant this runtime cannot run: say so, go on
            print(f"FAILED {row.name}: {type(error).__name__}: {error}"[:400], file=sys.stderr, flush=True)
            failed[row.name] = repr(error)[:400]
    rates = {row.name: [] for row, *_ in built}
    results = []
    for _ in range(rounds):
        for row, timed, _, calls in built:
            rates[row.name].append(timed.rate(calls))
        measured = {row.name: _result(row, timed, flops, rates[row.name]) for row, timed, flops, _ in built}
        results = [measured.get(r.name) or {"name": r.name, "error": failed[r.name]} for r in rows]
        report(results)
    return results


def _result(row: Row, timed, flops: float, rates: list[float]) -> dict:
    """A row's entry of the table: its rates so far, their median and what follows from it."""
    rate = statistics.median(rates)
    peak = peak_flops(jax.devices()[0], row.dtype)
    return {
        "name": row.name,
        "steps_per_s": rate,
        "rounds": rates,
        "throughput": row.images * rate if row.images else max(row.members, 1) * rate,
        "compile_s": timed.compile_seconds,
        "flops": flops,
        "mfu": flops * rate / peak if peak else None,
        "dtype": row.dtype,
    }


def print_table(results: list[dict]) -> None:
    print("| step | steps/s (spread) | images/s, or member-steps/s | GFLOP/step | TFLOP/s | MFU | build s |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        if "error" in r:
            print(f"| {r['name']} | failed: {r['error'][:120]} | | | | | |")
            continue
        spread = f"{min(r['rounds']):,.1f}-{max(r['rounds']):,.1f}"
        mfu = "n/a" if r["mfu"] is None else f"{100 * r['mfu']:.1f}%"
        tflops = r["flops"] * r["steps_per_s"] / 1e12
        print(
            f"| {r['name']} | {r['steps_per_s']:,.1f} ({spread}) | {r['throughput']:,.0f} | "
            f"{r['flops'] / 1e9:.2f} | {tflops:.2f} | {mfu} | {r['compile_s']:.0f} |"
        )
    for line in ratio_lines(results):
        print(line)


def ratio_lines(results: list[dict]) -> list[str]:
    """Our best over PyTorch's best, per setting (size, batch, order) and dtype."""
    best: dict[tuple, dict] = {}
    for r in results:
        if "error" in r or ": " not in r["name"]:
            continue
        setting, who = r["name"].split(": ", 1)
        key = (setting, r["dtype"], who.startswith("PyTorch"))
        if key not in best or r["steps_per_s"] > best[key]["steps_per_s"]:
            best[key] = r
    lines = []
    for (setting, dtype, torch_side), theirs in best.items():
        mine = best.get((setting, dtype, False))
        if torch_side and mine:
            lines.append(
                f"{setting}, {dtype}: ours {mine['steps_per_s']:,.1f} / PyTorch's best "
                f"({theirs['name'].split(': PyTorch ', 1)[1]}) {theirs['steps_per_s']:,.1f} = "
                f"{mine['steps_per_s'] / theirs['steps_per_s']:.2f}x"
            )
    return lines


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes: checks the script, measures nothing"
    )
    parser.add_argument("--groups", default=",".join(GROUPS), help=f"comma-separated, of {', '.join(GROUPS)}")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.5, help="target seconds per row per round")
    parser.add_argument("--only", default="", help="'|'-separated: only the rows whose name has one")
    parser.add_argument("--json", default="", help="a folder: each group's rows and machine as <group>.json")
    args = parser.parse_args(argv)
    groups = args.groups.split(",")
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        parser.error(f"no benchmark group {', '.join(unknown)}: choose from {', '.join(GROUPS)}")
    if args.smoke:
        args.rounds, args.seconds = 1, 0.05
    device = jax.devices()[0]
    machine = {"device": device.device_kind, "backend": jax.default_backend(), "host": cpu_model()}
    machine["versions"] = versions()
    machine["xla_flags"] = os.environ.get("XLA_FLAGS", "").strip()  # how the rows were compiled
    print(f"{machine}", flush=True)
    results = []
    for group in groups:
        path = epath.Path(args.json) / f"{group}.json" if args.json else None
        measured = run_group(group, args, functools.partial(_save, path, machine))
        if measured:
            print(f"\n{group}: {device.device_kind}, {args.rounds} interleaved rounds, median (min-max)")
            print_table(measured)
            sys.stdout.flush()
        results += measured
    return results


def run_group(group: str, args: argparse.Namespace, report: Callable[[list[dict]], None]) -> list[dict]:
    """The group's rows that --only leaves, measured (none: [])."""
    import tensorflow_datasets as tfds

    wanted = [w for w in args.only.split("|") if w]
    with tfds.testing.mock_data(num_examples=256 if args.smoke else 2048):
        rows = GROUPS[group](args.smoke, jax.default_backend() == "gpu")
        rows = [r for r in rows if not wanted or any(w in r.name for w in wanted)]
        return measure(rows, args.rounds, args.seconds, report) if rows else []


def _save(path: epath.Path | None, machine: dict, rows: list[dict]) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))


def versions() -> str:
    """The frameworks timed: JAX's version, and PyTorch's where it is installed."""
    text = f"jax {jax.__version__}"
    try:
        import torch

        text += f", torch {torch.__version__}"
    except ImportError:
        pass
    return text


if __name__ == "__main__":
    main()
