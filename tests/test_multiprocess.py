"""Several processes on 127.0.0.1 (jax.distributed + gloo), each with fake CPU devices, running the
real command: SIGTERM (preemption) to one saves everywhere, the rerun continues exactly, and the
result equals one process with the same global batch; only process 0 writes; bad launches fail
clearly and fast.

The one-process reference is the same command launched as a 1-process distributed job, so both
sides reduce across devices with the same (gloo) collectives and the comparison is exact. XLA's
in-process collectives sum the devices' partial results in another order: a run without
jax.distributed differs from these in the last bits, which the game amplifies (~1e-5 after 8 DCGAN
steps, measured); XLA:CPU's thread count made no difference (measured)."""

import json
import signal
import socket
import subprocess
import sys
import time

import chex
import jax
import pytest
from helpers import JAX_CACHE, REPO, checkpoint_steps, subprocess_env

from gan_jax import trainer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(
    workdir, num_processes, devices_each, *extra, port=None, ids=None, config="configs/dcgan.py:smoke"
):
    """Start the processes `ids` of a run; `devices_each`: fake CPU devices per process (or a list)."""
    port = port or free_port()
    ids = range(num_processes) if ids is None else ids
    counts = devices_each if isinstance(devices_each, list) else [devices_each] * len(ids)
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "experiments.run",
                f"--config={config}",
                f"--workdir={workdir}",
                f"--coordinator_address=127.0.0.1:{port}",
                f"--num_processes={num_processes}",
                f"--process_id={i}",
                f"--jax_cache_dir={JAX_CACHE}",
                "--distributed_timeout=240",  # generous: a loaded 2-core machine starts slowly
                *extra,
            ],
            cwd=REPO,
            env=subprocess_env(count),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i, count in zip(ids, counts, strict=True)
    ]


def finish(processes, timeout=600):
    outputs = [p.communicate(timeout=timeout)[0] for p in processes]
    return [p.returncode for p in processes], outputs


def shown(outputs) -> str:
    """Every process's output for a failure message: its first and last lines (the cause and the
    end), without Python's list of extension modules after an abort."""

    def ends(out: str) -> str:
        lines = [line for line in out.splitlines() if not line.startswith("Extension modules:")]
        return "\n".join(lines if len(lines) <= 80 else [*lines[:40], "...", *lines[-40:]])

    return "\n".join(f"--- process {i} ---\n{ends(out)}" for i, out in enumerate(outputs))


def final_state(workdir):
    _, _, _, state = trainer.restore_run(str(workdir), devices=jax.devices()[:1])
    return state


def assert_same_params(a, b):
    for net in ("g", "d"):
        chex.assert_trees_all_equal(getattr(a, net).params, getattr(b, net).params)


@pytest.mark.slow
def test_two_streaming_processes_preempted_and_resumed_equal_one_process(tmp_path):
    """2 processes x 2 devices, each streaming its rows of every batch from the host
    (data.pipeline=stream), get SIGTERM on one process only: both stop at the step they agree on,
    save it and exit 0. Re-run to 20 steps further (an evaluation at the end), they equal 1 process
    x 4 devices with the data set on the device, at the saved step and at the end, bit for bit;
    only process 0 wrote (each logged step once, one TensorBoard file per leg, the progress lines,
    the evaluation). More processes test nothing more here and are slow on 2 cores (gloo's
    4-process collectives ran the smoke DCGAN at 0.7 steps/s)."""
    workdir = tmp_path / "preempted"
    stream, quiet = (
        "--config.data.pipeline=stream",
        ["--config.eval.every=0", "--config.log.sample_every=3000"],
    )
    processes = launch(workdir, 2, 2, "--config.train.total_steps=3000", stream, *quiet)
    deadline = time.time() + 180
    while not (workdir / "checkpoints" / "8").is_dir():
        assert time.time() < deadline and all(p.poll() is None for p in processes)
        time.sleep(0.05)
    processes[1].send_signal(signal.SIGTERM)  # the notice reaches one host; both must stop
    codes, outputs = finish(processes)
    assert codes == [0, 0], shown(outputs)
    saved = checkpoint_steps(workdir)[-1]
    # A few calls after the notice. When orbax's step numbers also reached JAX's sync counter, the
    # hosts agreed on a stop ~steps_per_call times too late.
    assert 8 < saved <= 100 and f"Preempted (SIGTERM) at step {saved}" in outputs[0], (saved, shown(outputs))

    straight_dir, resume_to = tmp_path / "straight", saved + 20
    to_end = f"--config.train.total_steps={resume_to}"
    at_saved_too = [f"--config.checkpoint.every={saved}", "--config.checkpoint.keep=3"]  # keeps `saved`
    codes, outputs = finish(launch(straight_dir, 1, 4, to_end, *at_saved_too, *quiet))
    assert codes == [0], shown(outputs)
    at_saved = [trainer.restore_run(str(run), saved, jax.devices()[:1])[3] for run in (workdir, straight_dir)]
    assert_same_params(*at_saved)  # the save is right; what follows checks the resume

    evaluate_at_the_end = "--config.eval.every=1000"
    codes, outputs = finish(launch(workdir, 2, 2, to_end, evaluate_at_the_end, stream, quiet[1]))
    assert codes == [0, 0] and f"Resuming at step {saved} " in outputs[0], shown(outputs)
    assert_same_params(final_state(workdir), final_state(straight_dir))
    logged = [(d / "metrics.jsonl").read_text().splitlines() for d in (workdir, straight_dir)]
    steps = [[json.loads(line)["step"] for line in lines] for lines in logged]
    assert steps[0] == steps[1] and steps[0][-1] == resume_to
    assert (
        len(list((workdir / "tensorboard").iterdir())) == 2 and (workdir / f"eval_{resume_to}.json").exists()
    )
    assert f"step {resume_to}/{resume_to}" in outputs[0] and f"step {resume_to}/" not in outputs[1]


@pytest.mark.slow
def test_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        codes, outputs = finish(launch(tmp_path, 2, 1, port=port, ids=[0]), timeout=60)
    assert codes == [1] and "holds the port" in outputs[0]


@pytest.mark.slow
def test_missing_process_times_out_with_a_message(tmp_path):
    start = time.time()
    codes, outputs = finish(launch(tmp_path, 2, 1, "--distributed_timeout=2", ids=[0]), timeout=120)
    # JAX's coordination client aborts (SIGABRT) once the deadline passes; we announced the wait.
    assert codes[0] != 0 and "Waiting up to 2s for 2 processes" in outputs[0]
    assert "DEADLINE_EXCEEDED" in outputs[0] and time.time() - start < 60


@pytest.mark.slow
def test_batch_that_does_not_divide_the_global_devices(tmp_path):
    codes, outputs = finish(launch(tmp_path, 2, 2, "--config.train.batch_size=30"))
    assert codes[0] != 0 and "does not divide across 4 devices" in outputs[0]


@pytest.mark.slow
def test_processes_with_different_device_counts_are_refused(tmp_path):
    codes, outputs = finish(launch(tmp_path, 2, [1, 2]))
    assert codes == [1, 1] and "different device counts [1, 2]" in outputs[0]
