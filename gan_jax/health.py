"""What a training boundary must prove before anything is written: the metrics of every step
since the last boundary and the state itself free of NaN/Inf (checked on the device; fetched
only here). Also the log interval in progress, which a checkpoint carries so that a resumed run
logs the same rows as an uninterrupted one."""

import jax
import jax.numpy as jnp
import numpy as np
from etils import epath

from gan_jax import state as state_lib
from gan_jax.errors import NonFiniteError
from gan_jax.state import GANState


@jax.jit
def _finite_leaves(tree) -> jax.Array:
    """bool[num_leaves]: whether each array of a pytree is free of NaN/Inf (on the device)."""
    return jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)])


class Health:
    """Everything a boundary must prove before a state is logged, sampled, evaluated or saved:
    every step's metrics finite (fetched from the device only here) and the state itself finite.
    The metrics alone do not suffice: they are computed before the step's G update, so an update
    that makes G NaN shows in no metric of its own step. Also keeps the metrics of the log
    interval in progress, which a checkpoint carries so that a resumed run logs the same rows.
    A population member's metrics are its row (`index`) of the stacked ones."""

    def __init__(
        self,
        directory: epath.Path,
        last_saved: int | None,
        interval: dict | None = None,
        index: int | None = None,
    ):
        self._pending: list[tuple[int, dict]] = []  # (first step of the chunk, device metrics)
        self._checked = [{k: np.asarray(v, np.float32) for k, v in interval.items()}] if interval else []
        self._verified_step = None
        self.directory, self.last_saved, self.index = directory, last_saved, index

    def add(self, first_step: int, metrics: dict) -> None:
        self._pending.append((first_step, metrics))

    def verify(self, state: GANState, step: int) -> None:
        """Raise NonFiniteError at the first step with a NaN/Inf metric, or if the state has one."""
        if self._verified_step == step:
            return
        for first_step, metrics in jax.device_get(self._pending):
            if self.index is not None:
                metrics = {k: v[self.index] for k, v in metrics.items()}
            finite = np.all([np.isfinite(v) for v in metrics.values()], axis=0)
            if not finite.all():
                i = int(np.argmin(finite))
                bad = ", ".join(f"{k} = {v[i]}" for k, v in metrics.items() if not np.isfinite(v[i]))
                self._diverged(
                    f"at step {first_step + i + 1} (after {first_step + i} completed steps): {bad}"
                )
            self._checked.append(metrics)
        self._pending = []
        finite = np.asarray(jax.device_get(_finite_leaves(state)))
        if not finite.all():
            names = [n for n, ok in zip(state_lib.leaf_names(state), finite, strict=True) if not ok]
            self._diverged(
                f"by step {step}: the state has NaN/Inf in {names[:4]}{' ...' if len(names) > 4 else ''} "
                "although every step's metrics were finite (an update made them: a huge learning rate?)"
            )
        self._verified_step = step

    def _diverged(self, where: str) -> None:
        kept = f"step {self.last_saved}" if self.last_saved is not None else "none"
        raise NonFiniteError(
            f"Training diverged {where}. Nothing from that step on was saved; the last checkpoint in "
            f"{self.directory} is {kept}. Lower the learning rates (config.optim.g.lr / config.optim.d.lr) "
            "or inspect the data."
        )

    def _stacked(self) -> dict[str, np.ndarray]:
        """Each metric over the verified steps not yet logged, in step order."""
        if not self._checked:
            return {}
        return {k: np.concatenate([m[k] for m in self._checked]) for k in self._checked[0]}

    def interval(self) -> dict[str, list[float]]:
        """The verified metrics not yet logged, per step, as JSON for a checkpoint."""
        return {k: v.tolist() for k, v in self._stacked().items()}

    def pop_means(self) -> dict[str, float]:
        """The mean of each metric over the verified steps not yet logged; starts a new interval."""
        means = {k: float(v.mean()) for k, v in self._stacked().items()}
        self._checked = []
        return means
