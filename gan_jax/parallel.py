"""Data parallelism as jit + sharding over a 1-D mesh ('data',) of every device of every host.

The batch is sharded along the mesh, everything else (state, data set) is replicated, and the
compiled program keeps global-batch semantics: BatchNorm statistics and every batch mean are taken
over the whole global batch, so N devices compute what one device computes. Gradients of
replicated parameters come out of XLA's partitioner already reduced -- no hand-written `pmean`
(which inside `shard_map` would double-count).
"""

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from gan_jax.errors import ConfigError

AXIS = "data"


def make_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A mesh over `devices` (default: all devices of all processes), in the order
    `jax.make_mesh` chooses for the hardware's topology (a ring on a TPU slice). Axis type Auto:
    the compiler propagates shardings from the inputs' (the batch's) and the constraints."""
    devices = list(jax.devices() if devices is None else devices)
    return jax.make_mesh((len(devices),), (AXIS,), (AxisType.Auto,), devices=devices)


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec(AXIS))


def stream_sharded(mesh: Mesh) -> NamedSharding:
    """A streamed call's batches, (draws, batch, ...): split along the batch axis."""
    return NamedSharding(mesh, PartitionSpec(None, AXIS))


def check_batch_divides(batch_size: int, mesh: Mesh) -> None:
    """Raise before compiling when the global batch cannot be split evenly over the devices."""
    n = mesh.devices.size
    if batch_size % n:
        raise ConfigError(
            f"Global batch size {batch_size} does not divide across {n} devices; set "
            f"config.train.batch_size to a multiple of {n} (e.g. {max(n, batch_size // n * n)})."
        )


def put_replicated(tree: Any, mesh: Mesh) -> Any:
    """Host arrays -> arrays replicated on every device of the mesh (works across hosts too)."""
    sharding = replicated(mesh)

    def put(x):
        x = np.asarray(x)
        return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

    return jax.tree.map(put, tree)


def batch_constraint(mesh: Mesh | None) -> Callable[[jax.Array], jax.Array]:
    """A function that pins an array's leading (batch) axis to the mesh; identity without a mesh."""
    if mesh is None:
        return lambda x: x
    sharding = batch_sharded(mesh)
    return lambda x: jax.lax.with_sharding_constraint(x, sharding)


def wait_for_every_process(name: str, timeout_s: int = 600) -> None:
    """A barrier of all processes on JAX's coordination service, with no device computation.
    Called before a run's first collective: gloo sets up a communicator lazily, at its first use,
    and gives a late process 30 s (fixed in XLA) to arrive -- on a loaded machine one process
    compiled that much longer than the other and both aborted. Nothing happens with one process."""
    if jax.process_count() > 1:
        ocp.multihost.get_barrier_sync_fn()(key=f"gan_jax: {name}", timeout_ms=timeout_s * 1000)


def jit_replicated(
    fn: Callable, mesh: Mesh, donate_argnums=(0,), arrays_sharding: NamedSharding | None = None
) -> Callable:
    """jax.jit of fn(state, arrays) with the state (donated) and the outputs replicated over the
    mesh; the arrays replicated too unless `arrays_sharding` says otherwise (streamed batches)."""
    sharding = replicated(mesh)
    return jax.jit(
        fn,
        in_shardings=(sharding, arrays_sharding or sharding),
        out_shardings=sharding,
        donate_argnums=donate_argnums,
    )
