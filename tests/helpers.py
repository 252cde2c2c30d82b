"""Helpers the tests share (imported as `from helpers import ...`; conftest.py holds the fixtures
and the process set-up: 8 fake CPU devices and JAX's compilation cache)."""

import os
import pathlib
import re

import jax
import numpy as np

from experiments import cli
from gan_jax import experiment

REPO = pathlib.Path(__file__).resolve().parents[1]
JAX_CACHE = os.path.expanduser("~/.cache/gan_jax/jax-tests")
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"  # the MNIST test split (IDX), where it is
# A cold suite is mostly XLA compiling small programs that then run for a few steps: at LLVM -O0,
# with XLA:CPU's older loop emitters in place of its MLIR fusion emitters and each program's LLVM
# module compiled whole rather than split for parallel codegen, the suite takes far less time
# (README.md, Performance, "The test suite's time"). Every test process and the commands it
# starts compile so, so the runs a test compares are compiled alike; the commands a user runs
# keep XLA's default, and so do the runs compared to float rounding rather than bit for bit
# (tests/population_runs.py): -O0 sums in orders that drift apart further.
COMPILE_FLAGS = (
    "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false "
    "--xla_cpu_parallel_codegen_split_count=1"
)
DEVICE_COUNT = re.compile(r"--xla_force_host_platform_device_count=\d+")


def xla_flags(*flags: str, devices: int = 1) -> str:
    """XLA_FLAGS of `flags` with `devices` fake CPU devices in place of any count they name."""
    kept = DEVICE_COUNT.sub("", " ".join(flags)).split()
    return " ".join(kept + ([f"--xla_force_host_platform_device_count={devices}"] if devices > 1 else []))


def subprocess_env(devices: int = 1, optimised: bool = False) -> dict[str, str]:
    """This process's environment for a command a test starts: its XLA flags (COMPILE_FLAGS, or
    XLA's default optimisation where `optimised`) on `devices` CPU devices (1: as a user has them)."""
    flags = os.environ.get("XLA_FLAGS", "").split()
    if optimised:
        flags = [f for f in flags if f not in COMPILE_FLAGS.split()]
    return {**os.environ, "XLA_FLAGS": xla_flags(*flags, devices=devices)}


def use_jax_cache() -> None:
    """JAX's compilation cache in JAX_CACHE for every program, however short its compile (as
    experiments/cli.py does for commands): a test process, or a script a test starts."""
    jax.config.update("jax_compilation_cache_dir", JAX_CACHE)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def normal(seed: int, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    """Standard-normal float32 test inputs, one array per shape, from numpy: jax.random would
    compile a program for every new shape (~0.3-1 s each on XLA:CPU, much of a cold suite's
    compiling), and no expectation pins these values."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape, np.float32) for shape in shapes]


def checkpoint_steps(workdir) -> list[int]:
    """Steps of the finalised checkpoints of a run (orbax's temporary directories excluded)."""
    return sorted(int(p.name) for p in (pathlib.Path(workdir) / "checkpoints").iterdir() if p.name.isdigit())


def load_config(spec: str):
    """configs/<file>.py[:arg] -> its ConfigDict, as `--config=` would load it."""
    path, _, arg = spec.partition(":")
    return cli.load_config(f"{REPO / path}:{arg}" if arg else str(REPO / path))


def build_run(spec: str, edit=None, devices=None):
    """(config, source, gan, fresh state, training arrays) of a config after `edit(config)`, built
    by the trainer's own factory on `devices` (default: the first device)."""
    config = load_config(spec)
    if edit is not None:
        edit(config)
    run = experiment.build(config, devices or jax.devices()[:1])
    return config, run.source, run.gan, run.initial_state(), run.training_arrays()


def run_steps(config, devices, calls: int):
    """The final state after `calls` calls of the compiled multi-step, and the program's HLO."""
    run = experiment.build(config, devices)
    state, arrays = run.initial_state(), run.training_arrays()
    compiled = run.compile(state, arrays)
    for _ in range(calls):
        state, _ = compiled(state, arrays)
    return state, compiled.as_text()


def tree_equal(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


def evaluation_run(data_name: str, image_size: int = 0, edit=None, **eval_values):
    """(config, gan, source, fresh state) of configs/gan_mlp.py on `data_name` with `eval_values`."""
    config = load_config("configs/gan_mlp.py")
    config.data.update(name=data_name, image_size=image_size)
    if "digits" in data_name:  # a held-out tail, as configs/dcgan.py keeps
        config.data.update(split="train[:1438]", eval_split="train[1438:]")
    config.eval.update(eval_values)
    if edit:
        edit(config)
    run = experiment.build(config, jax.devices()[:1])
    return config, run.gan, run.source, run.initial_state()
