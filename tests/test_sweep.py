"""Sweeps: the combinators, planning (names, bad keys), running, resuming, and the report."""

import json
import re
import subprocess
import sys

import pytest
from conftest import JAX_CACHE, REPO

from gan_jax import sweep


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
    assert sweep.cell_name({"model.d_mult": 2.0, "seed": 3}) == "model.d_mult=2.0"
    assert sweep.cell_name({"_name": "wide D", "seed": 3}) == "wide D"
    assert sweep.overrides_of({"_name": "x", "seed": 1}) == {"seed": 1}


def test_apply_overrides_names_unknown_keys():
    from conftest import load_config

    config = sweep.apply_overrides(load_config("configs/gan_mlp.py:smoke"), {"model.d_mult": 2.0, "seed": 4})
    assert config.model.d_mult == 2.0 and config.seed == 4
    with pytest.raises(ValueError, match="model has no field 'd_multiplier'"):
        sweep.apply_overrides(config, {"model.d_multiplier": 2.0})


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", *args, f"--jax_cache_dir={JAX_CACHE}"]
        if args[0] == "experiments.sweep"
        else [sys.executable, "-m", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_sweep_runs_every_cell_resumes_and_reports(tmp_path):
    """A 4-cell x 10-seed smoke sweep on 2 workers, a rerun that skips everything, and the report."""
    workdir = tmp_path / "sweep"
    first = run(
        "experiments.sweep",
        "--config=configs/mode_collapse.py:ring,smoke",
        f"--workdir={workdir}",
        "--parallel=2",
    )
    assert first.returncode == 0, first.stderr[-3000:]
    assert "40 runs in 4 cells; 0 done already." in first.stdout
    done = sorted(workdir.glob("*/seed_*/done.json"))
    assert len(done) == 40 and all(json.loads(p.read_text())["status"] == "finished" for p in done)
    assert (workdir / "non_saturating, k=3" / "seed_9" / "eval_40.json").exists()
    second = run("experiments.sweep", "--config=configs/mode_collapse.py:ring,smoke", f"--workdir={workdir}")
    assert "40 done already" in second.stdout and "Sweep done" not in second.stdout

    report = run("experiments.report", f"--workdir={workdir}", f"--out={tmp_path / 'report'}")
    assert report.returncode == 0, report.stderr[-3000:]
    table = (tmp_path / "report" / "report.md").read_text()
    assert re.search(r"\| saturating, k=1 \| 10 \| \d+/10 \| \d", table) and "modes captured" in table
    assert "Failed: collapsed: diverged, or fewer than half of the modes captured" in table
    rows = (tmp_path / "report" / "report.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].startswith("setting,seeds,failed,modes/modes_captured mean")
    for figure in ("metrics.png", "trajectories.png", "samples.png"):
        assert (tmp_path / "report" / figure).stat().st_size > 0


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
    ],
)
def test_every_shipped_sweep_plans_valid_runs(spec, tmp_path):
    """Each run's overrides exist and give a valid config; names make distinct directories."""
    from experiments import sweep as sweep_cli
    from gan_jax import config as config_lib

    module, arg = sweep_cli.cli.load_config_module(spec)
    runs = sweep_cli.plan(spec, tmp_path)
    assert len({r["cell"] for r in runs}) * len({r["seed"] for r in runs}) == len(runs)
    for run in runs:
        config_lib.validate(sweep.apply_overrides(module.get_config(arg), run["overrides"]))
