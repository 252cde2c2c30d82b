"""Checkpoints that cannot be trusted are never resumed from: a changed byte is caught by the
fingerprint and the run falls back to the previous checkpoint; a full disk keeps the earlier ones."""

import asyncio
import collections
import errno
import json
import logging
import pathlib

import chex
import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import checkpoint_steps, load_config
from orbax.checkpoint._src import asyncio_utils

from gan_jax import checkpoint, parallel, state, trainer
from gan_jax.errors import CheckpointError
from gan_jax.preemption import Preempted
from gan_jax.writers import read_jsonl


def test_fingerprint_changes_with_any_changed_byte():
    tree = {"w": jnp.linspace(-1.0, 1.0, 64), "step": jnp.int32(7), "key": jnp.array([3, 9], jnp.uint32)}
    assert state.leaf_names(tree) == ["key", "step", "w"]
    base = np.asarray(checkpoint.fingerprint(tree))
    raw = np.asarray(tree["w"]).view(np.uint8)
    for byte in (0, 1, 2, 3, 101, 255):  # each byte of a float32, here and there in the array
        for bit in (0, 7):
            flipped = raw.copy()
            flipped[byte] ^= 1 << bit
            changed = np.asarray(checkpoint.fingerprint({**tree, "w": jnp.asarray(flipped.view(np.float32))}))
            assert list(changed != base) == [False, False, True], (byte, bit)


def test_a_failed_orbax_call_lets_its_other_reads_finish_before_the_error_goes_on():
    """Orbax gathers its reads; when one failed, the others were left pending on a closed loop, to
    fail again at any later time (garbage collection, TensorStore's threads) with ~60 lines on
    stderr. The read left behind now finishes before the error reaches the caller."""
    seen = []

    async def read_left_behind():
        await asyncio.sleep(0.01)
        seen.append("finished")

    async def damaged_read():
        raise ValueError("DATA_LOSS")

    async def restore():
        return await asyncio.gather(read_left_behind(), damaged_read())

    with pytest.raises(ValueError, match="DATA_LOSS"):
        asyncio_utils.run_sync(restore())
    assert seen == ["finished"]


def test_the_array_handler_is_registered_without_orbaxs_warning(caplog):
    """orbax warns of every override it is asked for: every script that imported gan_jax began
    with "WARNING:absl:Type handler registry type ... overriding jax.Array"."""
    with caplog.at_level(logging.WARNING):
        checkpoint._write_arrays_whole()
    assert caplog.records == []


@flax.struct.dataclass
class Replicated:
    step: jax.Array
    params: dict


def test_a_save_on_eight_devices_compiles_nothing_and_restores_bit_identically(tmp_path):
    """Orbax's default cuts each replicated array into one slice per replica on the device to
    write it, compiling a slice program per shape and replica at a run's first save;
    gan_jax.checkpoint has replica 0 write each array whole."""
    mesh = parallel.make_mesh(jax.devices())
    assert mesh.size == 8
    params = {"w": jnp.arange(64 * 3, dtype=jnp.float32).reshape(64, 3), "b": jnp.linspace(0, 1, 16)}
    tree = parallel.put_replicated(Replicated(step=jnp.int32(3), params=params), mesh)
    jax.block_until_ready(checkpoint.fingerprint(tree))  # the save's own program, compiled here
    compiles = []

    def count(event, duration, **kwargs):
        if event.endswith("backend_compile_duration"):
            compiles.append(duration)

    jax.monitoring.register_event_duration_secs_listener(count)
    try:
        with checkpoint.Checkpoints(tmp_path / "checkpoints", keep=1) as ckpts:
            ckpts.save(tree)
    finally:
        jax.monitoring.unregister_event_duration_listener(count)
    assert compiles == []
    with checkpoint.Checkpoints(tmp_path / "checkpoints", keep=1) as ckpts:
        restored, _ = ckpts.restore(3, tree)
    chex.assert_trees_all_equal(restored, tree)
    assert all(x.sharding == parallel.replicated(mesh) for x in jax.tree.leaves(restored))


def train(workdir, total_steps, devices):
    config = load_config("configs/gan_mlp.py:smoke")
    config.train.total_steps = total_steps
    config.checkpoint.keep = 5
    return trainer.train_and_evaluate(config, str(workdir), devices=devices)


@pytest.mark.slow
def test_a_checkpoint_changed_on_disk_is_set_aside_and_the_run_resumes_from_the_one_before(
    tmp_path, one_device, capsys
):
    straight = train(tmp_path, 40, one_device)  # checkpoints 20 and 40
    data_files = list((tmp_path / "checkpoints" / "40" / "state").glob("ocdbt.process_0/d/*"))
    largest = max(data_files, key=lambda p: p.stat().st_size)
    original = largest.read_bytes()
    # One bit of the stored (compressed) data, chosen so that the file still decodes to other
    # values: a bit that breaks the decoder is reported before any fingerprint is read (the other
    # outcome, also set aside), and a bit in bytes no array is read from (in one such file, 40% of
    # the bits tried: nearly all of its last 1.7 kB) restores the saved state unchanged, checked
    # here. Which bits do what depends on the file's layout, so the test looks for one.
    for offset in range(0, len(original), 101):
        raw = bytearray(original)
        raw[offset] ^= 0x10
        largest.write_bytes(bytes(raw))
        try:
            *_, restored = trainer.restore_run(str(tmp_path), 40, one_device)
        except CheckpointError as error:
            assert "step 40" in str(error) and "TensorStore(" not in str(error)  # its reason, not its spec
            if "fingerprint mismatch" in str(error):
                break
        else:
            chex.assert_trees_all_equal(restored, straight)
    else:
        pytest.fail("no one-bit change of the largest data file decoded to other values")

    resumed = train(tmp_path, 40, one_device)  # the same command again
    err = capsys.readouterr()
    assert "fingerprint mismatch" in err.err and "falling back to step 20" in err.err
    assert "Resuming at step 20 " in err.out
    assert (tmp_path / checkpoint.DAMAGED_DIR / "40").is_dir()
    assert checkpoint_steps(tmp_path) == [20, 40]  # 40 written afresh
    chex.assert_trees_all_equal(resumed, straight)


@pytest.mark.slow
def test_a_full_disk_keeps_the_earlier_checkpoints(tmp_path, one_device, monkeypatch):
    train(tmp_path, 20, one_device)
    full = collections.namedtuple("usage", "total used free")(10**9, 10**9 - 4096, 4096)
    monkeypatch.setattr(checkpoint.shutil, "disk_usage", lambda path: full)
    with pytest.raises(
        CheckpointError, match=r"(?s)step 40 .*MiB free.*earlier checkpoints there are intact"
    ):
        train(tmp_path, 60, one_device)
    assert checkpoint_steps(tmp_path) == [20]
    assert not list(pathlib.Path(tmp_path, "checkpoints").glob("*tmp*"))


def edit_meta(workdir, step, edit):
    """Change checkpoint `step`'s JSON item (the metrics it carries, its fingerprints) in place."""
    path = pathlib.Path(workdir, "checkpoints", str(step), "meta", "metadata")
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))


@pytest.mark.slow
def test_the_metrics_a_checkpoint_carries_are_checked_too(tmp_path, one_device, capsys, sigterm_at):
    """The log interval a checkpoint carries was not fingerprinted: an edited V was resumed and
    logged (-1.627 for -1.327). Now the run falls back to the checkpoint before."""
    config = load_config("configs/gan_mlp.py:smoke")
    config.checkpoint.every = 10
    trainer.train_and_evaluate(config, str(tmp_path / "straight"), devices=one_device)
    sigterm_at(3)  # stopped at step 30: its checkpoint carries the metrics of steps 21-30
    with pytest.raises(Preempted, match="at step 30"):
        trainer.train_and_evaluate(config, str(tmp_path / "run"), devices=one_device)

    def edit_v(meta):
        meta["log_interval"]["V"][0] -= 0.3
        return meta

    edit_meta(tmp_path / "run", 30, edit_v)
    trainer.train_and_evaluate(config, str(tmp_path / "run"), devices=one_device)
    assert "digest mismatch" in capsys.readouterr().err
    logged = [
        [
            {k: v for k, v in row.items() if k != "steps_per_sec"}
            for row in read_jsonl(tmp_path / name / "metrics.jsonl")
        ]
        for name in ("run", "straight")
    ]
    assert logged[0] == logged[1]


@pytest.mark.slow
def test_a_step_damaged_again_falls_back_again(tmp_path, one_device, capsys):
    """damaged_checkpoints/40 existing made the second fallback of step 40 a FileExistsError: the
    run could not resume without surgery."""
    straight = train(tmp_path / "straight", 40, one_device)

    def flip_a_fingerprint(meta):
        meta["fingerprint"][0] ^= 1
        return meta

    train(tmp_path / "run", 40, one_device)
    for _ in range(2):
        edit_meta(tmp_path / "run", 40, flip_a_fingerprint)
        resumed = train(tmp_path / "run", 40, one_device)
        assert "falling back to step 20" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "run" / checkpoint.DAMAGED_DIR).iterdir()) == ["40", "40.1"]
    chex.assert_trees_all_equal(resumed, straight)


def test_a_write_that_fails_after_the_save_returned_is_one_clear_error(tmp_path, monkeypatch):
    """orbax writes in the background and raises a failed write again when it closes: that second
    raise replaced ours and the command printed "Error: No space left on device", no file named."""
    ckpts = checkpoint.Checkpoints(tmp_path / "checkpoints", keep=1)

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpts._manager, "wait_until_finished", full)
    monkeypatch.setattr(ckpts._manager, "close", full)
    with pytest.raises(
        CheckpointError, match=r"Could not write the checkpoint in .*checkpoints: no space left"
    ):
        ckpts.close()
