"""End to end: outputs of a run, exact resume, divergence handling, config and checkpoint errors."""

import dataclasses
import json
import signal
import subprocess
import sys
import time

import chex
import fake_gcs as fake_gcs_lib
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import JAX_CACHE, REPO, checkpoint_steps, load_config, subprocess_env
from jax.experimental import multihost_utils

from gan_jax import data, experiment, health, trainer
from gan_jax.checkpoint import CheckpointError
from gan_jax.preemption import Preempted


def train(spec, workdir, devices, edit=None):
    config = load_config(spec)
    if edit is not None:
        edit(config)
    return trainer.train_and_evaluate(config, str(workdir), devices=devices)


@pytest.mark.slow
def test_dcgan_run_leaves_every_output(tmp_path, one_device, capsys):
    train("configs/dcgan.py:smoke", tmp_path, one_device)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [4, 8]
    for key in ("d_loss", "g_loss", "V", "d_real", "d_fake", "d_grad_norm", "g_grad_norm", "steps_per_sec"):
        assert np.isfinite(rows[-1][key]), key
    grids = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert grids == ["step_0000008.png"]  # a smoke run draws its samples at the end
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "tensorboard").iterdir())
    assert checkpoint_steps(tmp_path) == [4, 8]
    assert json.loads((tmp_path / "config.json").read_text())["model"]["name"] == "dcgan"
    out = capsys.readouterr()
    assert "Done: 8 steps" in out.out and "steps/s" in out.err and "ETA" in out.err


@pytest.mark.slow
def test_mlp_run_writes_a_scatter_of_samples_and_ema_samples(tmp_path, one_device):
    train("configs/gan_mlp.py:smoke", tmp_path, one_device, lambda c: c.train.update(ema_decay=0.99))
    assert (tmp_path / "samples" / "step_0000040.png").exists()
    assert (tmp_path / "samples_ema" / "step_0000040.png").exists()


@pytest.mark.slow
def test_a_wasserstein_run_logs_the_critics_diagnostics_not_d_of_x(tmp_path, one_device, capsys):
    train("configs/gan_mlp.py:ring,wgan_gp,smoke", tmp_path, one_device)
    row = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"W", "d_real_out", "d_fake_out"} <= set(row) and not {"d_real", "d_fake", "V"} & set(row)
    assert row["W"] == pytest.approx(row["d_real_out"] - row["d_fake_out"], rel=1e-5)
    out = capsys.readouterr()
    assert "Last interval: W " in out.out and "equilibrium" not in out.out and " W " in out.err


def assert_states_identical(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.fixture
def fake_gcs(tmp_path):
    """gs://<bucket>/<path> served from tmp_path/gcs/<bucket>/<path> (tests/fake_gcs.py)."""
    (tmp_path / "gcs").mkdir()
    undo = fake_gcs_lib.install(str(tmp_path / "gcs"))
    yield tmp_path / "gcs"
    undo()


def outputs(workdir) -> dict[str, bytes]:
    """A run's files by relative name, the ones that differ by design left out: checkpoint
    internals, TensorBoard's time-stamped file name, the lock and timing columns."""
    files = {}
    for path in sorted(p for p in workdir.rglob("*") if p.is_file()):
        name = str(path.relative_to(workdir))
        if name.startswith(("checkpoints/", "tensorboard/")) or name == ".lock":
            continue
        files[name] = path.read_bytes()
    rows = [json.loads(line) for line in files.pop("metrics.jsonl").splitlines()]
    files["metrics rows"] = [{k: v for k, v in r.items() if k != "steps_per_sec"} for r in rows]
    return files


@pytest.mark.slow
def test_a_streamed_run_resumed_in_a_cloud_workdir_equals_the_uninterrupted_device_run(
    tmp_path, one_device, fake_gcs
):
    """Two things that must not change a number. Every file of a gs:// workdir goes through epath
    (the checkpoints through orbax's object-store path); and a streamed data set (batches read on
    the host, data/stream.py) gives the step the batches the device-resident one draws. A run
    streaming into gs://, stopped at step 4 and resumed there, ends bit-identical to a local
    device-pipeline run of 8 steps, with the same files (eval JSON, figures, samples, metrics)."""
    edit = lambda c: (c.eval.update(every=4), c.log.update(sample_every=4))  # noqa: E731 (step 4's too)
    straight = train("configs/dcgan.py:smoke", tmp_path / "local", one_device, edit)
    streamed = lambda c: (edit(c), c.data.update(pipeline="stream"))  # noqa: E731
    half = lambda c: (streamed(c), c.train.update(total_steps=4))  # noqa: E731
    train("configs/dcgan.py:smoke", "gs://bucket/run", one_device, half)
    resumed = train("configs/dcgan.py:smoke", "gs://bucket/run", one_device, streamed)
    assert int(resumed.step) == 8
    assert_states_identical(straight, resumed)
    cloud = fake_gcs / "bucket" / "run"
    assert checkpoint_steps(cloud) == [4, 8] and not (cloud / ".lock").exists()  # no flock on a bucket
    local_files, cloud_files = outputs(tmp_path / "local"), outputs(cloud)
    assert local_files.keys() == cloud_files.keys() and "eval_8.json" in cloud_files
    for name in ("metrics rows", "eval.jsonl", "eval_8.json", "samples/step_0000008.png"):
        assert cloud_files[name] == local_files[name], name
    events = b"".join(p.read_bytes() for p in (cloud / "tensorboard").iterdir())
    assert b"d_loss" in events and b"eval/" in events


def test_resume_refuses_a_changed_config(tmp_path, one_device):
    train("configs/gan_mlp.py:smoke", tmp_path, one_device, lambda c: c.train.update(total_steps=20))
    with pytest.raises(ValueError, match=r"\['model.d.width_mult'\] differ"):
        train("configs/gan_mlp.py:smoke", tmp_path, one_device, lambda c: c.model.d.update(width_mult=2.0))


def test_divergence_stops_the_run_and_is_never_checkpointed(tmp_path, one_device, monkeypatch):
    real_load = data.load

    def poisoned_load(cfg, pack=1):
        source = real_load(cfg, pack)

        def sample(arrays, key, draw, batch_size):
            batch = source.sample(arrays, key, draw, batch_size)
            return {**batch, "x": jnp.where(draw >= 5, jnp.nan, batch["x"])}

        return dataclasses.replace(source, sample=sample)

    monkeypatch.setattr(experiment.data, "load", poisoned_load)
    expected = r"diverged at step 6 .*d_loss = nan.*last checkpoint .* is step 4"
    with pytest.raises(trainer.NonFiniteError, match=expected):
        train("configs/dcgan.py:smoke", tmp_path, one_device)
    assert checkpoint_steps(tmp_path) == [4]


def test_an_update_that_makes_the_state_nan_is_never_written(tmp_path, one_device, monkeypatch):
    """The logged metrics of a step are computed before its G update: a G update that produces NaN
    shows in none of them, so only a check of the state itself keeps it out of the checkpoint."""
    real_build = experiment.build_gan
    nan_g = lambda *args: dataclasses.replace(real_build(*args), g_optimizer=optax.sgd(float("nan")))  # noqa: E731
    monkeypatch.setattr(experiment, "build_gan", nan_g)
    head_start = lambda c: c.train.update(d_head_start=3)  # noqa: E731  G's first update: step 4
    with pytest.raises(trainer.NonFiniteError, match=r"by step 4: the state has NaN/Inf in \['g.params"):
        train("configs/dcgan.py:smoke", tmp_path, one_device, head_start)
    assert not (tmp_path / "checkpoints").exists() or checkpoint_steps(tmp_path) == []
    assert not (tmp_path / "samples").exists() and not (tmp_path / "metrics.jsonl").read_text()


def test_a_host_transfer_in_the_hot_path_fails(tmp_path, one_device, monkeypatch):
    """The loop touches the host only at its boundaries: a stray `float(metrics[k][-1])` between two
    train calls is an error, not a silent per-step sync. (On a CPU jax guards the host-to-device
    copy of the index -- CPU arrays already live in host memory; on an accelerator also the read.)"""
    real_add = health.Health.add

    def syncing_add(self, step, metrics):
        return real_add(self, step, {**metrics, "d_loss": float(metrics["d_loss"][-1])})

    monkeypatch.setattr(health.Health, "add", syncing_add)
    with pytest.raises(Exception, match="Disallowed (host-to-device|device-to-host) transfer"):
        train("configs/gan_mlp.py:smoke", tmp_path, one_device)


def test_corrupt_checkpoint_is_a_clear_error(tmp_path, one_device):
    train("configs/gan_mlp.py:smoke", tmp_path, one_device, lambda c: c.train.update(total_steps=20))
    for path in (tmp_path / "checkpoints" / "20").rglob("*"):
        if path.is_file() and "ocdbt" in str(path) and path.stat().st_size > 100:
            path.write_bytes(b"\0" * path.stat().st_size)
    with pytest.raises(CheckpointError, match="(?s)step 20.*DATA_LOSS.*Move that directory away") as error:
        train("configs/gan_mlp.py:smoke", tmp_path, one_device)
    reason = str(error.value).splitlines()[0]  # TensorStore's: which file, what failed; not its spec
    assert "DATA_LOSS" in reason and "TensorStore(" not in str(error.value), str(error.value)


def test_checkpoints_leave_the_preemption_sync_point_to_the_trainer(tmp_path, one_device, monkeypatch):
    """JAX agrees on a multi-process stop from the counters passed to it; orbax passing its step
    numbers there (besides the trainer's chunk count) once moved the stop from step 40 to 210."""
    calls = []
    monkeypatch.setattr(
        multihost_utils, "reached_preemption_sync_point", lambda step: calls.append(step) or False
    )
    train("configs/gan_mlp.py:smoke", tmp_path, one_device)
    assert checkpoint_steps(tmp_path) == [20, 40]
    assert calls == []  # a single process watches its own signals; orbax never asks


def run_command(workdir, *extra):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "experiments.run",
            "--config=configs/gan_mlp.py:smoke",
            f"--workdir={workdir}",
            f"--jax_cache_dir={JAX_CACHE}",
            *extra,
        ],
        cwd=REPO,
        env=subprocess_env(),  # one device, as a user has
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_checkpoint(workdir, process, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if (workdir / "checkpoints" / "20").is_dir():  # finalised (renamed) checkpoint
            return
        assert process.poll() is None, process.stdout.read()
        time.sleep(0.05)
    raise AssertionError("no checkpoint appeared")


@pytest.mark.slow
@pytest.mark.parametrize("when", ["mid-run", "last, a caller's handler", "last, the default handler"])
def test_a_sigterm_stops_a_run_unless_it_came_at_the_last_boundary(
    tmp_path, one_device, sigterm_at, monkeypatch, when
):
    """Mid-run: saved, then Preempted. At the last boundary the run is finished (its final
    evaluation and checkpoint are written) and returns; the signal goes on to a handler a caller
    installed (a loop over runs stops before its next one), not to Python's default one (a plain
    command just ends)."""
    received, raised = [], []
    if when == "last, a caller's handler":
        signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    else:  # the default handler would end pytest: record instead of raising
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        monkeypatch.setattr(signal, "raise_signal", raised.append)

    def short(config):
        config.train.update(total_steps=40, steps_per_call=10)
        config.checkpoint.every, config.eval.every = 20, 40

    sigterm_at(2 if when == "mid-run" else 4)
    if when == "mid-run":
        with pytest.raises(Preempted, match="at step 20"):
            train("configs/gan_mlp.py:ring,smoke", tmp_path, one_device, short)
        assert checkpoint_steps(tmp_path) == [20]
    else:
        state = train("configs/gan_mlp.py:ring,smoke", tmp_path, one_device, short)
        assert int(state.step) == 40 and checkpoint_steps(tmp_path)[-1] == 40
        assert (tmp_path / "eval_40.json").exists()
    assert received == ([signal.SIGTERM] if when == "last, a caller's handler" else []) and raised == []


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_command_resumes_to_the_uninterrupted_result(tmp_path, one_device, sig, capsys):
    """Kill (-9) or Ctrl-C the real command mid-run, re-run it (the trainer in this process, as
    the command calls it), and get the uninterrupted result. (A preemption's SIGTERM:
    tests/test_multiprocess.py, to one process of two.)"""
    # One log row at the end: every stop falls inside a log interval, whose metrics must carry over.
    slow = ["--config.train.total_steps=3000", "--config.checkpoint.every=20", "--config.log.every=3000"]
    workdir = tmp_path / "killed"
    process = run_command(workdir, *slow)
    wait_for_checkpoint(workdir, process)
    process.send_signal(sig)
    output = process.communicate(timeout=60)[0]
    assert process.returncode != 0
    if sig == signal.SIGINT:  # one line, not a KeyboardInterrupt traceback
        assert process.returncode == 130 and "Traceback" not in output, output
        assert output.strip().splitlines()[-1].startswith("Interrupted: saved step")
    saved = checkpoint_steps(workdir)[-1]
    assert 20 <= saved < 3000
    resume_to = saved + 20

    def to_resume_to(config):  # the command's flags, to 20 steps past the saved one
        config.train.total_steps, config.checkpoint.every, config.log.every = resume_to, 20, 3000

    capsys.readouterr()
    resumed = train("configs/gan_mlp.py:smoke", workdir, one_device, to_resume_to)  # the re-run
    assert f"Resuming at step {saved}" in capsys.readouterr().out
    straight = train("configs/gan_mlp.py:smoke", tmp_path / "straight", one_device, to_resume_to)
    chex.assert_trees_all_close(resumed.g.params, straight.g.params, rtol=0, atol=0)
    chex.assert_trees_all_close(resumed.d.params, straight.d.params, rtol=0, atol=0)
    # The logged rows too: a stop between two log steps carries its part of the interval over.
    assert logged(workdir) == logged(tmp_path / "straight")


def logged(workdir):
    """metrics.jsonl without its wall-clock column."""
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k != "steps_per_sec"} for row in rows]
