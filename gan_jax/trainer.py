"""train_and_evaluate(config, workdir): the one path every run takes.

Checks the config, builds data, networks and the compiled step, resumes from the workdir's
latest checkpoint if there is one, then trains in chunks of `steps_per_call` steps. The host only
syncs with the device at log, sample and checkpoint boundaries; there it checks every step's
metrics for NaN/Inf *before* anything is saved, so a diverged state never becomes a checkpoint.
"""

import json
import pathlib
import time
from collections.abc import Sequence

import jax
import ml_collections
import numpy as np

from gan_jax import config as config_lib
from gan_jax import data, evaluation, losses, models, optim, parallel, steps, writers
from gan_jax import state as state_lib
from gan_jax.checkpoint import Checkpoints
from gan_jax.data import DataSource
from gan_jax.preemption import PreemptionWatcher
from gan_jax.state import GAN, GANState


class NonFiniteError(FloatingPointError):
    pass


def _say(message: str) -> None:
    """Console output of process 0 only (every process runs the same loop)."""
    if jax.process_index() == 0:
        print(message, flush=True)


def build_gan(config: ml_collections.ConfigDict, source: DataSource) -> GAN:
    """Networks and optimisers for the config and the data (its shape, its classes)."""
    objective = losses.objective(config.loss)
    needs_labels = config.model.conditional or objective.semi_supervised
    if needs_labels and not source.num_classes:
        raise ValueError(
            f"config.model.conditional / config.loss.d='semi_supervised' need labelled data; "
            f"{source.name!r} has no labels."
        )
    num_classes = source.num_classes if config.model.conditional else 0
    d_outputs = source.num_classes if objective.semi_supervised else 1
    generator, discriminator = models.build(config.model, source.shape, num_classes, d_outputs)
    vbn = config.model.get("g_norm", "batch") == "virtual_batch"
    return GAN(
        generator,
        discriminator,
        optim.make(config.optim.g, "g"),
        optim.make(config.optim.d, "d"),
        config.model.z_dim,
        num_classes=num_classes,
        vbn_ref_size=config.model.vbn_ref_size if vbn else 0,
    )


def initial_state(config: ml_collections.ConfigDict, gan: GAN, source: DataSource) -> GANState:
    return state_lib.create(
        gan,
        config.seed,
        source.shape,
        use_ema=config.train.ema_decay > 0,
        g_history=config.loss.g_historical > 0,
        d_history=config.loss.d_historical > 0,
    )


def build_train_step(config: ml_collections.ConfigDict, gan: GAN, source: DataSource, mesh=None):
    """The un-jitted multi-step function (state, arrays) -> (state, stacked metrics)."""
    t = config.train
    train_step = steps.make_train_step(
        gan,
        source,
        t.batch_size,
        t.d_steps,
        t.g_steps,
        losses.objective(config.loss),
        t.ema_decay,
        shard_batch=parallel.batch_constraint(mesh),
        d_head_start=t.d_head_start,
    )
    return steps.make_multi_step(train_step, t.steps_per_call)


class _MetricBuffer:
    """Per-step metrics left on the device until a boundary, then checked and averaged."""

    def __init__(self):
        self._pending: list[tuple[int, dict]] = []  # (first step of the chunk, device metrics)
        self._checked: list[dict] = []

    def add(self, first_step: int, metrics: dict) -> None:
        self._pending.append((first_step, metrics))

    def check(self, last_checkpoint: int | None, directory: pathlib.Path) -> None:
        """Fetch pending metrics; raise NonFiniteError at the first step with NaN/Inf."""
        for first_step, metrics in jax.device_get(self._pending):
            finite = np.all([np.isfinite(v) for v in metrics.values()], axis=0)
            if not finite.all():
                i = int(np.argmin(finite))
                bad = ", ".join(f"{k} = {v[i]}" for k, v in metrics.items() if not np.isfinite(v[i]))
                kept = f"step {last_checkpoint}" if last_checkpoint is not None else "none"
                raise NonFiniteError(
                    f"Training diverged at step {first_step + i + 1} (after {first_step + i} "
                    f"completed steps): {bad}. Nothing from that step on was saved; the last "
                    f"checkpoint in {directory} is {kept}. Lower the learning rates "
                    "(config.optim.g.lr / config.optim.d.lr) or inspect the data."
                )
            self._checked.append(metrics)
        self._pending = []

    def pop_means(self) -> tuple[int, dict[str, float]]:
        """(number of steps, mean of each metric over them) for the checked steps."""
        if not self._checked:
            return 0, {}
        stacked = {k: np.concatenate([m[k] for m in self._checked]) for k in self._checked[0]}
        self._checked = []
        return len(next(iter(stacked.values()))), {k: float(v.mean()) for k, v in stacked.items()}


def _prepare_workdir(config, workdir: pathlib.Path, resuming: bool, is_main: bool) -> None:
    """Refuse to resume under a config that changed anything but RESUMABLE_CHANGES."""
    path = workdir / "config.json"
    current = json.loads(config.to_json_best_effort())
    if resuming and path.exists():
        conflicts = config_lib.resume_conflicts(json.loads(path.read_text()), current)
        if conflicts:
            raise ValueError(
                f"{workdir} holds a run with a different config (keys {conflicts} differ from "
                f"{path}). Use the same config to resume, or a new --workdir for a new run."
            )
    if is_main:
        workdir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")


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
    """Train (or resume) the run described by `config` in `workdir`; returns the final state."""
    workdir = pathlib.Path(workdir)
    config_lib.validate(config)
    mesh = parallel.make_mesh(devices)
    parallel.check_batch_divides(config.train.batch_size, mesh)
    is_main = jax.process_index() == 0
    ckpts = Checkpoints(workdir / "checkpoints", config.checkpoint.keep)
    start = ckpts.latest_step()
    _prepare_workdir(config, workdir, start is not None, is_main)

    source = data.load(config.data)
    gan = build_gan(config, source)
    state = initial_state(config, gan, source)
    state = parallel.put_replicated(state, mesh)
    if start is not None:
        state = ckpts.restore(start, state)
    step = start or 0
    total = config.train.total_steps
    writer = writers.MetricWriter(workdir, step, total, is_main)
    outputs = _Outputs(config, gan, source, workdir, writer)
    if step >= total:
        _say(f"{workdir} is at step {step} >= train.total_steps={total}: nothing to train.")
        ckpts.close()
        writer.close()
        return state

    arrays = parallel.put_replicated(data.training_arrays(source, config.loss), mesh)
    evaluator = None
    if config.eval.every:
        metrics = evaluation.parse_metrics(config.eval.metrics)
        evaluator = evaluation.Evaluator(config, gan, source, metrics, arrays)
    step_fn = parallel.jit_replicated(build_train_step(config, gan, source, mesh), mesh)
    timer = writers.Timer()
    train_fn = step_fn.lower(state, arrays).compile()  # later shape changes fail, never recompile
    compile_seconds = timer.lap()
    _say(
        f"{'Resuming at' if start else 'Starting from'} step {step} on {mesh.devices.size} "
        f"{jax.default_backend()} device(s); compiled in {compile_seconds:.1f}s."
    )

    spc, buffer, last_saved = config.train.steps_per_call, _MetricBuffer(), start
    train_start, means, preempted = time.perf_counter(), {}, False
    preemption = PreemptionWatcher()
    try:
        while step < total and not preempted:
            state, metrics = train_fn(state, arrays)
            buffer.add(step, metrics)
            step += spc
            done = step == total
            if step % config.log.every == 0 or done:
                buffer.check(last_saved, ckpts.directory)
                n, means = buffer.pop_means()
                rate = n / timer.lap()  # wall clock, sample and checkpoint writing included
                writer.write(step, {**means, "steps_per_sec": rate})
                writer.progress(step, rate, means)
            if step % config.log.sample_every == 0 or done:
                outputs.samples(state, step)
            if evaluator is not None and (step % config.eval.every == 0 or done):
                buffer.check(last_saved, ckpts.directory)
                outputs.evaluation(evaluator, state, step)
            preempted = preemption.stop_requested(step // spc)  # sync points count 1, 2, 3, ...
            if step % config.checkpoint.every == 0 or done or preempted:
                buffer.check(last_saved, ckpts.directory)
                last_saved = ckpts.save(state)
    except KeyboardInterrupt:
        _save_on_interrupt(state, buffer, ckpts, last_saved)
        raise
    finally:
        preemption.close()
        ckpts.wait()
        ckpts.close()
        writer.close()
    if preempted and preemption.reason == "SIGINT":
        _say(f"\nInterrupted: saved step {step}; run the same command to continue.")
        raise KeyboardInterrupt
    if preempted:
        _say(f"Preempted (SIGTERM) at step {step}: saved it; run the same command to resume.")
        return state
    seconds = time.perf_counter() - train_start
    trained = total - (start or 0)
    _say(
        f"Done: {trained} steps in {writers.format_duration(seconds)} "
        f"({trained / seconds:.1f} steps/s, compile {compile_seconds:.1f}s). Last interval: "
        f"D(x) {means.get('d_real', float('nan')):.3f}, D(G(z)) {means.get('d_fake', float('nan')):.3f}, "
        f"V {means.get('V', float('nan')):.3f} (equilibrium: 0.5, 0.5, {-writers.LOG_4:.3f}). "
        f"Outputs in {workdir}."
    )
    return state


def restore_run(workdir: str, step: int | None = None, devices: Sequence | None = None):
    """(config, gan, source, state) of the checkpoint at `step` (default: the latest) of a run."""
    workdir = pathlib.Path(workdir)
    path = workdir / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"{workdir} is not a run directory: it has no config.json.")
    config = config_lib.base_config()  # keys added to the schema since the run get their defaults
    config.update(json.loads(path.read_text()))
    ckpts = Checkpoints(workdir / "checkpoints", config.checkpoint.keep)
    available = ckpts.steps()
    step = ckpts.latest_step() if step is None else step
    if step is None or step not in available:
        ckpts.close()
        raise FileNotFoundError(f"No checkpoint of step {step} in {ckpts.directory}; it has {available}.")
    source = data.load(config.data)
    gan = build_gan(config, source)
    state = initial_state(config, gan, source)
    state = ckpts.restore(step, parallel.put_replicated(state, parallel.make_mesh(devices)))
    ckpts.close()
    return config, gan, source, state


def _save_on_interrupt(state, buffer: _MetricBuffer, ckpts: Checkpoints, last_saved) -> None:
    """Ctrl-C: save the current step if its metrics are finite, so the next run resumes there."""
    try:
        buffer.check(last_saved, ckpts.directory)
        step = ckpts.save(state)
        _say(f"\nInterrupted: saved step {step}; run the same command to continue.")
    except Exception as error:  # diverged, or the state was donated mid-call
        _say(f"\nInterrupted: could not save ({error}); the last checkpoint is step {last_saved}.")
