r"""Run every cell x seed of a config's sweep: one sub-workdir per run, resumable.

    python -m experiments.sweep --config=configs/mode_collapse.py:ring --workdir=runs/mode_collapse/ring
    python -m experiments.report --workdir=runs/mode_collapse/ring

The config's get_sweep(arg) lists override dicts (gan_jax/sweep.py); run i trains get_config(arg)
with its overrides in <workdir>/<cell>/seed_<seed> and leaves `done.json` there when it ends
(finished, or diverged -- a diverged run is a result too). A run with `done.json` is skipped; an
interrupted one resumes from its checkpoint. On a CPU, --parallel single-threaded worker processes
(default: one per core) each run their share of the runs, one after another (measured here: two
single-core processes do ~2x the steps/s of one process on both cores for the small MLPs). On an
accelerator, each cell's seeds train together as one population under jax.vmap (gan_jax/population.py).
"""

import json
import os
import pathlib
import subprocess
import sys
import time

from absl import app, flags, logging

from experiments import cli

_CONFIG = flags.DEFINE_string("config", None, "Config file with get_sweep (path[:arg]).")
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for the runs.")
_PARALLEL = flags.DEFINE_integer("parallel", None, "Worker processes on a CPU (default: one per core).")
_LIST = flags.DEFINE_bool("list", False, "Only list the runs and their state.")
_WORKER = flags.DEFINE_string("worker", None, "(internal) JSON file of runs for one worker process.")
_CORE = flags.DEFINE_integer("core", None, "(internal) CPU core to pin a worker to.")
SINGLE_THREAD_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def plan(spec: str, workdir: pathlib.Path) -> list[dict]:
    """Every run of the sweep: {'dir', 'cell', 'seed', 'overrides'}; overrides checked up front."""
    from gan_jax import sweep

    module, arg = cli.load_config_module(spec)
    if not hasattr(module, "get_sweep"):
        raise SystemExit(f"{spec} defines no get_sweep(arg); nothing to sweep.")
    runs = []
    for entry in module.get_sweep(arg):
        overrides = sweep.overrides_of(entry)
        sweep.apply_overrides(module.get_config(arg), overrides)  # fails early on a bad key
        cell, seed = sweep.cell_name(entry), overrides.get("seed", 0)
        if "/" in cell:
            raise SystemExit(f"Sweep cell name {cell!r} contains '/'; rename it (it becomes a directory).")
        runs.append(
            {"dir": str(workdir / cell / f"seed_{seed}"), "cell": cell, "seed": seed, "overrides": overrides}
        )
    dirs = [r["dir"] for r in runs]
    if len(set(dirs)) != len(dirs):
        raise SystemExit("Two sweep entries map to the same directory: give them distinct '_name's or seeds.")
    return runs


def run_worker(runs_file: str, core: int | None) -> None:
    """Train the runs of one worker, in order; record each one's outcome in its done.json."""
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    cli.enable_compilation_cache()
    from gan_jax import sweep, trainer

    spec_and_runs = json.loads(pathlib.Path(runs_file).read_text())
    for run in spec_and_runs["runs"]:
        config = sweep.apply_overrides(cli.load_config(spec_and_runs["spec"]), run["overrides"])
        start, outcome = time.time(), {"status": "finished"}
        try:
            trainer.train_and_evaluate(config, run["dir"])
        except trainer.NonFiniteError as error:
            outcome = {"status": "diverged", "message": str(error)}
        outcome["seconds"] = round(time.time() - start, 1)
        (pathlib.Path(run["dir"]) / "done.json").write_text(json.dumps(outcome) + "\n")
        print(f"{run['dir']}: {outcome['status']} in {outcome['seconds']}s", flush=True)


def launch_cpu_workers(spec: str, runs: list[dict], workdir: pathlib.Path, parallel: int) -> None:
    shares = [runs[i::parallel] for i in range(parallel)]
    env = {**os.environ, "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} {SINGLE_THREAD_FLAGS}".strip()}
    processes = []
    for i, share in enumerate(s for s in shares if s):
        runs_file = workdir / f".worker_{i}.json"
        runs_file.write_text(json.dumps({"spec": spec, "runs": share}))
        log = open(workdir / f".worker_{i}.log", "a")  # noqa: SIM115 (closed when the worker ends)
        command = [
            sys.executable,
            "-m",
            "experiments.sweep",
            f"--worker={runs_file}",
            f"--core={i % os.cpu_count()}",
        ]
        processes.append((subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT), log))
    failed = []
    for i, (process, log) in enumerate(processes):
        if process.wait():
            failed.append(i)
        log.close()
    if failed:
        raise SystemExit(f"Workers {failed} failed; see {workdir}/.worker_<i>.log.")


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    if _WORKER.value:
        return run_worker(_WORKER.value, _CORE.value)
    if not _CONFIG.value or not _WORKDIR.value:
        raise app.UsageError("--config and --workdir are required.")
    workdir = pathlib.Path(_WORKDIR.value)
    runs = plan(_CONFIG.value, workdir)
    pending = [r for r in runs if not (pathlib.Path(r["dir"]) / "done.json").exists()]
    cells = len({r["cell"] for r in runs})
    print(f"{len(runs)} runs in {cells} cells; {len(runs) - len(pending)} done already.")
    if _LIST.value:
        for r in runs:
            print(f"  {'done' if r not in pending else 'todo'}  {r['dir']}  {r['overrides']}")
        return None
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "sweep.json").write_text(json.dumps({"config": _CONFIG.value, "runs": runs}, indent=1) + "\n")
    if not pending:
        return None
    start = time.time()
    cli.enable_compilation_cache()
    import jax

    if jax.default_backend() == "cpu":  # seed by seed: a sweep stopped early has every cell's first seeds
        by_seed = sorted(pending, key=lambda r: r["seed"])
        launch_cpu_workers(_CONFIG.value, by_seed, workdir, _PARALLEL.value or os.cpu_count())
    else:
        from gan_jax import population, sweep

        for cell in dict.fromkeys(r["cell"] for r in pending):
            members = [r for r in pending if r["cell"] == cell]
            configs = [sweep.apply_overrides(cli.load_config(_CONFIG.value), r["overrides"]) for r in members]
            population.train_population(configs, [r["dir"] for r in members])
    print(f"Sweep done: {len(pending)} runs in {time.time() - start:.0f}s.")
    return None


if __name__ == "__main__":
    app.run(main)
