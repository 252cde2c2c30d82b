"""Stopping on a signal at a step boundary: SIGTERM (preemption) and Ctrl-C (SIGINT).

Preemptible TPU VMs and most schedulers send SIGTERM some time before they stop a job. With
several processes, JAX's preemption sync service (started by `jax.distributed.initialize`) catches
it on whichever host gets it and makes every host return True from
`reached_preemption_sync_point` at the same step -- provided one caller passes one counter, so
orbax is kept off it (gan_jax/checkpoint.py). A single process watches SIGTERM and SIGINT
itself. Either way the trainer stops *between* steps and saves, never inside a checkpoint write;
a second Ctrl-C interrupts at once -- except inside `uninterrupted()`, the few calls that must not
be cut short (starting a checkpoint's write), which take it when they end.
"""

import contextlib
import signal
import threading
import types
from collections.abc import Iterator

import jax
from jax.experimental import multihost_utils


class Preempted(Exception):
    """The run stopped early on a SIGTERM, after saving `step`; the same command resumes it.
    An exception, not a return, so that no caller can take a preempted run for a finished one."""

    def __init__(self, step: int, reason: str):
        super().__init__(f"Preempted ({reason}) at step {step}: saved it; run the same command to resume.")
        self.step = step


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run, which has said what it saved (a command adds nothing to that)."""


class PreemptionWatcher:
    """`stop_requested(sync_point)`: True once every process should save and stop; `reason` says
    why ('SIGTERM' or 'SIGINT')."""

    def __init__(self):
        self._multi = jax.process_count() > 1
        self.reason: str | None = None
        self._previous = {}
        if not self._multi:
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._previous[signum] = signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: types.FrameType | None) -> None:
        del frame
        self.reason = signal.Signals(signum).name
        if signum == signal.SIGINT:  # a second Ctrl-C raises KeyboardInterrupt immediately
            signal.signal(signal.SIGINT, signal.default_int_handler)

    def stop_requested(self, sync_point: int) -> bool:
        """Call with consecutive integers (JAX agrees on "the largest any host has seen, + 1")."""
        if self._multi and multihost_utils.reached_preemption_sync_point(sync_point):
            self.reason = "SIGTERM"
        return self.reason is not None

    def pass_on(self) -> None:
        """Hand a signal the run did not stop for (it came at the run's last boundary: the run
        finished) to the handler a caller installed before ours -- a loop over runs, which then
        stops before its next one. Python's default handlers get nothing: the run is finished and
        a plain command ends anyway. Call after close(); with several processes JAX's service
        took the signal and there is nothing to pass on."""
        if not self.reason or self._multi:
            return
        signum = signal.Signals[self.reason]
        if signal.getsignal(signum) not in (signal.SIG_DFL, signal.SIG_IGN, signal.default_int_handler):
            signal.raise_signal(signum)

    def __enter__(self) -> "PreemptionWatcher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) until the block ends, then deliver it to the handler it would have
    reached. A KeyboardInterrupt inside orbax's save once left a checkpoint half-started: the
    process said it had saved the step, failed at exit, and hung for minutes. (Signal handlers
    belong to the main thread; elsewhere the block runs as it is.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held and callable(previous):
            previous(signal.SIGINT, held[0])
        elif held and previous == signal.SIG_DFL:
            raise KeyboardInterrupt
