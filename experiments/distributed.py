"""Multi-process start-up: `jax.distributed.initialize` when the launch says the run has several
processes (one per TPU VM host or GPU host, or several on one machine for testing).

Explicit: --coordinator_address=HOST:PORT --num_processes=N --process_id=I (the same command on
every process, only I differs). Detected: Cloud TPU pod slices (TPU_WORKER_HOSTNAMES lists several
workers), Slurm (SLURM_NTASKS > 1) and Open MPI (OMPI_COMM_WORLD_SIZE > 1), where JAX finds
the coordinator itself. Every wait on the coordinator is bounded by --distributed_timeout.
"""

import os
import socket
import sys

from absl import flags

_COORDINATOR = flags.DEFINE_string("coordinator_address", None, "HOST:PORT of process 0's coordinator.")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "How many processes the run has.")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index in [0, num_processes).")
_TIMEOUT = flags.DEFINE_integer("distributed_timeout", 120, "Seconds to wait for all processes.")


def _cluster_detected() -> bool:
    workers = os.environ.get("TPU_WORKER_HOSTNAMES", "")
    counts = (os.environ.get("SLURM_NTASKS", "1"), os.environ.get("OMPI_COMM_WORLD_SIZE", "1"))
    return "," in workers or any(c.isdigit() and int(c) > 1 for c in counts)


def _check_port_free(address: str) -> None:
    host, _, port = address.rpartition(":")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host or "127.0.0.1", int(port)))
    except OSError as error:
        sys.exit(
            f"Cannot start the coordinator on {address}: {error.strerror}. Another program (or an "
            "earlier run) holds the port; pick a free one with --coordinator_address=HOST:PORT."
        )


def initialize_if_requested() -> None:
    """Call jax.distributed.initialize as the flags or the cluster ask; exit with a clear message
    on inconsistent flags, a busy port or processes that never arrive."""
    explicit = [_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value]
    if not any(v is not None for v in explicit) and not _cluster_detected():
        return
    import jax

    kwargs = {
        "initialization_timeout": _TIMEOUT.value,
        "shutdown_timeout_seconds": _TIMEOUT.value,
        "heartbeat_timeout_seconds": _TIMEOUT.value,
    }
    if any(v is not None for v in explicit):
        if any(v is None for v in explicit):
            sys.exit("--coordinator_address, --num_processes and --process_id go together.")
        if not 0 <= _PROCESS_ID.value < _NUM_PROCESSES.value:
            sys.exit(
                f"--process_id={_PROCESS_ID.value} must be in [0, --num_processes={_NUM_PROCESSES.value})."
            )
        if _PROCESS_ID.value == 0:
            _check_port_free(_COORDINATOR.value)
        host = _COORDINATOR.value.rpartition(":")[0]
        kwargs.update(
            coordinator_address=_COORDINATOR.value,
            num_processes=_NUM_PROCESSES.value,
            process_id=_PROCESS_ID.value,
        )
        if host in ("127.0.0.1", "localhost"):
            kwargs["coordinator_bind_address"] = _COORDINATOR.value  # stay on the loopback
    # If a process never arrives, JAX's coordination client aborts the process (DEADLINE_EXCEEDED,
    # from C++, past any Python handler): say beforehand what is being waited for.
    print(
        f"Waiting up to {_TIMEOUT.value}s for {_NUM_PROCESSES.value or 'all'} processes to join the "
        f"coordinator at {_COORDINATOR.value or '(cluster default)'}; a DEADLINE_EXCEEDED abort "
        "below means some were not started, or not with the same --coordinator_address.",
        file=sys.stderr,
        flush=True,
    )
    try:
        jax.distributed.initialize(**kwargs)
    except Exception as error:  # DEADLINE_EXCEEDED, connection refused, ...
        sys.exit(
            f"jax.distributed.initialize failed ({type(error).__name__}: {str(error)[:300]}). Were all "
            f"{_NUM_PROCESSES.value or 'the'} processes started within {_TIMEOUT.value}s with the same "
            "--coordinator_address and distinct --process_id?"
        )
    # orbax's own barriers (restore, save) by default run a device computation over gloo, with the
    # same 30 s deadline for a late process (gan_jax.parallel.wait_for_every_process); this makes
    # them wait on the coordination service instead.
    import orbax.checkpoint  # noqa: F401  (defines the flag)

    flags.FLAGS.experimental_orbax_use_distributed_barrier = True
    devices_per_process = {d.process_index for d in jax.devices()}
    counts = [sum(d.process_index == p for d in jax.devices()) for p in sorted(devices_per_process)]
    if len(set(counts)) != 1:
        sys.exit(f"Processes have different device counts {counts}; give each the same number.")
