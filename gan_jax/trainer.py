"""train_and_evaluate(config, workdir): the one path every run takes; train_population(configs,
workdirs): the same loop over a vmapped stack of runs that differ only in their seeds (`seed`,
and `data.seed`: each member's training set stacked on the population axis).

Checks the config, takes the workdir's lock, builds data, networks and the compiled step, resumes
from the workdir's latest intact checkpoint if there is one, then trains in chunks of
`steps_per_call` steps. The host only syncs with the device at log, sample, evaluation and
checkpoint boundaries (between them `jax.transfer_guard("disallow")` makes a stray implicit
transfer an error); there it checks every step's metrics and the state itself for NaN/Inf
*before* anything is written, so a diverged state is never logged as healthy, sampled, evaluated
or saved.
"""

import contextlib
import dataclasses
import functools
import itertools
import json
import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator, Sequence

import jax
import ml_collections
import numpy as np
from etils import epath

from gan_jax import clock, data, evaluation, experiment, memory, parallel, plots, writers
from gan_jax import config as config_lib
from gan_jax import state as state_lib
from gan_jax import workdir as workdirs
from gan_jax.checkpoint import Checkpoints
from gan_jax.data import DataSource
from gan_jax.errors import CheckpointError, ConfigError, NonFiniteError, WorkdirError
from gan_jax.health import Health
from gan_jax.models import apply
from gan_jax.preemption import Interrupted, Preempted, PreemptionWatcher
from gan_jax.state import GAN, GANState


def _say(message: str) -> None:
    """Console output of process 0 only (every process runs the same loop)."""
    if jax.process_index() == 0:
        print(message, flush=True)


def _prepare_workdir(config, workdir: epath.Path, resuming: bool, is_main: bool) -> None:
    """Refuse to resume under a config that changed anything but RESUMABLE_CHANGES."""
    path = workdir / "config.json"
    current = json.loads(config.to_json_best_effort())
    if resuming and path.exists():
        conflicts = config_lib.resume_conflicts(workdirs.read_json(path), current)
        if conflicts:
            raise ConfigError(
                f"{workdir} holds a run with a different config (keys {conflicts} differ from "
                f"{path}). Use the same config to resume, or a new --workdir for a new run."
            )
    if is_main:  # the workdir exists: process 0 created it to lock it; the others may be reading
        workdirs.write_atomically(path, json.dumps(current, indent=2, sort_keys=True) + "\n")


class _Outputs:
    """Sample grids / scatter plots from a fixed z, and the curves figure (process 0 only)."""

    def __init__(self, config, gan: GAN, source: DataSource, workdir: epath.Path, writer):
        self.source, self.workdir, self.writer = source, workdir, writer
        self.z = state_lib.fixed_noise(config.seed, config.log.num_samples, gan)
        self.y = apply.balanced_labels(gan, config.log.num_samples)  # column k: class k
        self.columns = gan.num_classes or None
        self._sample = apply.make_sampler(gan)

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
                grid = plots.save_image_grid(x, path, scale=max(1, 128 // x.shape[1]), columns=self.columns)
                self.writer.image(tag, grid, step)
            else:
                title = f"{self.source.name}: {len(x)} samples of G at step {step}"
                plots.save_points_figure(x, self.source.mixture, title, path)
        if self.writer.enabled:
            plots.save_curves(self.writer.rows, self.workdir / "curves.png")

    def evaluation(self, evaluator: evaluation.Evaluator, state: GANState, step: int) -> dict:
        """All processes compute (the generator is sharded over them); process 0 writes."""
        results = evaluator(state, step)
        if self.writer.enabled:
            evaluation.write(results, self.workdir)
            evaluator.figures(results, self.workdir / f"eval_{step}")
            self.writer.write(step, evaluation.scalars(results), log="eval")
        return results


@dataclasses.dataclass
class _Member:
    """One run of the loop and everything it writes to its workdir. A run alone is the one member
    of its loop (`index` None); a member of a vmapped population sees its slice of the stacked
    state and metrics (`index` i)."""

    config: ml_collections.ConfigDict
    workdir: epath.Path
    ckpts: Checkpoints
    writer: writers.MetricWriter
    health: Health
    outputs: _Outputs
    index: int | None
    topology: dict  # where it computes (_topology), carried by its checkpoints
    outcome: dict | None = None  # set when it stops: {"status": "finished" | "diverged", ...}
    means: dict = dataclasses.field(default_factory=dict)  # the last logged interval's metrics
    final: GANState | None = None  # its state when the loop ended
    settled: int | None = None  # the last step whose boundary work (rows, figures, evaluation, save) is done

    def view(self, tree):
        """This member's part of the loop's state (or metrics)."""
        return tree if self.index is None else jax.tree.map(lambda x: x[self.index], tree)


def train_and_evaluate(
    config: ml_collections.ConfigDict, workdir: str, devices: Sequence | None = None
) -> GANState:
    """Train (or resume) the run described by `config` in `workdir` to config.train.total_steps and
    return the final state. A SIGTERM saves the current step and raises `Preempted`; Ctrl-C saves
    it and raises KeyboardInterrupt (either one at the last step boundary leaves the run finished
    and is passed on: PreemptionWatcher.pass_on); a NaN/Inf raises NonFiniteError."""
    return _train([config], [workdir], devices, vmapped=False)[0].final


def train_population(
    configs: Sequence[ml_collections.ConfigDict], workdirs: Sequence[str], devices: Sequence | None = None
) -> list[dict]:
    """Train runs that differ only in `seed` and `data.seed` as one program, the step vmapped over
    a leading population axis (one compile for all: the accelerator path of sweeps); members with
    their own training set (data.seed) each sample from theirs. Each member leaves in its workdir
    what the same run alone leaves; a diverged member stops writing while the others go on.
    Returns each member's outcome: {"status": "finished"} or {"status": "diverged", "message": ...}."""
    unlike = [i for i, c in enumerate(configs) if without_seed(c) != without_seed(configs[0])]
    if unlike:
        raise ConfigError(
            f"A population's configs may differ only in `seed` and `data.seed`; members {unlike} differ "
            "otherwise."
        )
    return [m.outcome for m in _train(configs, workdirs, devices, vmapped=True)]


def without_seed(config: ml_collections.ConfigDict) -> str:
    """`config` but its seeds (`seed`, `data.seed`), as canonical JSON: runs equal in it can train
    as one population."""
    values = json.loads(config.to_json_best_effort())
    values.pop("seed")
    values["data"].pop("seed", None)
    return json.dumps(values, sort_keys=True)


def _train(configs, workdir_args, devices, vmapped: bool) -> list[_Member]:
    """The one loop, for every member its outcome and final state. A lone run's divergence
    raises; a population member's is its outcome."""
    runs, paths = _build(configs, workdir_args, devices, vmapped)
    total = configs[0].train.total_steps
    with contextlib.ExitStack() as stack:  # closes what was opened, however the run ends
        if jax.process_index() == 0:
            for path in paths:
                stack.enter_context(workdirs.locked(path))
        preemption = stack.enter_context(PreemptionWatcher())  # from here on a signal stops at a boundary
        members, state, start = _open_members(stack, runs, paths, vmapped)
        if start >= total:
            where = ", ".join(map(str, paths))
            _say(f"{where} at step {start} >= train.total_steps={total}: nothing to train.")
            _finished(members)
            return members
        call, evaluators, timing = _compiled(runs, state, start, vmapped)
        state, end = _loop(list(members), state, start, call, evaluators, preemption, timing, vmapped)
        for m in members:
            m.final = m.view(state)
    if preemption.reason and end < total:  # a signal at the last boundary stops nothing: the runs are done
        if preemption.reason == "SIGINT":
            _say(f"\nInterrupted: saved step {end}; run the same command to continue.")
            raise Interrupted
        raise Preempted(end, preemption.reason)
    for m in _finished(members):
        _say(f"Done: {timing.summary(end)}. Last interval: {_game_summary(m.means)}. Outputs in {m.workdir}.")
    preemption.pass_on()
    return members


def _finished(members: list[_Member]) -> list[_Member]:
    """Mark every member that did not diverge finished; returns those."""
    finished = [m for m in members if m.outcome is None]
    for m in finished:
        m.outcome = {"status": "finished"}
    return finished


def _build(
    configs, workdir_args, devices, vmapped: bool
) -> tuple[list[experiment.Experiment], list[epath.Path]]:
    """Each member's experiment -- the population's networks and mesh, with its own config and,
    where its data.seed draws another training set, its own data --, every config checked first:
    a bad one fails before any write."""
    for config in configs:
        config_lib.validate(config)
    run = experiment.build(configs[0], devices)
    if vmapped and run.source.streamed:
        raise ConfigError(
            "A population keeps its training data on the device; its seeds cannot stream theirs. "
            "Set config.data.pipeline='device', or train the seeds as separate runs."
        )
    runs = [
        dataclasses.replace(
            run, config=c, source=run.source if c.data == run.config.data else experiment.load_data(c)
        )
        for c in configs
    ]
    return runs, [workdirs.resolve(w) for w in workdir_args]


def _open_members(stack, runs: list[experiment.Experiment], paths, vmapped: bool):
    """(members, the loop's state -- a population's stacked on a leading axis --, the step they
    all start at)."""
    opened = [
        _open_member(stack, run, path, i if vmapped else None)
        for i, (run, path) in enumerate(zip(runs, paths, strict=True))
    ]
    starts = {start for _, _, start in opened}
    if len(starts) > 1:
        raise ConfigError(
            f"Population members are at different steps {sorted(starts)} in {[str(p) for p in paths]}; "
            "resume them alone."
        )
    members, states = [m for m, _, _ in opened], [s for _, s, _ in opened]
    for m, member_state in zip(members, states, strict=True):
        m.final = member_state  # until the loop moves it on
    if not vmapped:
        return members, states[0], starts.pop()
    stacked = parallel.put_replicated(jax.tree.map(lambda *x: np.stack(x), *states), runs[0].mesh)
    return members, stacked, starts.pop()


def _compiled(runs: list[experiment.Experiment], state: GANState, step: int, vmapped: bool):
    """(the call that trains `steps_per_call` steps, each member's evaluator or None, the loop's
    clock), compiled for exactly this state and data, checked against the device's memory."""
    run, config = runs[0], runs[0].config
    own_data = any(r.source is not run.source for r in runs)
    feed = _feed(runs) if own_data else run.feed(state, step)
    arrays = next(feed)
    feed = itertools.chain([arrays], feed)
    evaluators = _evaluators(runs, arrays, own_data) if config.eval.every else None
    timer = clock.Timer()
    train_fn = run.compile(state, arrays, vmapped, per_member_data=own_data)
    device, batch = run.mesh.devices.flat[0], config.train.batch_size
    memory.check_fits(train_fn, device, "The compiled train step", "config.train.batch_size", batch)
    parallel.wait_for_every_process("compiled")  # the first step's collectives start together
    compile_seconds = timer.lap()
    _say(
        f"{'Resuming at' if step else 'Starting from'} step {step} on {run.mesh.devices.size} "
        f"{jax.default_backend()} device(s){f', {len(runs)} runs vmapped' if vmapped else ''}; "
        f"compiled in {compile_seconds:.1f}s."
    )
    return (
        (lambda s: train_fn(s, next(feed))),
        evaluators,
        clock.LoopClock(timer, step, config.train.total_steps, compile_seconds),
    )


def _feed(runs: list[experiment.Experiment]) -> Iterator[dict]:
    """A population's data when its members have their own training sets: the sets stacked on the
    population axis, the same every call."""
    sets = [data.training_arrays(r.source, r.gan.num_labelled) for r in runs]
    arrays = jax.tree.map(lambda *x: np.stack(x), *sets)
    return itertools.repeat(parallel.put_replicated(arrays, runs[0].mesh))


def _evaluators(runs: list[experiment.Experiment], arrays: dict, own_data: bool) -> list:
    """Each member's evaluator, on its own data (`arrays`: the step's, stacked when `own_data`);
    members that share their data share one."""
    config = runs[0].config
    metrics = evaluation.parse_metrics(config.eval.metrics)
    by_source = {}
    for i, r in enumerate(runs):
        if id(r.source) not in by_source:
            member_arrays = jax.tree.map(lambda x, i=i: x[i], arrays) if own_data else arrays
            by_source[id(r.source)] = evaluation.Evaluator(config, r.gan, r.source, metrics, member_arrays)
    return [by_source[id(r.source)] for r in runs]


def _loop(
    live: list[_Member],
    state,
    step: int,
    train_fn,
    evaluators,
    preemption,
    timing: clock.LoopClock,
    vmapped: bool,
):
    """Call the compiled step until total_steps (or a signal), each member writing at its
    boundaries; a diverged population member leaves `live`. Returns (state, step)."""
    config = live[0].config
    spc, total = config.train.steps_per_call, config.train.total_steps
    try:
        while step < total and live:
            with jax.transfer_guard("disallow"):  # the hot path: no implicit host<->device copy
                state, metrics = train_fn(state)
                for m in live:
                    m.health.add(step, metrics)
            step += spc
            due = _due(config, step, evaluators is not None, preemption.stop_requested(step // spc))
            if not due:  # nothing to write: the step is settled as it is
                for m in live:
                    m.settled = step
                continue
            jax.block_until_ready(metrics)  # the calls are asynchronous
            rate, eta = timing.boundary(step, "log" in due)
            _boundaries(live, state, step, evaluators, due, rate, eta, vmapped)
            timing.written()
            if "stop" in due:
                break
    except KeyboardInterrupt:
        for m in live:
            _save_on_interrupt(m, state, step)
        raise Interrupted from None
    return state, step


def _boundaries(live: list[_Member], state, step: int, evaluators, due, rate, eta, vmapped: bool) -> None:
    """Every live member's boundary work; a population member that diverged stops there (its
    outcome says so), a lone run's divergence raises."""
    for m in list(live):
        try:
            _boundary(m, state, step, evaluators and evaluators[m.index or 0], due, rate, eta)
        except NonFiniteError as error:
            if not vmapped:
                raise
            m.outcome = {"status": "diverged", "message": str(error)}
            live.remove(m)


def _due(config: ml_collections.ConfigDict, step: int, evaluating: bool, stop: bool) -> set[str]:
    """The boundary work due after the call that reached `step`: 'log', 'sample', 'evaluate',
    'save' (and 'stop' on a signal, which saves too)."""
    done = step == config.train.total_steps
    every = {
        "log": config.log.every,
        "sample": config.log.sample_every,
        "evaluate": config.eval.every,
        "save": config.checkpoint.every,
    }
    due = {name for name, n in every.items() if (n and step % n == 0) or done}
    if not evaluating:
        due.discard("evaluate")
    return due | {"stop", "save"} if stop else due


def _open_member(
    stack: contextlib.ExitStack, run: experiment.Experiment, path: epath.Path, index: int | None
) -> tuple[_Member, GANState, int]:
    """One run's workdir opened for the loop: (member, its state -- restored from its latest
    intact checkpoint, else fresh -- and the step it starts at)."""
    is_main, config = jax.process_index() == 0, run.config
    workdirs.check_layout(path)  # before anything in it is read, cut back or rewritten
    ckpts = stack.enter_context(Checkpoints(path / "checkpoints", config.checkpoint.keep))
    _prepare_workdir(config, path, ckpts.latest_step() is not None, is_main)
    fresh = run.initial_state()
    state, meta = ckpts.restore_latest(fresh) or (fresh, {})
    start = ckpts.latest_step()
    label = f"{path.name}: " if index is not None else ""
    writer = stack.enter_context(
        writers.MetricWriter(path, start or 0, config.train.total_steps, is_main, label)
    )
    health = Health(ckpts.directory, start, meta.get("log_interval"), index)
    outputs = _Outputs(config, run.gan, run.source, path, writer)
    topology = _topology(run)
    if is_main:
        _record_start(path, start or 0, topology, meta.get("topology"))
    member = _Member(config, path, ckpts, writer, health, outputs, index, topology, settled=start)
    return member, state, start or 0


def _topology(run: experiment.Experiment) -> dict:
    """Where a run computes. XLA's results are bit-identical only on the same kind and number of
    devices and the same JAX."""
    device = run.mesh.devices.flat[0]
    return {
        "devices": int(run.mesh.devices.size),
        "processes": jax.process_count(),
        "device_kind": device.device_kind,
        "jax": jax.__version__,
    }


def _record_start(workdir: epath.Path, step: int, topology: dict, saved: dict | None) -> None:
    """Append this start to <workdir>/starts.jsonl; a resume on another topology than the
    checkpoint's is said, and recorded as not bit-identical to an uninterrupted run."""
    moved = saved is not None and saved != topology
    if moved:
        changed = ", ".join(f"{k} {saved.get(k)} -> {v}" for k, v in topology.items() if saved.get(k) != v)
        print(
            f"Warning: {workdir} resumes at step {step} on another topology ({changed}): from here on it "
            "will not be bit-identical to an uninterrupted run (recorded in starts.jsonl).",
            file=sys.stderr,
            flush=True,
        )
    row = {"step": step, **topology, "bit_identical": not moved if saved is not None else None}
    writers.append_row(workdir / workdirs.STARTS_FILE, {**row, "code": code_version()})


@functools.cache
def code_version() -> str | None:
    """The commit of the git checkout this package runs from, with '+' when its tracked files
    differ from it: which code trained a run, in each of its starts (a result's provenance; not a
    test of bit-identity, which a change elsewhere in the tree need not break). Outside a checkout
    of its own (an installed package, a tree copied to a lent accelerator) the commit its copier
    declares in GAN_JAX_CODE, else None."""
    root = pathlib.Path(__file__).resolve().parent.parent
    git = ["git", "-C", str(root)]
    declared = os.environ.get("GAN_JAX_CODE") or None
    try:
        head = subprocess.run([*git, "rev-parse", "--show-toplevel", "HEAD"], capture_output=True, text=True)
        changed = subprocess.run([*git, "diff", "--quiet", "HEAD", "--"], capture_output=True)
    except OSError:  # no git
        return declared
    lines = head.stdout.split()
    if head.returncode or len(lines) != 2 or pathlib.Path(lines[0]).resolve() != root:
        return declared
    return lines[1] + ("+" if changed.returncode else "")


def _boundary(
    m: _Member, state: GANState, step: int, evaluator, due: set[str], rate: float | None, eta: float
) -> None:
    """What one member writes after the call that reached `step` (`state`: the loop's; `due`:
    _due's), all of it only once the state and every step's metrics are proven finite; then the
    step is `settled` (an interrupt before that saves no checkpoint of it: _save_on_interrupt)."""
    state = m.view(state)
    m.health.verify(state, step)
    if "log" in due:
        m.means = m.health.pop_means()
        m.writer.write(step, {**m.means, "steps_per_sec": rate})
        m.writer.progress(step, rate, eta, m.means)
    if "sample" in due:
        m.outputs.samples(state, step)
    if "evaluate" in due:
        m.outputs.evaluation(evaluator, state, step)
    if "save" in due:
        m.health.last_saved = m.ckpts.save(state, _meta(m))
    m.settled = step


def _meta(m: _Member) -> dict:
    """What a checkpoint carries beside the state: the log interval in progress, and where the
    run is computing (a resume elsewhere is said and recorded: _record_start)."""
    return {"log_interval": m.health.interval(), "topology": m.topology}


def _game_summary(means: dict) -> str:
    """D's diagnostics of the last interval, against the equilibrium where the objective has one."""
    if "V" in means:
        return (
            f"D(x) {means['d_real']:.3f}, D(G(z)) {means['d_fake']:.3f}, V {means['V']:.3f} "
            f"(equilibrium: 0.5, 0.5, {-plots.LOG_4:.3f})"
        )
    return ", ".join(f"{key} {means[key]:.3f}" for key in ("W", "d_real_out", "d_fake_out") if key in means)


def restore_run(workdir: str, step: int | None = None, devices: Sequence | None = None):
    """(config, gan, source, state) of the checkpoint at `step` (default: the latest) of a run."""
    workdir = workdirs.resolve(workdir)
    path = workdir / "config.json"
    if not path.exists():
        raise WorkdirError(f"{workdir} is not a run directory: it has no config.json.")
    config = config_lib.base_config()  # keys added to the schema since the run get their defaults
    config.update(workdirs.read_json(path))
    with Checkpoints(workdir / "checkpoints", config.checkpoint.keep) as ckpts:
        available = ckpts.steps()
        step = ckpts.latest_step() if step is None else step
        if step is None or step not in available:
            raise CheckpointError(f"No checkpoint of step {step} in {ckpts.directory}; it has {available}.")
        run = experiment.build(config, devices)
        state, _ = ckpts.restore(step, run.initial_state())
    return config, run.gan, run.source, state


def _save_on_interrupt(m: _Member, loop_state, step: int) -> None:
    """Ctrl-C (a second one, or one during a call): save the current step if it is healthy and
    everything its boundary writes (log row, figures, evaluation) is written -- else keep the last
    checkpoint, so that the rerun trains to this step again and writes them. Saving a step whose
    evaluation was cut short lost that evaluation for good: the rerun started after it."""
    last = f"the last checkpoint is step {m.health.last_saved}"
    if m.health.last_saved == step:
        _say(f"\nInterrupted: saved step {step}; run the same command to continue.")
        return
    if m.settled != step:
        _say(
            f"\nInterrupted before step {step}'s outputs were all written; {last}: run the same "
            "command to train to it again and write them."
        )
        return
    try:
        state = m.view(loop_state)
        if int(jax.device_get(state.step)) != step:  # the interrupt fell between a call and its count
            raise RuntimeError(f"the state is at step {int(jax.device_get(state.step))}, not {step}")
        m.health.verify(state, step)
        step = m.ckpts.save(state, _meta(m))
        _say(f"\nInterrupted: saved step {step}; run the same command to continue.")
    except Exception as error:  # diverged, or the state was donated mid-call
        _say(f"\nInterrupted: could not save ({error}); {last}.")
