"""The host allocator's policy for XLA:CPU's per-call buffers (memory.reuse_freed_host_memory)."""

import ctypes
import platform
import subprocess
import sys

import pytest
from helpers import REPO, subprocess_env

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
needs_glibc = pytest.mark.skipif(
    not GLIBC or not hasattr(ctypes.CDLL(None), "mallinfo2"), reason="glibc >= 2.33 (mallinfo2)"
)

# In a fresh process: the bytes glibc maps for a 64 MB block while it is held, before and after the
# policy.
_MAPPED_WHILE_HOLDING = """
import ctypes
from gan_jax import memory
class Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                 "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Mallinfo2
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]

def mapped_for(size):
    mapped = libc.mallinfo2().hblkhd
    block = libc.malloc(size)
    mapped = libc.mallinfo2().hblkhd - mapped
    libc.free(block)
    return mapped

before = mapped_for(64 << 20)
applied = memory.reuse_freed_host_memory()
print(before, applied, mapped_for(64 << 20))
"""


@needs_glibc
def test_a_large_block_comes_from_the_heap_once_the_policy_is_on():
    done = subprocess.run(
        [sys.executable, "-c", _MAPPED_WHILE_HOLDING], capture_output=True, text=True, check=True, cwd=REPO
    )
    before, applied, after = done.stdout.split()
    assert int(before) >= 64 << 20  # glibc's default: a block over 32 MB is its own mapping
    assert applied == "True"
    assert int(after) == 0


# In a fresh process, the policy on or off (argv[1]) before JAX starts: a compiled program's
# temporary buffer (128 MB for a cumulative sum, allocated at every call on XLA's worker threads),
# in bytes, and the fewest page faults a call took over 20 calls 10 ms apart. Compiled at XLA's
# default: the command takes ~1.2 CPU-seconds so, ~5 at the tests' COMPILE_FLAGS (AMD EPYC).
_FAULTS_PER_CALL = """
import resource, sys, time
from gan_jax import memory
if sys.argv[1] == "on":
    assert memory.reuse_freed_host_memory()
import jax, jax.numpy as jnp
x = jnp.ones((4, 2048, 2048), jnp.float32)
compiled = jax.jit(lambda x: jnp.cumsum(x * 2.0, axis=0).max()).lower(x).compile()
faults = []
for _ in range(20):
    time.sleep(0.01)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    compiled(x).block_until_ready()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(compiled.memory_analysis().temp_size_in_bytes, min(faults))
"""


def _temp_and_fewest_faults(policy: str) -> tuple[int, int]:
    done = subprocess.run(
        [sys.executable, "-c", _FAULTS_PER_CALL, policy],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env=subprocess_env(optimised=True),
    )
    temp, faults = done.stdout.split()
    return int(temp), int(faults)


@needs_glibc
def test_a_compiled_cpu_program_stops_page_faulting_its_temporary_buffer():
    """Before the policy every call faults in each 4 KB page of its temporary buffer (unless the
    kernel backs fresh mappings with transparent huge pages everywhere); after it, a call can reuse
    the pages the last one freed. (Not every call does: the runtime may free a buffer after the next
    call has allocated its own -- in up to 7 of 10 back-to-back calls, the first included, measured
    with six such processes beside a sweep on 2 cores -- so the fewest of 20 calls, each after a
    pause, is compared.)"""
    temp, faults_before = _temp_and_fewest_faults("off")
    assert temp >= 64 << 20  # over a worker thread's own heap
    with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
        if "[always]" not in f.read():
            assert faults_before > temp / 4096 / 2
    temp, faults_after = _temp_and_fewest_faults("on")
    assert faults_after < temp / 4096 / 50
