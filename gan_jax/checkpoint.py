"""Checkpoints of the GANState with orbax: save every N steps, keep the last K, resume the latest.

Orbax writes each step to a temporary directory and renames it when complete, so a run killed
mid-save (kill -9) leaves the previous checkpoints intact and the partial one is ignored and
cleaned up. Every process of a multi-host run takes part in save and restore.

Each checkpoint holds two items: `state` (the GANState) and `meta` (JSON): a fingerprint of
every array, computed on the device before the save and checked after every restore -- a
checkpoint whose bytes changed on disk but still decode is refused instead of resuming into
garbage -- whatever the trainer needs to continue exactly (the metrics of a log interval in
progress), and a digest of that JSON itself, checked too. `restore_latest` falls back to the
previous checkpoint, with a warning, when the latest one is unreadable or fails a check, and moves
the damaged one aside (as often as it happens: each under a name of its own).
"""

import asyncio
import hashlib
import itertools
import json
import shutil
import sys

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from etils import epath
from orbax.checkpoint._src import asyncio_utils  # where orbax runs its reads and writes; no public name
from orbax.checkpoint._src.metadata import array_metadata_store  # the default handler's; no public name
from orbax.checkpoint._src.serialization import type_handler_registry  # to register without a warning

from gan_jax import parallel
from gan_jax import state as state_lib
from gan_jax import workdir as workdirs
from gan_jax.errors import CheckpointError
from gan_jax.preemption import uninterrupted
from gan_jax.state import GANState

DAMAGED_DIR = "damaged_checkpoints"  # beside checkpoints/, out of orbax's sight
_UNSIGNED = {1: jnp.uint8, 2: jnp.uint16, 4: jnp.uint32}


def _write_arrays_whole() -> None:
    """Orbax's default writes each replicated array in slices, one per replica
    ("replica-parallel"), cut on the device: a compiled slice program per array shape and replica
    at a run's first save (48 compiles, ~2 CPU-seconds, for the smoke DCGAN on 8 CPU devices). That
    spreads the writing of large arrays over the hosts; a GAN's state is megabytes, so replica 0
    writes each array whole (orbax's own default where JAX_PLATFORMS names a GPU). Registered
    without orbax's "WARNING:absl:Type handler registry type ... overriding jax.Array", which every
    script importing gan_jax printed."""
    type_handler_registry.GLOBAL_TYPE_HANDLER_REGISTRY.add(
        jax.Array,
        ocp.type_handlers.ArrayHandler(
            use_replica_parallel=False, array_metadata_store=array_metadata_store.Store()
        ),
        override=True,
        ignore_warnings=True,
    )


_write_arrays_whole()


async def _settled(work):
    """`work`; when it fails, its loop's other tasks run to their end before the error goes on.
    Orbax gathers every array's read and, when one fails (a damaged checkpoint), closes its event
    loop with the others still pending: they fail again at any later time, when garbage-collected
    ("Exception ignored in: <coroutine object _read_array_index_and_device_put>" and TensorStore's
    whole spec) or when TensorStore's threads finish them ("Event loop is closed") -- ~60 lines
    on stderr for one damaged checkpoint. Waited for here, they finish on an open loop (cancelled,
    a read's TensorStore callback would still find it closed); a successful call waits for them
    all the same."""
    try:
        return await work
    except Exception:
        await asyncio.gather(*(asyncio.all_tasks() - {asyncio.current_task()}), return_exceptions=True)
        raise


def _run_settled(work, run=asyncio_utils.run_sync):
    """Orbax's run_sync, its work settled (every orbax read and write goes through it)."""
    return run(_settled(work))


asyncio_utils.run_sync = _run_settled


@jax.jit
def fingerprint(tree) -> jax.Array:
    """uint32[num_leaves]: per leaf, the wrapping sum of its elements' bit patterns. Any single
    changed byte of an array changes its leaf's number (by k * 2^m, k < 256, m <= 24: never 0
    mod 2^32). Computed on the device; only the numbers are fetched."""

    def leaf(x):
        if x.dtype == jnp.bool_:
            bits = x.astype(jnp.uint32)
        else:
            bits = jax.lax.bitcast_convert_type(x, _UNSIGNED[x.dtype.itemsize]).astype(jnp.uint32)
        return jnp.sum(bits, dtype=jnp.uint32)

    return jnp.stack([leaf(x) for x in jax.tree.leaves(tree)])


def _root_cause(error: BaseException) -> str:
    """The error at the bottom of `error`'s chain, on one line: orbax wraps TensorStore's reason
    (which file, which array, what failed) in a message that ends in TensorStore's spec dump."""
    while error.__cause__ is not None:
        error = error.__cause__
    reason = " ".join(str(error).split(" [tensorstore_spec")[0].split())[:400]
    return f"{type(error).__name__}: {reason}"


def digest(meta: dict) -> str:
    """SHA-256 of a checkpoint's JSON item (its `digest` key aside), in a canonical form."""
    text = json.dumps({k: v for k, v in meta.items() if k != "digest"}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _names(step: int):
    yield str(step)
    for i in itertools.count(1):
        yield f"{step}.{i}"


class _Manager(ocp.CheckpointManager):
    """orbax's manager, kept off JAX's preemption sync point.

    JAX keeps one call counter per process for `reached_preemption_sync_point` and agrees on a stop
    at "the largest counter any process last passed, + 1". orbax passes its checkpoint *step* there
    inside `save` (and, on process 0, from its finalising thread), while the trainer passes its
    chunk count: the mixed counters put the agreed stop ~steps_per_call times too far ahead
    (in our 2-process test: step 210 instead of 40), past a preemption's grace period. The
    trainer (gan_jax/preemption.py) is the only caller; we always save with force=True, so orbax
    needs the answer only for its logs.
    """

    def reached_preemption(self, step: int) -> bool:
        del step
        return False


class Checkpoints:
    """A run's checkpoints/ directory; use as a context manager (it owns orbax's threads)."""

    def __init__(self, directory: epath.Path, keep: int):
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True, cleanup_tmp_directories=True)
        self.directory = workdirs.resolve(directory)
        self._manager = _Manager(self.directory, options=options, item_names=("state", "meta"))

    def __enter__(self) -> "Checkpoints":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def steps(self) -> list[int]:
        return list(self._manager.all_steps())

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def save(self, state: GANState, meta: dict | None = None) -> int:
        """Save asynchronously (device arrays are copied before this returns); `meta`: JSON."""
        step = int(jax.device_get(state.step))
        self._check_space(step, sum(x.nbytes for x in jax.tree.leaves(state)) + (1 << 20))
        meta = {**(meta or {}), "fingerprint": np.asarray(jax.device_get(fingerprint(state))).tolist()}
        meta["digest"] = digest(meta)
        args = ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta))
        try:
            with uninterrupted():
                self._manager.save(step, args=args, force=True)
        except Exception as error:  # an earlier asynchronous save failed, or this one could not start
            raise self._write_error(step, error) from error
        return step

    def _check_space(self, step: int, needed: int) -> None:
        """Refuse a save that cannot fit on a local disk (cloud storage has no such limit)."""
        if workdirs.is_remote(self.directory):
            return
        free = shutil.disk_usage(self.directory).free
        if free < needed:
            raise self._write_error(
                step, f"{free / 2**20:.1f} MiB free on its disk, ~{needed / 2**20:.1f} needed"
            )

    def restore(self, step: int, like: GANState) -> tuple[GANState, dict]:
        """(state, meta) saved at `step`, laid out (shapes, dtypes, shardings) like `like`."""
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        args = ocp.args.Composite(state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore())
        try:
            restored = self._manager.restore(step, args=args)
        except Exception as error:  # orbax raises many types for a damaged or foreign checkpoint
            raise self._error(step, _root_cause(error)) from error
        state, meta = restored["state"], restored["meta"]
        if meta.get("digest") != digest(meta):
            raise self._error(
                step, "its metadata (the metrics it carries) is not what was saved (digest mismatch)"
            )
        found = np.asarray(jax.device_get(fingerprint(state)))
        differ = [
            n
            for n, a, b in zip(state_lib.leaf_names(state), found, meta["fingerprint"], strict=True)
            if a != b
        ]
        if differ:
            raise self._error(step, f"its arrays {differ[:4]} are not what was saved (fingerprint mismatch)")
        return state, meta

    def restore_latest(self, like: GANState) -> tuple[GANState, dict] | None:
        """The newest checkpoint that restores intact, or None when there is none. A damaged one
        is moved to <workdir>/damaged_checkpoints/ with a warning; all damaged is an error."""
        while (step := self.latest_step()) is not None:
            try:
                return self.restore(step, like)
            except CheckpointError as error:
                if len(self.steps()) == 1:
                    raise
                self._move_aside(step, error)
        return None

    def _move_aside(self, step: int, error: CheckpointError) -> None:
        """Move checkpoint `step` to damaged_checkpoints/<step> (<step>.1, .2, ... when a step was
        damaged before: a rerun writes that step anew, and it may be damaged again)."""
        damaged = self.directory.parent / DAMAGED_DIR
        taken = {p.name for p in damaged.iterdir()} if damaged.exists() else set()
        aside = damaged / next(n for n in _names(step) if n not in taken)
        if jax.process_index() == 0:
            damaged.mkdir(exist_ok=True)
            (self.directory / str(step)).rename(aside)
        parallel.wait_for_every_process(f"checkpoint {step} moved aside")
        self._manager.reload()
        if jax.process_index() == 0:
            print(
                f"Warning: {error.args[0].splitlines()[0]} Moved it to {aside}; falling back to step "
                f"{self.latest_step()}.",
                file=sys.stderr,
                flush=True,
            )

    def _error(self, step: int, reason: str) -> CheckpointError:
        others = [s for s in self.steps() if s != step]
        return CheckpointError(
            f"Could not restore the checkpoint of step {step} from {self.directory}/{step}: {reason}.\n"
            "It is damaged, or was written by a different model/config or an earlier version of "
            f"gan_jax. Move that directory away to resume from an earlier step (others here: "
            f"{others or 'none'}), or start afresh with a new --workdir."
        )

    def _write_error(self, step: int | None, reason) -> CheckpointError:
        if isinstance(reason, Exception):  # tensorstore's messages run to kilobytes; keep the cause
            text = str(reason)
            reason = "no space left on its disk" if "No space left on device" in text else text[:300]
        return CheckpointError(
            f"Could not write the checkpoint{f' of step {step}' if step is not None else ''} in "
            f"{self.directory}: {reason}. The earlier checkpoints there are intact: free some space "
            "(or move the workdir) and run the same command to resume."
        )

    def wait(self) -> None:
        """Block until the asynchronous saves are on disk."""
        try:
            self._manager.wait_until_finished()
        except Exception as error:
            raise self._write_error(None, error) from error

    def close(self) -> None:
        failed = None
        try:
            self.wait()
        finally:
            try:
                self._manager.close()
            except Exception as error:  # after a failed wait(), the same write's error again
                failed = error
        if failed is not None:
            raise self._write_error(None, failed) from failed
