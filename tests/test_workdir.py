"""One run per workdir: a second one is refused, naming the holder; a dead holder (kill -9) frees it;
unusable workdirs are one clear error."""

import errno
import json
import pathlib
import subprocess
import sys
import tempfile
import threading

import pytest
from helpers import REPO, load_config

from gan_jax import trainer
from gan_jax import workdir as workdirs
from gan_jax.errors import WorkdirError

HOLD = (
    "import sys, time; from gan_jax import workdir as w; lock = w.locked(w.resolve(sys.argv[1])); "
    "lock.__enter__(); print('held', flush=True); time.sleep(600)"
)


def test_a_second_run_is_refused_before_it_writes_anything(tmp_path, one_device):
    config = load_config("configs/gan_mlp.py:smoke")
    with workdirs.locked(tmp_path):
        with pytest.raises(WorkdirError, match=r"Another run is using .* \(pid \d+ on .* since .*\)"):
            trainer.train_and_evaluate(config, str(tmp_path), devices=one_device)
    assert sorted(p.name for p in tmp_path.iterdir()) == [workdirs.LOCK_FILE]


def test_the_lock_dies_with_its_holder(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(WorkdirError, match=f"pid {holder.pid} "), workdirs.locked(tmp_path):
            pass
    finally:
        holder.kill()  # SIGKILL: no chance to clean up
        holder.wait()
    with workdirs.locked(tmp_path):  # free again, though the lock file stays
        pass


def test_unusable_workdirs_are_one_clear_error(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    with (
        pytest.raises(WorkdirError, match="file is a file, not a directory"),
        workdirs.locked(tmp_path / "file"),
    ):
        pass
    with pytest.raises(WorkdirError, match="Cannot create --workdir .*file/run: Not a directory"):
        with workdirs.locked(tmp_path / "file" / "run"):
            pass

    def read_only(*args):
        raise PermissionError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(workdirs.os, "open", read_only)
    with pytest.raises(WorkdirError, match="Cannot write in --workdir .*: Read-only file system"):
        with workdirs.locked(tmp_path / "ro"):
            pass


def rewrite_while_reading(write) -> list[str]:
    """What a reader saw while `write` replaced a JSON file 300 times: the reading errors."""
    path = pathlib.Path(tempfile.mkdtemp()) / "config.json"
    text = json.dumps({"values": list(range(20_000))})
    write(path, text)
    seen, done = [], threading.Event()

    def read():
        while not done.is_set():
            try:
                json.loads(path.read_text())
            except ValueError as error:
                seen.append(str(error))

    reader = threading.Thread(target=read)
    reader.start()
    for _ in range(300):
        write(path, text)
    done.set()
    reader.join()
    return seen


def test_config_json_is_replaced_in_one_step_for_processes_reading_it():
    """A resuming multi-host run: process 1 reads config.json while process 0 rewrites it; a plain
    write_text let it read an empty file (it died, and both processes aborted at JAX's shutdown
    barrier 240 s later). With `path.write_text` in place of write_atomically this test fails:
    the reader sees an empty file (3 runs of 3 here)."""
    assert rewrite_while_reading(workdirs.write_atomically) == []
