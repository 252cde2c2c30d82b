"""Test set-up: 8 fake CPU devices (for the data-parallel tests) and JAX's compilation cache.

Tests that are not about parallelism pass `devices=jax.devices()[:1]` to the trainer.
"""

import os
import pathlib
import sys

os.environ["XLA_FLAGS"] = " ".join(
    [os.environ.get("XLA_FLAGS", ""), "--xla_force_host_platform_device_count=8"]
).strip()

import jax  # noqa: E402
import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
JAX_CACHE = os.path.expanduser("~/.cache/gan_jax/jax-tests")
sys.path.insert(0, str(REPO))

from experiments import cli  # noqa: E402

jax.config.update("jax_compilation_cache_dir", JAX_CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


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
