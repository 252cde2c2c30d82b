r"""Run every cell x seed of a config's sweep: one sub-workdir per run, resumable.

    python -m experiments.sweep --config=configs/mode_collapse.py:ring --workdir=runs/mode_collapse/ring
    python -m experiments.report --workdir=runs/mode_collapse/ring

The config's get_sweep(arg) lists override dicts (gan_jax/sweep.py); run i trains get_config(arg)
with its overrides in <workdir>/<cell>/seed_<seed>. Every run's config is built and validated
before anything trains. A run that reaches its total_steps -- or diverges: a diverged run is a
result too -- leaves `done.json` and is skipped by a rerun; a run that cannot run (a bad value, a
missing data set) leaves `error.json` and the others go on; a preempted one resumes from its
checkpoint on the next run of the same command. On a CPU, --parallel single-threaded worker
processes (default: one per core) share the runs, each worker taking the next one that none has
claimed, so that no worker idles while runs wait (measured here: two single-core processes do ~2x
the steps/s of one process on both cores for the small MLPs). On an accelerator, each cell's
seeds train together as one population under jax.vmap (trainer.train_population: the same loop,
the same files per run); --population chooses either path on any backend.

SIGTERM or Ctrl-C to the sweep reaches every worker as SIGTERM: each saves its current run at the
next step boundary and exits; the sweep then exits with status 75 (EX_TEMPFAIL) saying it was
preempted. A worker whose sweep process dies (even by kill -9) gets SIGTERM too (Linux).
"""

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

from absl import app, flags
from etils import epath

from experiments import cli

_CONFIG = flags.DEFINE_string("config", None, "Config file with get_sweep (path[:arg]).")
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for the runs.")
_PARALLEL = flags.DEFINE_integer("parallel", None, "Worker processes on a CPU (default: one per core).")
_POPULATION = flags.DEFINE_bool(
    "population",
    None,
    "Train each cell's seeds as one vmapped population (default: on an accelerator only; on a CPU "
    "worker processes, measured faster: README, Performance).",
)
_LIST = flags.DEFINE_bool("list", False, "Only list the runs and their state.")
_WORKER = flags.DEFINE_string("worker", None, "(internal) JSON file of the runs the workers share.")
_CORE = flags.DEFINE_integer("core", None, "(internal) CPU core to pin a worker to.")
SINGLE_THREAD_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
PREEMPTED = 75  # os.EX_TEMPFAIL: "a temporary failure; retry" -- rerun the same command
CLAIMS = ".worker_claims"  # beside the workers' shared list of runs (claim_run)
_PR_SET_PDEATHSIG = 1


def plan(spec: str, workdir: epath.Path) -> list[dict]:
    """Every run of the sweep: {'dir', 'cell', 'seed', 'overrides'}; overrides checked up front."""
    from gan_jax import config as config_lib
    from gan_jax import sweep
    from gan_jax.errors import UserError

    module, arg = cli.load_config_module(spec)
    if not hasattr(module, "get_sweep"):
        raise UserError(f"{spec} defines no get_sweep(arg); nothing to sweep.")
    runs = []
    for entry in module.get_sweep(arg):
        overrides = sweep.overrides_of(entry)
        try:  # every run's config must load and validate before anything trains
            config_lib.validate(config_lib.apply_overrides(module.get_config(arg), overrides))
        except (UserError, TypeError, ValueError) as error:
            raise UserError(f"Sweep entry {entry} of {spec}: {error}") from error
        cell, seed = sweep.cell_name(entry), overrides.get("seed", 0)
        if "/" in cell or cell in ("", ".", "..") or "\0" in cell:
            raise UserError(
                f"Sweep cell name {cell!r} of {spec} is not a directory name inside the sweep; rename it."
            )
        runs.append(
            {"dir": str(workdir / cell / f"seed_{seed}"), "cell": cell, "seed": seed, "overrides": overrides}
        )
    dirs = [r["dir"] for r in runs]
    if len(set(dirs)) != len(dirs):
        raise UserError(
            f"Two entries of {spec}'s sweep map to one directory: give them distinct '_name's or seeds."
        )
    return runs


def run_worker(runs_file: str, core: int | None) -> None:
    """Train runs of the shared list, each the next one no worker has claimed (claim_run); record
    each one's outcome in its directory."""
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    _terminate_with_parent()
    stop = _stop_between_runs()
    cli.enable_compilation_cache()
    from gan_jax import trainer
    from gan_jax.errors import NonFiniteError
    from gan_jax.preemption import Preempted

    runs_path = epath.Path(runs_file)
    spec_and_runs = json.loads(runs_path.read_text())
    runs, claims = spec_and_runs["runs"], runs_path.parent / CLAIMS
    errors, index = 0, -1
    while not stop and (index := claim_run(claims, len(runs), index + 1)) is not None:
        run = runs[index]
        directory, start = epath.Path(run["dir"]), time.time()
        (directory / "done.json").unlink(missing_ok=True)  # a finished run asked to train longer
        try:
            [config] = cli.run_configs(spec_and_runs["spec"], [run])
            trainer.train_and_evaluate(config, run["dir"])
            outcome = {"status": "finished"}
        except Preempted as preempted:
            print(f"{run['dir']}: {preempted}", flush=True)
            sys.exit(PREEMPTED)
        except NonFiniteError as error:
            outcome = {"status": "diverged", "message": str(error)}
        except Exception as error:  # this run cannot run; the worker's other runs still can
            errors += 1
            _record_error(directory, error)
            continue
        _record(directory, outcome, start)
    sys.exit(PREEMPTED if stop else 1 if errors else 0)


def claim_run(claims: epath.Path, count: int, start: int) -> int | None:
    """The first run index from `start` on that no worker has claimed, now claimed by this one --
    an exclusive create of claims/<index>, so two workers never take one run -- or None when all
    are taken. The workers share one list and one claims directory, fresh for each sweep."""
    for index in range(start, count):
        try:
            os.close(os.open(claims / str(index), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            continue
        return index
    return None


def run_populations(spec: str, runs: list[dict]) -> list[int]:
    """The accelerator path: each cell's pending seeds as vmapped populations -- one, or one per
    group of seeds whose configs differ in more than their seeds (`seed`, `data.seed`:
    trainer.without_seed) -- recorded as the workers record theirs. Returns [PREEMPTED] if a
    signal stopped it, else []."""
    stop = _stop_between_runs()
    for cell in dict.fromkeys(r["cell"] for r in runs):
        members = [r for r in runs if r["cell"] == cell]
        try:
            configs = cli.run_configs(spec, members)
        except Exception as error:  # this cell cannot run; the other cells still can
            for r in members:
                _record_error(epath.Path(r["dir"]), error)
            continue
        for population in _populations(members, configs):
            if stop or _train_population(cell, population):
                return [PREEMPTED]
    return [PREEMPTED] if stop else []


def _populations(runs: list[dict], configs: list) -> list[list[tuple[dict, object]]]:
    """The runs of a cell as (run, config) groups equal but for their seeds, in the runs' order."""
    from gan_jax import trainer

    groups: dict[str, list] = {}
    for r, config in zip(runs, configs, strict=True):
        groups.setdefault(trainer.without_seed(config), []).append((r, config))
    return list(groups.values())


def _train_population(cell: str, population: list[tuple[dict, object]]) -> bool:
    """Train one population of (run, config) and record each member's outcome, or the error that
    stopped it; True if a signal preempted it."""
    from gan_jax import trainer
    from gan_jax.preemption import Preempted

    runs = [r for r, _ in population]
    start = time.time()
    for r in runs:  # finished runs asked to train longer
        (epath.Path(r["dir"]) / "done.json").unlink(missing_ok=True)
    try:
        outcomes = trainer.train_population([c for _, c in population], [r["dir"] for r in runs])
    except Preempted as preempted:
        print(f"{cell}: {preempted}", flush=True)
        return True
    except Exception as error:  # this population cannot run; the others still can
        for r in runs:
            _record_error(epath.Path(r["dir"]), error)
        return False
    for r, outcome in zip(runs, outcomes, strict=True):
        _record(epath.Path(r["dir"]), outcome, start)
    return False


def _stop_between_runs() -> list[int]:
    """The signals (SIGTERM, Ctrl-C) that arrive between runs -- or at a run's last boundary,
    which the trainer passes on -- so that the loop over runs stops before its next one. (During
    a run the trainer watches its own.)"""
    stop = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda signum, frame: stop.append(signum))
    return stop


def _record(directory: epath.Path, outcome: dict, start: float) -> None:
    """A run that finished or diverged: done.json, which a rerun skips."""
    from gan_jax import workdir as workdirs

    outcome = {**outcome, "seconds": round(time.time() - start, 1)}
    (directory / "error.json").unlink(missing_ok=True)
    workdirs.write_atomically(directory / "done.json", json.dumps(outcome) + "\n")
    print(f"{directory}: {outcome['status']} in {outcome['seconds']}s", flush=True)


def _record_error(directory: epath.Path, error: Exception) -> None:
    """A run that cannot run: error.json says why (the user's error in one line, else the traceback)."""
    from gan_jax import workdir as workdirs
    from gan_jax.errors import UserError

    message = str(error) if isinstance(error, UserError) else traceback.format_exc()
    directory.mkdir(parents=True, exist_ok=True)
    workdirs.write_atomically(directory / "error.json", json.dumps({"message": message}) + "\n")
    print(f"{directory}: error: {message}", flush=True)


def _terminate_with_parent() -> None:
    """Linux: have the kernel send this worker SIGTERM when its sweep process dies, kill -9
    included, so that no worker trains on as an orphan."""
    prctl = getattr(ctypes.CDLL(None), "prctl", None)
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() == 1:  # the parent died before the request
            os.kill(os.getpid(), signal.SIGTERM)


def launch_cpu_workers(spec: str, runs: list[dict], scratch: epath.Path, parallel: int) -> list[int]:
    """Run the workers to the end; return their exit codes. The runs' list, the workers' claims on
    them (claim_run) and each worker's log go in the local directory `scratch`. A signal to this
    process is passed on to every worker as SIGTERM (the workers have their own session, so a
    terminal's Ctrl-C reaches them once, through here)."""
    runs_file, claims = scratch / ".worker_runs.json", scratch / CLAIMS
    runs_file.write_text(json.dumps({"spec": spec, "runs": runs}))
    shutil.rmtree(claims, ignore_errors=True)  # a preempted sweep's claims: its runs resume now
    claims.mkdir()
    env = {**os.environ, "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} {SINGLE_THREAD_FLAGS}".strip()}
    processes, logs = [], []
    for i in range(min(parallel, len(runs))):
        logs.append(open(scratch / f".worker_{i}.log", "a"))  # noqa: SIM115 (closed below)
        command = [
            sys.executable,
            "-m",
            "experiments.sweep",
            f"--worker={runs_file}",
            f"--core={i % os.cpu_count()}",
        ]
        processes.append(
            subprocess.Popen(
                command, env=env, stdout=logs[-1], stderr=subprocess.STDOUT, start_new_session=True
            )
        )

    def forward(signum, frame):
        del frame
        print(
            f"{signal.Signals(signum).name}: stopping the workers at their next step boundary...", flush=True
        )
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        return [process.wait() for process in processes]
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for log in logs:
            log.close()


def main(argv):
    del argv
    if _WORKER.value:
        return run_worker(_WORKER.value, _CORE.value)
    if not _CONFIG.value or not _WORKDIR.value:
        raise app.UsageError("--config and --workdir are required.")
    from gan_jax import sweep
    from gan_jax import workdir as workdirs

    workdir = workdirs.resolve(_WORKDIR.value)
    runs = plan(_CONFIG.value, workdir)
    pending = sweep.to_train(runs, cli.run_configs(_CONFIG.value, runs), _CONFIG.value)
    cells = len({r["cell"] for r in runs})
    print(f"{len(runs)} runs in {cells} cells; {len(runs) - len(pending)} done already.")
    if _LIST.value:
        for r in runs:
            print(f"  {'done' if r not in pending else 'todo'}  {r['dir']}  {r['overrides']}")
        return None
    with workdirs.locked(workdir):  # one sweep at a time here; each run also locks its own directory
        # written even when every run is done (runs copied in, say): experiments.report reads it
        (workdir / "sweep.json").write_text(
            json.dumps(
                {
                    "config": _CONFIG.value,
                    "runs": [{**r, "dir": sweep.recorded_dir(workdir, r["dir"])} for r in runs],
                },
                indent=1,
            )
            + "\n"
        )
        if not pending:
            return None
        start = time.time()
        cli.enable_compilation_cache()
        import jax

        codes = []
        # the workers' run lists and logs: beside the runs, or on this machine for a cloud workdir
        scratch = (
            epath.Path(tempfile.mkdtemp(prefix="gan_jax_sweep_")) if workdirs.is_remote(workdir) else workdir
        )
        population = jax.default_backend() != "cpu" if _POPULATION.value is None else _POPULATION.value
        if not population:  # seed by seed: a sweep stopped early has every cell's first seeds
            by_seed = sorted(pending, key=lambda r: r["seed"])
            codes = launch_cpu_workers(_CONFIG.value, by_seed, scratch, _PARALLEL.value or os.cpu_count())
        else:
            codes = run_populations(_CONFIG.value, pending)
    done = sum((epath.Path(r["dir"]) / "done.json").exists() for r in runs)
    errors = [r["dir"] for r in runs if (epath.Path(r["dir"]) / "error.json").exists()]
    if PREEMPTED in codes:
        print(f"Sweep preempted: {done} of {len(runs)} runs done; run the same command to resume.")
        sys.exit(PREEMPTED)
    if errors:
        sys.exit(f"{len(errors)} runs could not run; each says why in its error.json: {errors[:3]}")
    if any(codes):
        sys.exit(f"Workers exited with {codes}; see {scratch}/.worker_<i>.log.")
    print(f"Sweep done: {len(pending)} runs in {time.time() - start:.0f}s.")
    return None


def cli_main() -> None:
    cli.run(main)


if __name__ == "__main__":
    cli_main()
