"""Wall-clock time as a run reports it: a lap timer, the training loop's clock, durations for
the console."""

import time


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Timer:
    """Wall-clock seconds since the last `lap()`."""

    def __init__(self):
        self._last = time.perf_counter()

    def lap(self) -> float:
        now = time.perf_counter()
        elapsed, self._last = now - self._last, now
        return elapsed


class LoopClock:
    """The loop's timing. The logged steps/s counts the step calls alone (waited for at a
    boundary, which syncs anyway); the boundaries' writing and evaluation go into the console's
    ETA and the final summary only."""

    def __init__(self, timer: Timer, step: int, total: int, compile_seconds: float):
        self.timer, self.first, self.logged_at, self.total = timer, step, step, total
        self.compile_seconds, self.busy, self.started = compile_seconds, 0.0, time.perf_counter()

    def boundary(self, step: int, logging: bool) -> tuple[float | None, float]:
        """(steps/s since the last log row if `logging`, else None; seconds left), once the
        calls up to `step` are done."""
        self.busy += self.timer.lap()
        eta = (self.total - step) * (time.perf_counter() - self.started) / (step - self.first)
        if not logging:
            return None, eta
        rate, self.busy, self.logged_at = (step - self.logged_at) / self.busy, 0.0, step
        return rate, eta

    def written(self) -> None:
        """The boundary's writing is done: its time is not the steps'."""
        self.timer.lap()

    def summary(self, step: int) -> str:
        seconds = time.perf_counter() - self.started
        steps = step - self.first
        return (
            f"{steps} steps in {format_duration(seconds)} ({steps / seconds:.1f} steps/s, "
            f"compile {self.compile_seconds:.1f}s)"
        )


def cpu_model() -> str:
    """lscpu's model name: the CPU changes between machines, and every timing depends on it."""
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"
