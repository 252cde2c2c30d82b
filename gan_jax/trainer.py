"""train_and_evaluate(config, workdir): the one path every run takes.

Checks the config, takes the workdir's lock, builds data, networks and the compiled step, resumes
from the workdir's latest intact checkpoint if there is one, then trains in chunks of
`steps_per_call` steps. The host only syncs with the device at log, sample, evaluation and
checkpoint boundaries (between them `jax.transfer_guard("disallow")` makes a stray implicit
transfer an error); there it checks every step's metrics and the state itself for NaN/Inf
*before* anything is written, so a diverged state is never logged as healthy, sampled, evaluated
or saved.
"""

import contextlib
import json
import pathlib
import time
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan_jax import checkpoint, evaluation, experiment, parallel, steps, writers
from gan_jax import config as config_lib
from gan_jax import state as state_lib
from gan_jax import workdir as workdirs
from gan_jax.checkpoint import Checkpoints
from gan_jax.data import DataSource
from gan_jax.errors import CheckpointError, ConfigError, NonFiniteError, WorkdirError
from gan_jax.preemption import Preempted, PreemptionWatcher
from gan_jax.state import GAN, GANState


def _say(message: str) -> None:
    """Console output of process 0 only (every process runs the same loop)."""
    if jax.process_index() == 0:
        print(message, flush=True)


@jax.jit
def _finite_leaves(tree) -> jax.Array:
    """bool[num_leaves]: whether each array of a pytree is free of NaN/Inf (on the device)."""
    return jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)])


class _Health:
    """Everything a boundary must prove before a state is logged, sampled, evaluated or saved:
    every step's metrics finite (fetched from the device only here) and the state itself finite.
    The metrics alone do not suffice: they are computed before the step's G update, so an update
    that makes G NaN shows in no metric of its own step. Also keeps the metrics of the log
    interval in progress, which a checkpoint carries so that a resumed run logs the same rows."""

    def __init__(self, directory: pathlib.Path, last_saved: int | None, interval: dict | None = None):
        self._pending: list[tuple[int, dict]] = []  # (first step of the chunk, device metrics)
        self._checked = [{k: np.asarray(v, np.float32) for k, v in interval.items()}] if interval else []
        self._verified_step = None
        self.directory, self.last_saved = directory, last_saved

    def add(self, first_step: int, metrics: dict) -> None:
        self._pending.append((first_step, metrics))

    def verify(self, state: GANState, step: int) -> None:
        """Raise NonFiniteError at the first step with a NaN/Inf metric, or if the state has one."""
        if self._verified_step == step:
            return
        for first_step, metrics in jax.device_get(self._pending):
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
            names = [n for n, ok in zip(checkpoint.leaf_names(state), finite, strict=True) if not ok]
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


def _prepare_workdir(config, workdir: pathlib.Path, resuming: bool, is_main: bool) -> None:
    """Refuse to resume under a config that changed anything but RESUMABLE_CHANGES."""
    path = workdir / "config.json"
    current = json.loads(config.to_json_best_effort())
    if resuming and path.exists():
        conflicts = config_lib.resume_conflicts(json.loads(path.read_text()), current)
        if conflicts:
            raise ConfigError(
                f"{workdir} holds a run with a different config (keys {conflicts} differ from "
                f"{path}). Use the same config to resume, or a new --workdir for a new run."
            )
    if is_main:  # the workdir exists: process 0 created it to lock it; the others may be reading
        workdirs.write_atomically(path, json.dumps(current, indent=2, sort_keys=True) + "\n")


class _Outputs:
    """Sample grids / scatter plots from a fixed z, and the curves figure (process 0 only)."""

    def __init__(self, config, gan: GAN, source: DataSource, workdir: pathlib.Path, writer):
        self.source, self.workdir, self.writer = source, workdir, writer
        self.z = state_lib.fixed_noise(config.seed, config.log.num_samples, gan.z_dim)
        self.y = steps.balanced_labels(gan, config.log.num_samples)  # column k: class k
        self.columns = gan.num_classes or None
        self._sample = steps.make_sampler(gan)

    def samples(self, state: GANState, step: int) -> None:
        nets = {"samples": state.g.variables}
        if state.g_ema is not None:
            nets["samples_ema"] = state.g_ema
        for tag, variables in nets.items():
            # Every process runs the generator (a multi-host program); only process 0 writes.
            x = np.asarray(jax.device_get(self._sample(variables, self.z, self.y, state.vbn_reference)))
            if not self.writer.enabled:
                continue
            path = self.workdir / tag / f"step_{step:07d}.png"
            if self.source.kind == "images":
                grid = writers.save_image_grid(x, path, scale=max(1, 128 // x.shape[1]), columns=self.columns)
                self.writer.image(tag, grid, step)
            else:
                title = f"{self.source.name}: {len(x)} samples of G at step {step}"
                writers.save_points_figure(x, self.source.mixture, title, path)
        if self.writer.enabled:
            writers.save_curves(self.writer.rows, self.workdir / "curves.png")

    def evaluation(self, evaluator: evaluation.Evaluator, state: GANState, step: int) -> dict:
        """All processes compute (the generator is sharded over them); process 0 writes."""
        results = evaluator(state, step)
        if self.writer.enabled:
            evaluation.write(results, self.workdir)
            evaluator.figures(state, results, self.workdir / f"eval_{step}")
            self.writer.write(step, evaluation.scalars(results), log="eval")
        return results


def train_and_evaluate(
    config: ml_collections.ConfigDict, workdir: str, devices: Sequence | None = None
) -> GANState:
    """Train (or resume) the run described by `config` in `workdir` to config.train.total_steps and
    return the final state. A SIGTERM saves the current step and raises `Preempted`; Ctrl-C saves
    it and raises KeyboardInterrupt."""
    config_lib.validate(config)
    workdir = workdirs.resolve(workdir)
    run = experiment.build(config, devices)  # data and networks: a bad one fails before any write
    is_main = jax.process_index() == 0
    with contextlib.ExitStack() as stack:  # closes what was opened, however the run ends
        if is_main:
            stack.enter_context(workdirs.locked(workdir))
        preemption = stack.enter_context(PreemptionWatcher())  # from here on a signal stops at a boundary
        ckpts = stack.enter_context(Checkpoints(workdir / "checkpoints", config.checkpoint.keep))
        _prepare_workdir(config, workdir, ckpts.latest_step() is not None, is_main)
        state = run.initial_state()
        state, meta = ckpts.restore_latest(state) or (state, {})
        start = ckpts.latest_step()
        step, total = start or 0, config.train.total_steps
        writer = stack.enter_context(writers.MetricWriter(workdir, step, total, is_main))
        if step >= total:
            _say(f"{workdir} is at step {step} >= train.total_steps={total}: nothing to train.")
            return state
        arrays = run.training_arrays()
        evaluator = None
        if config.eval.every:
            metrics = evaluation.parse_metrics(config.eval.metrics)
            evaluator = evaluation.Evaluator(config, run.gan, run.source, metrics, arrays)
        timer = writers.Timer()
        train_fn = run.compile(state, arrays)
        parallel.wait_for_every_process("compiled")  # the first step's collectives start together
        compile_seconds = timer.lap()
        _say(
            f"{'Resuming at' if start else 'Starting from'} step {step} on {run.mesh.devices.size} "
            f"{jax.default_backend()} device(s); compiled in {compile_seconds:.1f}s."
        )
        health = _Health(ckpts.directory, start, meta.get("log_interval"))
        outputs = _Outputs(config, run.gan, run.source, workdir, writer)
        spc, train_start, logged_at, means = config.train.steps_per_call, time.perf_counter(), step, {}
        try:
            while step < total:
                with jax.transfer_guard("disallow"):  # the hot path: no implicit host<->device copy
                    state, metrics = train_fn(state, arrays)
                    health.add(step, metrics)
                step += spc
                done = step == total
                if step % config.log.every == 0 or done:
                    health.verify(state, step)
                    means = health.pop_means()
                    rate = (step - logged_at) / timer.lap()  # wall clock: writing and evaluation included
                    logged_at = step
                    writer.write(step, {**means, "steps_per_sec": rate})
                    writer.progress(step, rate, means)
                if step % config.log.sample_every == 0 or done:
                    health.verify(state, step)
                    outputs.samples(state, step)
                if evaluator is not None and (step % config.eval.every == 0 or done):
                    health.verify(state, step)
                    outputs.evaluation(evaluator, state, step)
                stop = preemption.stop_requested(step // spc)  # sync points count 1, 2, 3, ...
                if step % config.checkpoint.every == 0 or done or stop:
                    health.verify(state, step)
                    health.last_saved = ckpts.save(state, {"log_interval": health.interval()})
                if stop:
                    break
        except KeyboardInterrupt:
            _save_on_interrupt(state, step, health, ckpts)
            raise
    if preemption.reason == "SIGINT":
        _say(f"\nInterrupted: saved step {step}; run the same command to continue.")
        raise KeyboardInterrupt
    if preemption.reason:
        raise Preempted(step, preemption.reason)
    seconds = time.perf_counter() - train_start
    trained = total - (start or 0)
    _say(
        f"Done: {trained} steps in {writers.format_duration(seconds)} "
        f"({trained / seconds:.1f} steps/s, compile {compile_seconds:.1f}s). Last interval: "
        f"{_game_summary(means)}. Outputs in {workdir}."
    )
    return state


def _game_summary(means: dict) -> str:
    """D's diagnostics of the last interval, against the equilibrium where the objective has one."""
    if "V" in means:
        return (
            f"D(x) {means['d_real']:.3f}, D(G(z)) {means['d_fake']:.3f}, V {means['V']:.3f} "
            f"(equilibrium: 0.5, 0.5, {-writers.LOG_4:.3f})"
        )
    return ", ".join(f"{key} {means[key]:.3f}" for key in ("W", "d_real_out", "d_fake_out") if key in means)


def restore_run(workdir: str, step: int | None = None, devices: Sequence | None = None):
    """(config, gan, source, state) of the checkpoint at `step` (default: the latest) of a run."""
    workdir = workdirs.resolve(workdir)
    path = workdir / "config.json"
    if not path.exists():
        raise WorkdirError(f"{workdir} is not a run directory: it has no config.json.")
    config = config_lib.base_config()  # keys added to the schema since the run get their defaults
    config.update(json.loads(path.read_text()))
    with Checkpoints(workdir / "checkpoints", config.checkpoint.keep) as ckpts:
        available = ckpts.steps()
        step = ckpts.latest_step() if step is None else step
        if step is None or step not in available:
            raise CheckpointError(f"No checkpoint of step {step} in {ckpts.directory}; it has {available}.")
        run = experiment.build(config, devices)
        state, _ = ckpts.restore(step, run.initial_state())
    return config, run.gan, run.source, state


def _save_on_interrupt(state: GANState, step: int, health: _Health, ckpts: Checkpoints) -> None:
    """Ctrl-C: save the current step if it is healthy, so the next run resumes there."""
    try:
        health.verify(state, step)
        step = ckpts.save(state, {"log_interval": health.interval()})
        _say(f"\nInterrupted: saved step {step}; run the same command to continue.")
    except Exception as error:  # diverged, or the state was donated mid-call
        _say(f"\nInterrupted: could not save ({error}); the last checkpoint is step {health.last_saved}.")
