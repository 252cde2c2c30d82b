"""Test set-up: 8 fake CPU devices (for the data-parallel tests), XLA's CPU code generated at LLVM's
-O0 (helpers.COMPILE_FLAGS), JAX's compilation cache, and freed host memory kept for reuse as every
command keeps it.

Tests that are not about parallelism pass `devices=jax.devices()[:1]` to the trainer.
"""

import os
import pathlib
import signal
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# helpers starts no JAX backend: XLA_FLAGS is read at JAX's first computation, below.
from helpers import COMPILE_FLAGS, use_jax_cache, xla_flags  # noqa: E402

os.environ["XLA_FLAGS"] = xla_flags(os.environ.get("XLA_FLAGS", ""), COMPILE_FLAGS, devices=8)

import jax  # noqa: E402
import pytest  # noqa: E402

from gan_jax import memory  # noqa: E402
from gan_jax.preemption import PreemptionWatcher  # noqa: E402

memory.reuse_freed_host_memory()  # before JAX's first computation, as every command (experiments/cli.py)

use_jax_cache()


@pytest.fixture(scope="session")
def one_device():
    return jax.devices()[:1]


@pytest.fixture
def no_figures(monkeypatch):
    """Reports without their figures: drawing them is most of a report's time, and the committed
    reports' figures have a test of their own (tests/test_records.py)."""
    from gan_jax import report

    monkeypatch.setattr(report, "write_figures", lambda *args: None)


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
