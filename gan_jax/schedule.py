"""The schedule of one training step: how many updates of each player, in which order, against
which D -- the schema of config.train's update options (its fields are those keys, by name) -- and
`make_train_step`, which composes steps.py's updates in that order into
`train_step(state, arrays) -> (state, metrics)` (not jitted here); `make_multi_step` runs
`steps_per_call` of them in one `lax.scan`, the metrics of every step stacked ([steps_per_call])."""

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections
import optax

from gan_jax.data import DataSource
from gan_jax.errors import ConfigError
from gan_jax.state import GAN, GANState, step_key
from gan_jax.steps import Metrics, StepContext, d_update, g_update, shared_fake

TrainStep = Callable[[GANState, dict], tuple[GANState, Metrics]]


@dataclasses.dataclass(frozen=True)
class Schedule:
    """D update j of step t uses data batch t * d_steps + j and noise from fold_in(key_t, j); G
    update j uses fold_in(key_t, d_steps + j) and (feature matching) batch t * g_steps + j of its
    own data stream. In the first `d_head_start` steps G is not updated (a head start for D; G's
    metrics read 0 there). `simultaneous`: G's updates are taken against D as it was before this
    step's D updates (simultaneous gradient steps, as the code of PacGAN and of the unrolled GAN
    runs them) instead of against the updated D. `unroll_steps` = k > 0 (the unrolled GAN, Metz
    et al. 2017): G's loss is taken against D after k more of its steps (steps.unrolled_d), its
    gradient carried through those steps (their second term) unless `unroll_through_d` is off:
    then G plays against the unrolled D held fixed (the ablation that tells the two apart).
    `reuse_fake` (one D update, no unrolling): G's first update takes its loss on the samples D's
    update judged, G's forward pass run once for both (steps.SharedFake); otherwise the same step
    as drawing that update's noise from D's key (G's later updates, on new parameters, run their
    own). `same_noise`: every update of the step draws its noise from
    fold_in(key_t, 0), so D's update and each of G's see one z batch (PacGAN's Stacked MNIST code
    feeds one z to D's update and to both of G's). `ema_decay`: the decay of G's moving average,
    updated after every step where the state keeps one (state.create decides that, from the same
    field).

    Its fields, at their defaults, are config.train's update keys (config.base_config), so a new
    option is a field here, its check below and its use in make_train_step. Each field is
    checked here, naming its config key; what spans sections (d_head_start against total_steps)
    is config.validate's."""

    d_steps: int = 1  # D updates per step (Goodfellow et al.'s k)
    g_steps: int = 1
    ema_decay: float = 0.0  # 0: no moving average of G
    d_head_start: int = 0  # the first steps train D alone (G frozen): an imbalance knob
    simultaneous: bool = False  # G's update against D before this step's D updates (both papers' code)
    reuse_fake: bool = False  # G's first update on the samples D's update judged (one G forward fewer)
    unroll_steps: int = 0  # unrolled GAN (Metz et al. 2017): G's loss against D after k more D steps
    unroll_through_d: bool = True  # G's gradient through D's unrolled steps (False: that D held fixed)
    same_noise: bool = False  # one noise batch for every update of a step (PacGAN's Stacked MNIST code)

    def __post_init__(self):
        if self.d_steps < 1 or self.g_steps < 1:
            raise ConfigError("config.train.d_steps and g_steps must be >= 1.")
        if self.unroll_steps < 0:
            raise ConfigError(
                f"config.train.unroll_steps={self.unroll_steps} must be >= 0 (0: no unrolling)."
            )
        if self.reuse_fake and (self.d_steps != 1 or self.unroll_steps):
            raise ConfigError(
                "config.train.reuse_fake shares one generated batch between one D update and G's first; "
                f"here d_steps={self.d_steps}, unroll_steps={self.unroll_steps}: set them to 1, 0 or "
                "reuse_fake=False."
            )
        if not self.unroll_through_d and not self.unroll_steps:
            raise ConfigError(
                "config.train.unroll_through_d=False holds D's unrolled steps fixed, but "
                "unroll_steps=0 unrolls none: set unroll_steps >= 1 or unroll_through_d=True."
            )
        if self.d_head_start < 0:
            raise ConfigError(f"config.train.d_head_start={self.d_head_start} must be >= 0.")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"config.train.ema_decay={self.ema_decay} must be in [0, 1) (0 = no EMA).")

    @classmethod
    def from_config(cls, train: ml_collections.ConfigDict) -> "Schedule":
        return cls(**{field.name: train[field.name] for field in dataclasses.fields(cls)})


def make_train_step(
    gan: GAN,
    source: DataSource,
    batch_size: int,
    schedule: Schedule | None = None,
    shard_batch: Callable[[jax.Array], jax.Array] = lambda x: x,
) -> TrainStep:
    """See the module docstring and Schedule (the default: one D update, then one G update)."""
    schedule = schedule or Schedule()
    d_steps, g_steps, ema_decay = schedule.d_steps, schedule.g_steps, schedule.ema_decay
    d_head_start, simultaneous, reuse_fake = schedule.d_head_start, schedule.simultaneous, schedule.reuse_fake
    update_index = (lambda i: 0) if schedule.same_noise else (lambda i: i)  # noqa: E731
    ctx = StepContext(gan, source, batch_size, shard_batch, schedule.unroll_steps, schedule.unroll_through_d)
    update_d, update_g = functools.partial(d_update, ctx), functools.partial(g_update, ctx)

    def train_step(state: GANState, arrays: dict) -> tuple[GANState, Metrics]:
        key = step_key(state)
        d_before = state.d
        shared = shared_fake(ctx.at(state), state.g, jax.random.fold_in(key, 0)) if reuse_fake else None
        for j in range(d_steps):
            draw = state.step * d_steps + j
            state, metrics_d = update_d(state, arrays, jax.random.fold_in(key, update_index(j)), draw, shared)

        def g_phase(state):
            d_after = state.d
            if simultaneous:
                state = state.replace(d=d_before)
            for j in range(g_steps):
                draw = state.step * g_steps + j
                g_key = jax.random.fold_in(key, update_index(d_steps + j))
                state, metrics_g = update_g(state, arrays, g_key, draw, shared if j == 0 else None)
            return state.replace(d=d_after), metrics_g

        if d_head_start:  # D trains alone for the first d_head_start steps
            frozen = lambda s: (s, {"g_loss": jnp.zeros(()), "g_grad_norm": jnp.zeros(())})  # noqa: E731
            state, metrics_g = jax.lax.cond(state.step < d_head_start, frozen, g_phase, state)
        else:
            state, metrics_g = g_phase(state)
        if state.g_ema is not None:
            decay = gan.anneal.ema_decay(state.step, batch_size) if gan.anneal.ema_images else ema_decay
            state = state.replace(
                g_ema=optax.incremental_update(state.g.variables, state.g_ema, step_size=1.0 - decay)
            )
        return state.replace(step=state.step + 1), {**metrics_d, **metrics_g}

    return train_step


def make_multi_step(train_step: TrainStep, steps_per_call: int) -> TrainStep:
    """`steps_per_call` train steps in one compiled call, so small models are not dispatch-bound."""

    def multi_step(state: GANState, arrays: dict) -> tuple[GANState, Metrics]:
        return jax.lax.scan(lambda s, _: train_step(s, arrays), state, length=steps_per_call)

    return multi_step
