"""Checkpoints that cannot be trusted are never resumed from: a changed byte is caught by the
fingerprint and the run falls back to the previous checkpoint; a full disk keeps the earlier ones."""

import collections
import pathlib

import chex
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import checkpoint_steps, load_config

from gan_jax import checkpoint, trainer
from gan_jax.errors import CheckpointError


def test_fingerprint_changes_with_any_changed_byte():
    tree = {"w": jnp.linspace(-1.0, 1.0, 64), "step": jnp.int32(7), "key": jnp.array([3, 9], jnp.uint32)}
    assert checkpoint.leaf_names(tree) == ["key", "step", "w"]
    base = np.asarray(checkpoint.fingerprint(tree))
    raw = np.asarray(tree["w"]).view(np.uint8)
    for byte in (0, 1, 2, 3, 101, 255):  # each byte of a float32, here and there in the array
        for bit in (0, 7):
            flipped = raw.copy()
            flipped[byte] ^= 1 << bit
            changed = np.asarray(checkpoint.fingerprint({**tree, "w": jnp.asarray(flipped.view(np.float32))}))
            assert list(changed != base) == [False, False, True], (byte, bit)


def train(workdir, total_steps, devices):
    config = load_config("configs/gan_mlp.py:smoke")
    config.train.total_steps = total_steps
    config.checkpoint.keep = 5
    return trainer.train_and_evaluate(config, str(workdir), devices=devices)


def test_a_checkpoint_changed_on_disk_is_set_aside_and_the_run_resumes_from_the_one_before(
    tmp_path, one_device, capsys
):
    straight = train(tmp_path, 40, one_device)  # checkpoints 20 and 40
    data_files = list((tmp_path / "checkpoints" / "40" / "state").glob("ocdbt.process_0/d/*"))
    largest = max(data_files, key=lambda p: p.stat().st_size)
    original = largest.read_bytes()
    # One bit of the stored (compressed) data, chosen so that the file still decodes: a bit that
    # breaks the decoder is reported before any fingerprint is read (the other outcome, also set
    # aside); which bits decode depends on the file's layout, so the test looks for one.
    for offset in range(len(original) // 2, len(original), 101):
        raw = bytearray(original)
        raw[offset] ^= 0x10
        largest.write_bytes(bytes(raw))
        with pytest.raises(CheckpointError, match="step 40") as caught:
            trainer.restore_run(str(tmp_path), 40, one_device)
        if "fingerprint mismatch" in str(caught.value):
            break
    else:
        pytest.fail("no one-bit change of the largest data file decoded")

    resumed = train(tmp_path, 40, one_device)  # the same command again
    err = capsys.readouterr()
    assert "fingerprint mismatch" in err.err and "falling back to step 20" in err.err
    assert "Resuming at step 20 " in err.out
    assert (tmp_path / checkpoint.DAMAGED_DIR / "40").is_dir()
    assert checkpoint_steps(tmp_path) == [20, 40]  # 40 written afresh
    chex.assert_trees_all_equal(resumed, straight)


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
