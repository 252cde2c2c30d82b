"""Sweeps: the combinators, planning (names, bad keys), running, resuming, and the report."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import JAX_CACHE, REPO, checkpoint_steps

from experiments import cli
from experiments import report as report_cli
from gan_jax import config as config_lib
from gan_jax import records, sweep
from gan_jax.errors import UserError
from gan_jax.metrics import mixtures


def test_combinators():
    a = sweep.sweep("loss.g", ["saturating", "non_saturating"])
    b = sweep.sweep("seed", [0, 1, 2])
    assert len(sweep.product(a, b)) == 6 and sweep.product(a, b)[1] == {"loss.g": "saturating", "seed": 1}
    assert sweep.zip_(a, sweep.sweep("seed", [5, 6])) == [
        {"loss.g": "saturating", "seed": 5},
        {"loss.g": "non_saturating", "seed": 6},
    ]
    with pytest.raises(ValueError, match="one length"):
        sweep.zip_(a, b)
    assert sweep.chain(a, b)[2] == {"seed": 0}
    assert sweep.cell_name({"model.d.width_mult": 2.0, "seed": 3}) == "model.d.width_mult=2.0"
    assert sweep.cell_name({"_name": "wide D", "seed": 3}) == "wide D"
    assert sweep.overrides_of({"_name": "x", "seed": 1}) == {"seed": 1}


def test_apply_overrides_names_unknown_keys():
    from helpers import load_config

    config = config_lib.apply_overrides(
        load_config("configs/gan_mlp.py:smoke"), {"model.d.width_mult": 2.0, "seed": 4}
    )
    assert config.model.d.width_mult == 2.0 and config.seed == 4
    with pytest.raises(ValueError, match="model.d has no field 'multiplier'"):
        config_lib.apply_overrides(config, {"model.d.multiplier": 2.0})


def run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", *args, f"--jax_cache_dir={JAX_CACHE}"]
        if args[0] == "experiments.sweep"
        else [sys.executable, "-m", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env=None if env is None else {**os.environ, **env},
    )


@pytest.mark.slow
def test_sweep_on_cloud_storage_runs_every_cell_resumes_and_reports(tmp_path):
    """A 4-cell x 2-seed smoke sweep on 2 workers, a rerun that skips everything, and the report,
    all in a gs:// workdir (tests/fake_gcs.py serves it from tmp_path/gcs in every process; the
    other sweep tests run in local directories)."""
    bucket = tmp_path / "gcs" / "bucket"
    bucket.mkdir(parents=True)
    gcs = {"PYTHONPATH": str(REPO / "tests" / "fake_gcs_site"), "FAKE_GCS_ROOT": str(tmp_path / "gcs")}
    workdir = bucket / "sweep"  # gs://bucket/sweep, as the processes see it
    first = run(
        "experiments.sweep",
        "--config=configs/mode_collapse.py:ring,smoke,seeds=2",
        "--workdir=gs://bucket/sweep",
        "--parallel=2",
        env=gcs,
    )
    assert first.returncode == 0, first.stderr[-3000:]
    assert "8 runs in 4 cells; 0 done already." in first.stdout
    done = sorted(workdir.glob("*/seed_*/done.json"))
    assert len(done) == 8 and all(json.loads(p.read_text())["status"] == "finished" for p in done)
    assert (workdir / "non_saturating, k=3" / "seed_1" / "eval_40.json").exists()
    assert checkpoint_steps(workdir / "non_saturating, k=3" / "seed_1") == [20, 40]
    assert not list(workdir.glob(".worker_*"))  # the workers' lists and logs stay on the machine
    (workdir / "sweep.json").unlink()  # as if the runs had been copied here: the rerun writes it
    second = run(
        "experiments.sweep",
        "--config=configs/mode_collapse.py:ring,smoke,seeds=2",
        "--workdir=gs://bucket/sweep",
        env=gcs,
    )
    assert "8 done already" in second.stdout and "Sweep done" not in second.stdout
    recorded = json.loads((workdir / "sweep.json").read_text())["runs"]
    assert [r["dir"] for r in recorded[:2]] == ["saturating, k=1/seed_0", "saturating, k=1/seed_1"]

    report = run("experiments.report", "--workdir=gs://bucket/sweep", "--out=gs://bucket/report", env=gcs)
    assert report.returncode == 0, report.stderr[-3000:]
    table = (bucket / "report" / "report.md").read_text()
    assert (
        re.search(r"\| saturating, k=1 \| 2 \(exploratory\) \| \d+/2 \| \d", table)
        and "modes captured" in table
    )
    header, found = records.read(bucket / "report" / records.FILE)  # what the report was made from
    assert header["config"] == "configs/mode_collapse.py:ring,smoke,seeds=2" and len(found) == 8
    assert len(header["mode_centres"]) == 8 and len(found[0]["samples"]) == records.SAMPLES
    assert "Failed: collapsed: diverged, or fewer than half of the modes captured" in table
    rows = (bucket / "report" / "report.csv").read_text().splitlines()
    assert rows[0].startswith("setting,seeds,failed,modes/modes_captured mean")
    assert [row.split(",")[0] for row in rows[5:]] == ["reference: data", "reference: memoriser"]
    assert len(rows) == 7 and rows[5].split(",")[3] == "8.0"  # the true ring: every mode captured
    for figure in ("metrics.png", "trajectories.png", "samples.png"):
        assert (bucket / "report" / figure).stat().st_size > 0


@pytest.mark.slow
def test_sweep_rejects_a_bad_override_before_running(tmp_path):
    bad = tmp_path / "bad_sweep.py"
    bad.write_text(
        "from configs import gan_mlp\n"
        "def get_config(arg=''):\n    return gan_mlp.get_config('ring,smoke')\n"
        "def get_sweep(arg=''):\n    return [{'model.width': 3, 'seed': 0}]\n"
    )
    result = run("experiments.sweep", f"--config={bad}", f"--workdir={tmp_path / 'w'}")
    assert result.returncode != 0 and "model has no field 'width'" in result.stderr
    assert not (tmp_path / "w").exists()
    bad = sweep_file(tmp_path / "bad_value.py", a={"train.d_steps": 0})  # a key that exists, a bad value
    result = run("experiments.sweep", f"--config={bad}", f"--workdir={tmp_path / 'w'}")
    assert result.returncode == 1 and not (tmp_path / "w").exists()
    assert result.stderr.strip().splitlines() == [
        f"Error: Sweep entry {{'_name': 'a', 'train.d_steps': 0}} of {bad}: config.train.d_steps and "
        "g_steps must be >= 1."
    ]


@pytest.mark.parametrize(
    "spec",
    [
        "configs/mode_collapse.py:ring",
        "configs/mode_collapse.py:grid",
        "configs/imbalance.py:grid",
        "configs/imbalance.py:digits",
        "configs/equilibrium.py:gaussian1d",
        "configs/equilibrium.py:ring",
        "configs/improved_gan.py:grid",
        "configs/improved_gan.py:digits",
        "configs/semi_supervised.py",
        "configs/pacgan.py:grid,cpu",
        "configs/pacgan.py:grid,cpu,packs_ablation",
        "configs/unrolled.py:ring,cpu",
        "configs/cgan.py",
    ],
)
def test_every_shipped_sweep_plans_valid_runs(spec, tmp_path):
    """Each run's overrides exist and give a valid config; names make distinct directories."""
    from experiments import sweep as sweep_cli

    module, arg = sweep_cli.cli.load_config_module(spec)
    runs = sweep_cli.plan(spec, tmp_path)
    assert len({r["cell"] for r in runs}) * len({r["seed"] for r in runs}) == len(runs)
    for run in runs:
        config_lib.validate(config_lib.apply_overrides(module.get_config(arg), run["overrides"]))


def test_workers_take_the_next_unclaimed_run_so_none_idles_while_runs_wait(tmp_path):
    """Two workers share one list of 5 runs: the one whose first run is long leaves the rest to
    the other, which takes them in order; no run is taken twice (a rerun's workers start from a
    fresh claims directory: the preempted-sweep test below resumes through it)."""
    from experiments import sweep as sweep_cli

    claims = tmp_path / sweep_cli.CLAIMS
    claims.mkdir()
    slow = sweep_cli.claim_run(claims, 5, 0)
    fast = [sweep_cli.claim_run(claims, 5, 0)]
    while (index := sweep_cli.claim_run(claims, 5, fast[-1] + 1)) is not None:
        fast.append(index)
    assert slow == 0 and fast == [1, 2, 3, 4]
    assert sweep_cli.claim_run(claims, 5, slow + 1) is None and sweep_cli.claim_run(claims, 5, 0) is None
    assert sorted(int(p.name) for p in claims.iterdir()) == [0, 1, 2, 3, 4]


SWEEP_OF_TWO = """
from configs import gan_mlp
def get_config(arg=""):
    config = gan_mlp.get_config("ring,smoke")
    config.train.total_steps = {total_steps}
    return config
def get_sweep(arg=""):
    return [{{"_name": "a", **{a}}}, {{"_name": "b"}}]
"""


def sweep_file(path, total_steps=40, a=None):
    path.write_text(SWEEP_OF_TWO.format(total_steps=total_steps, a=a or {}))
    return path


@pytest.mark.slow
def test_a_preempted_sweep_stops_its_workers_and_its_rerun_resumes_them(tmp_path):
    """SIGTERM to the sweep reaches its worker, which saves run a mid-way and exits; a is not
    recorded as done, nothing is left running, and the rerun resumes a from its checkpoint."""
    config, workdir = sweep_file(tmp_path / "two.py", total_steps=3000), tmp_path / "sweep"
    command = [sys.executable, "-m", "experiments.sweep", f"--config={config}", f"--workdir={workdir}"]
    sweep_process = subprocess.Popen(
        [*command, "--parallel=1", f"--jax_cache_dir={JAX_CACHE}"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while not (workdir / "a" / "seed_0" / "checkpoints" / "20").is_dir():
        assert time.time() < deadline and sweep_process.poll() is None
        time.sleep(0.05)
    sweep_process.send_signal(signal.SIGTERM)
    output = sweep_process.communicate(timeout=120)[0]
    assert sweep_process.returncode == 75 and "Sweep preempted: 0 of 2 runs done" in output, output
    assert not (workdir / "a" / "seed_0" / "done.json").exists()
    saved = checkpoint_steps(workdir / "a" / "seed_0")[-1]
    assert 20 <= saved < 3000
    left = subprocess.run(["pgrep", "-f", str(workdir / ".worker")], capture_output=True, text=True)
    assert left.stdout == "", "a worker outlived its sweep"

    sweep_file(config, total_steps=saved + 20)  # total_steps may change on resume: keep the test short
    rerun = run("experiments.sweep", f"--config={config}", f"--workdir={workdir}", "--parallel=1")
    assert rerun.returncode == 0 and "0 done already" in rerun.stdout, rerun.stderr[-2000:]
    assert f"Resuming at step {saved} " in (workdir / ".worker_0.log").read_text()
    for cell in ("a", "b"):
        assert json.loads((workdir / cell / "seed_0" / "done.json").read_text())["status"] == "finished"


@pytest.mark.slow
def test_a_sweep_as_populations_leaves_what_lone_runs_leave(tmp_path):
    """--population (the accelerator path, forced here on the CPU): a cell's two seeds as one
    vmapped population write the same evaluations and metric rows as each run alone."""
    from gan_jax import trainer

    config = tmp_path / "seeds.py"
    config.write_text(
        SWEEP_OF_TWO.format(total_steps=40, a={}).split("def get_sweep")[0]
        + 'def get_sweep(arg=""):\n    return [{"_name": "a", "seed": 0}, {"_name": "a", "seed": 1}]\n'
    )
    result = run("experiments.sweep", f"--config={config}", f"--workdir={tmp_path / 'sweep'}", "--population")
    assert result.returncode == 0 and "Sweep done: 2 runs" in result.stdout, result.stderr[-2000:]

    def rows(directory):  # the logged metrics, less the timing
        lines = (directory / "metrics.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if k != "steps_per_sec"} for line in lines]

    for seed in (0, 1):
        alone = tmp_path / f"alone_{seed}"
        trainer.train_and_evaluate(
            config_lib.apply_overrides(cli.load_config(str(config)), {"seed": seed}), alone
        )
        member = tmp_path / "sweep" / "a" / f"seed_{seed}"
        assert (member / "eval_40.json").read_text() == (alone / "eval_40.json").read_text()
        # The same parameters (the evaluations are equal to the byte); a logged batch mean may
        # differ in its last bit, the vmapped program summing in another order (seen: d_real,
        # 0.35645973682 against 0.35645970702, AMD EPYC).
        assert [list(r) for r in rows(member)] == [list(r) for r in rows(alone)] and len(rows(alone)) == 2
        for got, want in zip(rows(member), rows(alone), strict=True):
            np.testing.assert_allclose(list(got.values()), list(want.values()), rtol=1e-6, atol=0)
    assert rows(tmp_path / "alone_0") != rows(tmp_path / "alone_1")


def test_seeds_that_differ_in_more_than_their_seeds_train_as_separate_populations(tmp_path, monkeypatch):
    """Seeds that differ in `seed` and `data.seed` (configs/pacgan.py's training set per seed)
    train as one population; a cell whose seeds differ in anything else trains each group of
    equal ones as its own population rather than failing."""
    from experiments import sweep as sweep_command
    from gan_jax import trainer

    config = tmp_path / "seeds.py"
    seeds = [
        (0, {"data.seed": 0}),
        (1, {"data.seed": 1}),
        (2, {"optim.g.lr": 1e-3}),
        (3, {"optim.g.lr": 2e-3}),
    ]
    config.write_text(
        SWEEP_OF_TWO.format(total_steps=40, a={}).split("def get_sweep")[0]
        + f'def get_sweep(arg=""):\n    return [{{"_name": "a", "seed": s, **o}} for s, o in {seeds!r}]\n'
    )
    populations = []

    def train_population(configs, workdirs):  # trains nothing: makes the run directories
        populations.append([c.seed for c in configs])
        for workdir in workdirs:
            os.makedirs(workdir)
        return [{"status": "finished"}] * len(configs)

    monkeypatch.setattr(trainer, "train_population", train_population)
    runs = sweep_command.plan(str(config), tmp_path / "sweep")
    assert sweep_command.run_populations(str(config), runs) == []
    assert populations == [[0, 1], [2], [3]]
    assert all((tmp_path / "sweep" / "a" / f"seed_{s}" / "done.json").exists() for s in range(4))


@pytest.mark.slow
def test_the_device_sweep_script_brings_back_the_report_and_its_records(tmp_path):
    """device/sweep.sh, the lent accelerator's one command for a sweep, run here on the CPU (the
    packages already installed, so no wheels): populations, then the report and per-run records
    in $OUT/<name>/, which regenerate the report."""
    config, out = sweep_file(tmp_path / "two.py"), tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "WORKDIR": str(tmp_path / "sweep"), "PYTHON": sys.executable}
    done = subprocess.run(
        ["bash", "device/sweep.sh", str(config), "two"], cwd=REPO, env=env, capture_output=True, text=True
    )
    log = (out / "two.log").read_text()
    assert done.returncode == 0 and "Sweep done: 2 runs" in log, log[-2000:]
    assert {"report.md", "runs.jsonl.gz"} <= {p.name for p in (out / "two").iterdir()}
    report_cli.make(records_file=str(out / "two" / "runs.jsonl.gz"), out=str(tmp_path / "again"))
    assert (tmp_path / "again" / "report.md").read_text() == (out / "two" / "report.md").read_text()


def test_the_device_scripts_find_the_carried_offline_data_where_the_configs_read_it(tmp_path):
    """On the lent machine only the checkout travels: the offline data sets go along as .shared/data
    and device/env.sh links them to ../shared/data (here: a copy of the checkout in tmp_path)."""
    checkout = tmp_path / "repo"
    (checkout / "device").mkdir(parents=True)
    shutil.copy(REPO / "device" / "env.sh", checkout / "device")
    (checkout / ".shared" / "data" / "fashion_mnist").mkdir(parents=True)
    env = {**os.environ, "OUT": str(tmp_path / "out"), "PYTHON": "true"}  # "packages present"
    done = subprocess.run(["bash", "-c", "source device/env.sh"], cwd=checkout, env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "shared" / "data" / "fashion_mnist").is_dir()
    assert (tmp_path / "shared" / "data").resolve() == checkout / ".shared" / "data"


@pytest.mark.slow
def test_a_sigterm_at_a_cells_last_boundary_records_it_done_and_stops_the_sweep(tmp_path, sigterm_at):
    """The accelerator path (populations) with a SIGTERM that arrives as cell a's last call ends:
    a is finished and recorded done; b does not start; the sweep says it was preempted."""
    from experiments import sweep as sweep_command

    spec = str(sweep_file(tmp_path / "two.py", total_steps=40))
    train = cli.load_config(spec).train
    sigterm_at(train.total_steps // train.steps_per_call)
    runs = sweep_command.plan(spec, tmp_path / "sweep")
    assert sweep_command.run_populations(spec, runs) == [sweep_command.PREEMPTED]
    assert json.loads((tmp_path / "sweep" / "a" / "seed_0" / "done.json").read_text())["status"] == "finished"
    assert not (tmp_path / "sweep" / "b").exists()


@pytest.mark.slow
def test_a_run_that_cannot_run_is_recorded_and_the_others_go_on(tmp_path):
    config = sweep_file(tmp_path / "two.py", a={"data.name": "idx:/nonexistent"})  # valid, but no data
    result = run("experiments.sweep", f"--config={config}", f"--workdir={tmp_path / 'w'}", "--parallel=1")
    assert result.returncode == 1 and "1 runs could not run" in result.stderr
    error = json.loads((tmp_path / "w" / "a" / "seed_0" / "error.json").read_text())["message"]
    assert error.startswith("No IDX file train-images-idx3-ubyte")
    assert not (tmp_path / "w" / "a" / "seed_0" / "done.json").exists()
    assert json.loads((tmp_path / "w" / "b" / "seed_0" / "done.json").read_text())["status"] == "finished"


KNOWN_VALUES = {"base": [1.0, 2.0, 3.0], "x": [4.0, 5.0, 6.0], "y": [None, 2.0, 3.0]}  # y: undefined once


def fabricate_sweep(tmp_path, name: str, seeds: dict | None = None) -> None:
    """A sweep `tmp_path/name` of known final values (KNOWN_VALUES' cells, or those of `seeds`, a
    cell's seeds) of one config and its report spec, mine/known.py and studies/known.py."""
    config, study = tmp_path / "mine" / "known.py", tmp_path / "studies" / "known.py"
    for directory in (config.parent, study.parent):
        directory.mkdir(exist_ok=True)
    config.write_text(
        "from configs import gan_mlp\ndef get_config(arg=''):\n    return gan_mlp.get_config('ring,smoke')\n"
    )
    study.write_text(  # the config's report spec, in studies/ beside the config's directory
        'REPORT = {"baseline": "base", "columns": [("m/value", "m"), ("modes/modes_captured", "modes")],\n'
        '          "published": lambda arg: {"x": ("4.5 +- 0.2", "6")},\n'
        '          "comparisons": [("x", "y"), ("base", "x")]}\n'
    )
    runs = []
    for cell, cell_seeds in (seeds or {c: range(len(v)) for c, v in KNOWN_VALUES.items()}).items():
        for seed, value in ((s, KNOWN_VALUES[cell][s]) for s in cell_seeds):
            directory = tmp_path / name / cell / f"seed_{seed}"
            directory.mkdir(parents=True)
            (directory / "done.json").write_text('{"status": "finished"}')
            hq = 0.0 if cell == "x" else 0.4  # of the 2,500 samples: none, or 10
            modes = {"modes_captured": 5, "num_modes": 8, "high_quality_percent": hq, "reverse_kl": 0.5}
            if cell == "y":  # as logged by a run that drew 10,000 samples (eval.mode_min_high_quality)
                modes["high_quality_count"] = 40
            metrics = {"m": {"value": value}, "modes": modes}
            (directory / "eval_1.json").write_text(json.dumps({"step": 1, "metrics": metrics}))
            runs.append({"dir": f"{cell}/seed_{seed}", "cell": cell, "seed": seed, "overrides": {}})
    (tmp_path / name / "sweep.json").write_text(json.dumps({"config": str(config), "runs": runs}))


def test_report_cells_cite_their_n_and_their_difference_to_the_baseline(tmp_path, no_figures):
    """A fabricated sweep of known final values through experiments.report."""
    fabricate_sweep(tmp_path, "sweep")
    report_cli.make(workdir=str(tmp_path / "sweep"), out=str(tmp_path / "out"))
    text = (tmp_path / "out" / "report.md").read_text()
    # x: (5 - 2) / sqrt(1/3 + 1/3) = 3.67 with df (2/3)^2 / (2 (1/3)^2 / 2) = 4: p = 0.021; y: (2.5 - 2)
    # / sqrt(1/4 + 1/3) = 0.65, df 2.9, over n = 2 seeds; x against y, the pair REPORT names: 2.5 /
    # sqrt(1/3 + 1/4) = 3.27, df 2.9; x against its published 4.5 +- 0.2 (no trial count: that s.e.
    # taken as exact): 0.5 / sqrt(1/3 + 0.04) = 0.82, df 2.5. Holm over the table's seven tests
    # (three failure counts, four differences; base against x, named too, is x against base, tested
    # once): 0.021 x 7 = 0.15, not significant. Three seeds a
    # cell: exploratory. The reference rows: the true ring's samples and a memoriser of them hit
    # all 8 modes.
    table = text.split("## Comparisons")[0]
    assert [line for line in table.splitlines() if line.startswith("| ")][1:] == [
        "| base | 3 (exploratory) | 0/3 | 2.000 +- 0.577 | 5.000 +- 0.000 | 3 converged |",
        "| x | 3 (exploratory) | 0/3 | 5.000 +- 0.577 [+3.7 s.e., p 0.021] | 5.000 +- 0.000 | 3 converged |",
        "| published: x |  |  | 4.5 +- 0.2 [not distinguishable] | 6 [no test: no spread] |  |",
        "| y | 3 (exploratory) | 0/3 | 2.500 +- 0.500 (n=2) [+0.7 s.e., p 0.56] | 5.000 +- 0.000 "
        "| 3 converged |",
        "| reference: data | - | - | - | 8.000 | - |",
        "| reference: memoriser | - | - | - | 8.000 | - |",
    ]
    comparisons = text.split("## Comparisons")[1]
    assert (
        "- `x` vs `base`, m: +3 (95% CI 0.733 to 5.27), t = 3.67, df = 4.0, p = 0.021, Holm p = 0.15: "
        "not distinguishable" in comparisons
    )
    assert (
        "- `x` vs published (4.5), m: +0.5 (95% CI -1.68 to 2.68), t = 0.818, df = 2.5, p = 0.48"
        in comparisons
    )
    assert (
        "- `y` vs `base`, failed runs: 0/3 vs 0/3, Fisher p = 1, Holm p = 1: not distinguishable"
        in comparisons
    )
    # Beside the mode metrics, their high-quality count and a uniform generator's score at it: 8 (1 -
    # (7/8)^10) = 5.895 modes with 10 samples; with none, 0 modes and the imputed log 8.
    uniform = text.split("## High-quality samples and a uniform generator")[1].split("##")[0]
    kl = mixtures.uniform_reverse_kl(8, 10)
    assert f"| base | 10 (10-10) | 0/3 | 5 | 5.9 | 0.5 | {kl:.3g} |" in uniform
    assert "| x | 0 (0-0) | 3/3 | 5 | 0 | 0.5 | 2.08 |" in uniform
    y_modes, y_kl = mixtures.uniform_modes_captured(8, 40), mixtures.uniform_reverse_kl(8, 40)
    assert f"| y | 40 (40-40) | 0/3 | 5 | {y_modes:.3g} | 0.5 | {y_kl:.3g} |" in uniform  # the logged count
    diagnoses = (tmp_path / "out" / "diagnoses.csv").read_text().splitlines()
    evidence = "d_real_last_quarter,d_fake_last_quarter,g_grad_share_last_quarter,modes_at_end"
    assert diagnoses[0] == f"setting,seed,diagnosis,reason,{evidence}" and len(diagnoses) == 10
    assert diagnoses[1] == "base,0,converged,no failure rule holds,nan,nan,nan,nan"  # nothing logged
    assert (
        "- modes: the memoriser scores 8 (one evaluation), as well as or better than the best cell "
        "(5 +- 0; s.e. 0)" in text
    )


@pytest.mark.parametrize(
    "earlier, later, named",
    [  # a new cell beside earlier ones; cells split by seed
        ({"base": range(3), "x": range(3)}, {"y": range(3)}, "the cells `base`, `x`"),
        (
            {"base": range(3), "x": range(2), "y": range(2)},
            {"x": [2], "y": [2]},
            "the cells `base`, `x` (seeds 0-1), `y` (seeds 0-1)",
        ),
    ],
    ids=["by cell", "by seed"],
)
def test_a_report_joined_to_an_earlier_ones_runs_is_the_report_of_one_sweep_of_them_all(
    tmp_path, no_figures, earlier, later, named
):
    """The runs of one sweep and of another -- whole cells, or a cell's first seeds and then the
    rest -- joined by experiments.report --join: the same table, comparisons and diagnoses as one
    sweep of them all, the first line naming both sweeps; its records regenerate it; a run in two
    sweeps, the joined report's included, is refused before anything is written."""
    fabricate_sweep(tmp_path, "all")
    fabricate_sweep(tmp_path, "first", earlier)
    fabricate_sweep(tmp_path, "second", later)
    first = tmp_path / "first" / "report" / "runs.jsonl.gz"
    for name, join in (("all", ()), ("first", ()), ("second", [str(first)])):
        report_cli.make(workdir=str(tmp_path / name), join=join)
    one, joined = (tmp_path / d / "report" for d in ("all", "second"))
    (one_first, one_rest), (joined_first, joined_rest) = (
        (d / "report.md").read_text().split("\n", 1) for d in (one, joined)
    )
    assert joined_rest == one_rest and one_first.startswith(f"Sweep `{tmp_path / 'mine' / 'known.py'}`; each")
    assert joined_first.startswith(
        f"Sweep `{tmp_path / 'mine' / 'known.py'}`, after {named} of sweep "
        f"`{tmp_path / 'mine' / 'known.py'}` (joined by experiments.report --join); each cell:"
    )
    for name in ("report.csv", "diagnoses.csv"):
        assert (joined / name).read_bytes() == (one / name).read_bytes()
    joined_records = joined / "runs.jsonl.gz"
    report_cli.make(records_file=str(joined_records), out=str(tmp_path / "again"))
    assert (tmp_path / "again" / "report.md").read_bytes() == (joined / "report.md").read_bytes()
    for join in (first, joined_records):  # each holds runs of "all"
        with pytest.raises(
            UserError, match=re.escape("--join: base seed 0, base seed 1, base seed 2 ... in two")
        ):
            report_cli.make(workdir=str(tmp_path / "all"), join=[str(join)], out=str(tmp_path / "refused"))
        assert not (tmp_path / "refused").exists()


def test_a_report_of_some_cells_is_the_report_of_a_sweep_of_those_cells_alone(tmp_path, no_figures):
    """experiments.report --cells, from the runs or from a report's records: the same table,
    comparisons (Holm's family among them) and diagnoses as a sweep of only those cells, the first
    line naming the cells left out; a cell the report lacks, or --records without an --out of its
    own, or joining a selection, is refused before anything is written."""
    fabricate_sweep(tmp_path, "all")
    fabricate_sweep(tmp_path, "some", {"base": range(3), "x": range(3)})
    report_cli.make(workdir=str(tmp_path / "some"))
    report_cli.make(workdir=str(tmp_path / "all"), cells=["x", "base"], out=str(tmp_path / "runs"))
    report_cli.make(records_file=str(tmp_path / "runs" / "runs.jsonl.gz"), out=str(tmp_path / "again"))
    all_records = tmp_path / "all" / "report" / "runs.jsonl.gz"
    report_cli.make(workdir=str(tmp_path / "all"))
    report_cli.make(records_file=str(all_records), cells=["base", "x"], out=str(tmp_path / "records"))
    one = tmp_path / "some" / "report"
    one_first, one_rest = (one / "report.md").read_text().split("; each cell", 1)
    assert one_first == f"Sweep `{tmp_path / 'mine' / 'known.py'}`" and "Holm p" in one_rest
    left_out = (
        "; the cells `y` of these sweeps are left out, with their comparisons (experiments.report --cells)"
    )
    for selected in ("runs", "again", "records"):
        assert (tmp_path / selected / "report.md").read_text().split("; each cell", 1) == [
            one_first + left_out,
            one_rest,
        ]
        for name in ("report.csv", "diagnoses.csv"):
            assert (tmp_path / selected / name).read_bytes() == (one / name).read_bytes()
    kept = all_records.read_bytes()
    with pytest.raises(
        UserError, match=re.escape("--cells: 'z' is not a cell of this report; its cells: base, x, y.")
    ):
        report_cli.make(workdir=str(tmp_path / "all"), cells=["base", "z"], out=str(tmp_path / "refused"))
    with pytest.raises(UserError, match=re.escape("--cells with --records writes a new report: give --out")):
        report_cli.make(records_file=str(all_records), cells=["base", "x"])
    with pytest.raises(UserError, match=re.escape("is a selection of cells (--cells): join the report it")):
        report_cli.make(
            workdir=str(tmp_path / "some"),
            join=[str(tmp_path / "runs" / "runs.jsonl.gz")],
            out=str(tmp_path / "refused"),
        )
    assert not (tmp_path / "refused").exists() and all_records.read_bytes() == kept


def test_the_uniform_table_says_when_a_sweep_drew_until_enough_were_high_quality():
    from gan_jax import report

    final = {"modes/num_modes": 25, "modes/modes_captured": 20, "modes/reverse_kl": 0.3}
    final.update({"modes/high_quality_percent": 2.0, "modes/high_quality_count": 400})  # of 20,000
    found = [{"cell": "GAN", "status": "finished", "final": final}]
    fixed, drawn = (report.uniform_table(found, ["GAN"], 2_500, k) for k in (0, 20))
    assert "high-quality samples among the 2,500 drawn; with few" in fixed[2]
    assert (
        "among the 2,500 drawn (doubled until 20 a mode on average were high quality, up to a cap);"
        in drawn[2]
    )
    assert any(line.startswith("| GAN | 400 (400-400) | 0/1 | 20 |") for line in drawn)


def test_trajectory_panels_of_a_quantity_a_cell_did_not_log_say_so(tmp_path, monkeypatch):
    """A minimax cell logs D(x) and V, a hinge cell D's mean outputs: each row's panel of the other
    cell is blank with a note, and each row's legend sits on a panel that has curves."""
    from gan_jax import plots

    minimax = [{"step": s, "d_real": 0.6, "d_fake": 0.4, "V": -1.2} for s in (10, 20)]
    hinge = [{"step": s, "d_real_out": 0.7, "d_fake_out": -0.7} for s in (10, 20)]
    records = [
        {"cell": "GAN", "metrics": minimax, "eval": []},
        {"cell": "hinge", "metrics": hinge, "eval": []},
    ]
    figures = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path, dpi: figures.append(fig))
    plots.save_trajectories(records, ["GAN", "hinge"], tmp_path / "trajectories.png")
    axes = [[figures[0].axes[2 * row + col] for col in (0, 1)] for row in range(3)]  # D(x), V, outputs

    def blank(ax):
        return not ax.axison and [t.get_text() for t in ax.texts] == ["not logged\nby this cell"]

    assert [[blank(ax) for ax in row] for row in axes] == [[False, True], [False, True], [True, False]]
    assert [[ax.get_legend() is not None for ax in row] for row in axes] == [
        [True, False],
        [True, False],
        [False, True],
    ]


def test_a_sweep_refuses_finished_runs_of_another_config_and_extends_longer_ones(tmp_path):
    """A sweep rerun in a directory of another sweep's runs once mixed them into one table (40-step
    runs averaged with 4,000-step ones, no warning). Finished runs are compared with what their
    cell asks for: more steps resume them; any other change of result is refused, naming the keys;
    an unfinished run may take what a resume may (a longer schedule, more logging)."""
    from experiments import sweep as sweep_command

    spec = str(sweep_file(tmp_path / "two.py", total_steps=40))
    runs = sweep_command.plan(spec, tmp_path / "sweep")
    for run_, config in zip(runs, cli.run_configs(spec, runs), strict=True):  # as the trainer leaves them
        directory = tmp_path / "sweep" / run_["cell"] / "seed_0"
        directory.mkdir(parents=True)
        (directory / "config.json").write_text(config.to_json_best_effort())
        (directory / "done.json").write_text('{"status": "finished"}')

    def pending(spec):  # as experiments.sweep plans a sweep
        planned = sweep_command.plan(spec, tmp_path / "sweep")
        return [r["cell"] for r in sweep.to_train(planned, cli.run_configs(spec, planned), spec)]

    assert pending(spec) == []
    assert pending(str(sweep_file(tmp_path / "longer.py", total_steps=80))) == ["a", "b"]
    wider = str(sweep_file(tmp_path / "wider.py", total_steps=40, a={"model.d.width_mult": 2.0}))
    with pytest.raises(UserError, match=r"1 run\(s\) such as .*/a/seed_0 differ in \['model.d.width_mult'\]"):
        pending(wider)
    (tmp_path / "sweep" / "b" / "seed_0" / "done.json").unlink()  # b unfinished: a resume may log more
    logs_more = tmp_path / "logs_more.py"
    logs_more.write_text(
        SWEEP_OF_TWO.format(total_steps=40, a={}).replace(
            "return config", "config.log.every = 10\n    return config"
        )
    )
    with pytest.raises(UserError, match=r"1 run\(s\) such as .*/a/seed_0 differ in \['log.every'\]"):
        pending(str(logs_more))  # a is finished: its logged rows would differ from the table's


def test_a_cell_name_that_leaves_the_sweep_is_refused(tmp_path):
    from experiments import sweep as sweep_command

    config = tmp_path / "up.py"
    config.write_text(SWEEP_OF_TWO.format(total_steps=40, a={}).replace('"_name": "b"', '"_name": ".."'))
    with pytest.raises(
        UserError, match=r"Sweep cell name '\.\.' of .* is not a directory name inside the sweep"
    ):
        sweep_command.plan(str(config), tmp_path / "sweep")
