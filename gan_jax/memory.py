"""Whether a compiled program fits its device's memory, asked before it runs; and the host
allocator's policy that keeps a CPU program's per-call buffers from page-faulting.

A batch of 2^30 compiled fine and failed at its first step with RESOURCE_EXHAUSTED and a 50-line
traceback. XLA's memory analysis of the compiled program says what one device needs; this
compares it with what the device has and names the setting to lower, with what would fit.
"""

import ctypes
import os
import platform

import jax

from gan_jax.errors import ConfigError


def device_bytes(device: jax.Device) -> int | None:
    """The memory one device can use: an accelerator's allocator limit; for a CPU, this machine's
    physical memory (or the container's limit, if lower). None when unknown."""
    stats = device.memory_stats() if device.platform != "cpu" else None
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"])
    if device.platform != "cpu":
        return None
    limits = [os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")]
    for cgroup in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(cgroup) as f:
                limits.append(int(f.read().strip()))
        except (OSError, ValueError):  # absent, or "max"
            continue
    return min(limits)


def needed_bytes(compiled: jax.stages.Compiled) -> int | None:
    """What the compiled program holds at once on one device: arguments, outputs (less those that
    reuse donated arguments) and temporaries. None when XLA does not say."""
    stats = compiled.memory_analysis()
    if stats is None:
        return None
    return (
        stats.argument_size_in_bytes
        + stats.output_size_in_bytes
        - stats.alias_size_in_bytes
        + stats.temp_size_in_bytes
    )


def check_fits(compiled: jax.stages.Compiled, device: jax.Device, what: str, knob: str, value: int) -> None:
    """ConfigError when `compiled` needs more memory than `device` has: `what` it is, and the
    setting `knob` (now `value`) that scales it, with the value that would about fit (the need
    taken as proportional to it)."""
    needed, has = needed_bytes(compiled), device_bytes(device)
    if needed is None or has is None or needed <= has:
        return
    fits = int(value * has / needed)
    raise ConfigError(
        f"{what} needs {needed / 2**30:,.1f} GiB on each {device.platform} device, which has "
        f"{has / 2**30:,.1f} GiB. Lower {knob} (now {value:,}; about {fits:,} would fit)."
    )


_M_TRIM_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -4, -8  # glibc's mallopt parameters (malloc.h)


def reuse_freed_host_memory() -> bool:
    """Keep the memory this process frees in one heap, for the next allocation. XLA:CPU allocates a
    program's temporary buffers with malloc at every call, on its worker threads, and frees them
    after; glibc maps any block over its mmap threshold (at most 32 MB) afresh and unmaps it when
    freed, and a worker thread's own heap holds 64 MB at most, so every call page-faulted its
    buffers in again, in kernel time (README, Performance, has the measurement). With one arena
    (every thread allocates from the main heap), no mmap and no trimming, what one call frees
    serves the next. The cost: the process's resident memory stays at its peak. Call it before the
    first JAX computation (a thread that has allocated keeps its own arena); every command does,
    first thing (experiments.cli.run). Process-wide and idempotent; glibc only (elsewhere nothing
    changes). Returns whether the policy is in force."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)
    settings = ((_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 2**31 - 1))
    return all([bool(libc.mallopt(parameter, value)) for parameter, value in settings])
