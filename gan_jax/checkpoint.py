"""Checkpoints of the GANState with orbax: save every N steps, keep the last K, resume the latest.

Orbax writes each step to a temporary directory and renames it when complete, so a run killed
mid-save (kill -9) leaves the previous checkpoints intact and the partial one is ignored and
cleaned up. Every process of a multi-host run takes part in save and restore.
"""

import pathlib

import jax
import orbax.checkpoint as ocp

from gan_jax.state import GANState


class CheckpointError(RuntimeError):
    pass


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
    def __init__(self, directory: pathlib.Path, keep: int):
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True, cleanup_tmp_directories=True)
        self.directory = pathlib.Path(directory).absolute()
        self._manager = _Manager(self.directory, options=options)

    def steps(self) -> list[int]:
        return list(self._manager.all_steps())

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def save(self, state: GANState) -> int:
        """Save asynchronously (device arrays are copied before this returns)."""
        step = int(jax.device_get(state.step))
        self._manager.save(step, args=ocp.args.StandardSave(state), force=True)
        return step

    def restore(self, step: int, like: GANState) -> GANState:
        """State saved at `step`, laid out (shapes, dtypes, shardings) like `like`."""
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        try:
            return self._manager.restore(step, args=ocp.args.StandardRestore(abstract))
        except Exception as error:  # orbax raises many types for a damaged or foreign checkpoint
            others = [s for s in self.steps() if s != step]
            reason = str(error).split(" [tensorstore_spec")[0][:400]  # drop tensorstore's spec dump
            raise CheckpointError(
                f"Could not restore the checkpoint of step {step} from {self.directory}/{step}: "
                f"{type(error).__name__}: {reason}\nIt is damaged or was written by a different "
                f"model/config. Move that directory away to resume from an earlier step "
                f"(others here: {others or 'none'}), or start afresh with a new --workdir."
            ) from error

    def wait(self) -> None:
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.close()
