"""Test set-up: 8 fake CPU devices (for the data-parallel tests) and JAX's compilation cache.

Tests that are not about parallelism pass `devices=jax.devices()[:1]` to the trainer.
"""

import os
import pathlib
import signal
import sys

os.environ["XLA_FLAGS"] = " ".join(
    [os.environ.get("XLA_FLAGS", ""), "--xla_force_host_platform_device_count=8"]
).strip()

import jax  # noqa: E402
import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
JAX_CACHE = os.path.expanduser("~/.cache/gan_jax/jax-tests")
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from experiments import cli  # noqa: E402
from gan_jax import experiment  # noqa: E402
from gan_jax.preemption import PreemptionWatcher  # noqa: E402

jax.config.update("jax_compilation_cache_dir", JAX_CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # as experiments/cli.py


@pytest.fixture(scope="session")
def one_device():
    return jax.devices()[:1]


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


@pytest.fixture
def sigterm_at(monkeypatch):
    """sigterm_at(n): the next run's trainer sees a SIGTERM at its n-th sync point (the call that
    ends at step n x steps_per_call) -- a signal's timing, made exact. The process's own signal
    handlers are restored afterwards."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    real = PreemptionWatcher.stop_requested

    def at(point: int) -> None:
        sent = []

        def stop_requested(watcher, sync_point):
            if sync_point == point and not sent:
                sent.append(sync_point)
                watcher.reason = "SIGTERM"
            return real(watcher, sync_point)

        monkeypatch.setattr(PreemptionWatcher, "stop_requested", stop_requested)

    yield at
    for signum, handler in handlers.items():
        signal.signal(signum, handler)
