"""A run's directory: where it is, that it can be written, and that one run at a time uses it.

Two processes training into one workdir interleave their metrics and race on orbax's temporary
checkpoint directories (one hung, the other crashed, or both wrote every row twice). So a run
holds an exclusive `flock` on <workdir>/.lock for its whole life. The kernel drops the lock when
its process ends -- kill -9 included -- so a dead run never leaves its workdir locked; the file
itself stays and names the last holder, for the message a second run gets. Only process 0 of a
multi-host run locks (the others share its directory).

Every path is an `etils.epath.Path`, so a workdir may be a cloud URI (`gs://bucket/run`): files
then go through fsspec (gcsfs) and checkpoints through orbax's own GCS driver. Object stores
have no `flock`, so a cloud workdir is not locked: one run per cloud workdir is the user's job.
"""

import contextlib
import datetime
import fcntl
import json
import os
import socket
import sys
from collections.abc import Iterator

from etils import epath

from gan_jax.errors import WorkdirError, WriteError

LOCK_FILE = ".lock"
STARTS_FILE = "starts.jsonl"  # one row per start of the run: step, devices, whether bit-identical
# What a run keeps in its workdir (README, "What a run leaves in its workdir"), by kind.
DIRECTORIES = ("checkpoints", "damaged_checkpoints", "tensorboard", "samples", "samples_ema")
FILES = ("config.json", "metrics.jsonl", "eval.jsonl", STARTS_FILE)


def is_remote(path: str | os.PathLike) -> bool:
    """Whether `path` is a URI (gs://, s3://, ...) rather than a local file name."""
    return "://" in os.fspath(path)


def resolve(workdir: str | os.PathLike) -> epath.Path:
    """The workdir as an absolute path, `~` expanded (`--workdir=~/x` reaches no shell); a URI
    (gs://bucket/run) as it is."""
    path = epath.Path(workdir)
    return path if is_remote(path) else path.expanduser().absolute()


def create(workdir: epath.Path) -> None:
    """mkdir -p, with one clear line when the path is a file, lies under a file, or is read-only."""
    try:
        workdir.mkdir(parents=True, exist_ok=True)
    except FileExistsError as error:
        raise WorkdirError(f"--workdir {workdir} is a file, not a directory; choose another path.") from error
    except OSError as error:
        raise WorkdirError(
            f"Cannot create --workdir {workdir}: {error.strerror} ({error.filename}); choose a path "
            "you can write to."
        ) from error


def check_layout(workdir: epath.Path) -> None:
    """Refuse a workdir where one of a run's directories is a file (or a file a directory) before
    anything is read or written: with `checkpoints` a file, a run once started from step 0,
    rewrote its metrics and evaluations -- the history gone -- and then failed at its first save."""
    for names, kind in ((DIRECTORIES, "directory"), (FILES, "file")):
        for name in names:
            path = workdir / name
            if path.exists() and path.is_dir() != (kind == "directory"):
                raise WorkdirError(
                    f"{path} is not a {kind}, but a run keeps its {name} there: move it away, or use "
                    "another --workdir."
                )


def has_checkpoint(workdir: epath.Path) -> bool:
    """Whether a run saved a checkpoint (one that diverged before its first has none)."""
    checkpoints = workdir / "checkpoints"
    return checkpoints.is_dir() and any(checkpoints.iterdir())


def read_json(path: epath.Path) -> dict:
    """A JSON file of a run or sweep (config.json, done.json, eval_<step>.json); a damaged one is
    a WorkdirError naming it, not a traceback."""
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise WorkdirError(
            f"{path} is damaged (not valid JSON: {error}). Restore it from a copy, or move it away "
            "(a run's config.json: start afresh with a new --workdir)."
        ) from error


def write_error(path: str | os.PathLike, error: OSError) -> WriteError:
    """A failed write as one line naming the file and the fix (a full disk said nothing more than
    "No space left on device: None")."""
    reason = error.strerror or str(error)
    return WriteError(
        f"Could not write {path}: {reason}. The files written before it are intact: free some space "
        "(or fix the permissions) and run the same command again (a run resumes from its last checkpoint)."
    )


def write_atomically(path: epath.Path, data: str | bytes) -> None:
    """Replace `path` by `data` in one step: a reader (another process resuming the same run, say)
    sees the old file or the new one, never a truncated one -- nor a zero-byte one when the disk
    fills mid-write (the partial file is removed). A plain write_text once let a multi-host run's
    process 1 read process 0's config.json empty: it died, and the other process waited for it
    until JAX's shutdown barrier aborted both. (An object store's write is atomic already: the
    object appears when it is complete.) Raises WriteError."""
    write = epath.Path.write_bytes if isinstance(data, bytes) else epath.Path.write_text
    try:
        if is_remote(path):
            write(path, data)
            return
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            write(partial, data)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
    except OSError as error:
        raise write_error(path, error) from error


def write_file(path: epath.Path, data: str | bytes) -> None:
    """`path` written whole (write_atomically), its directory made first; either failing is one
    WriteError naming the place."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise write_error(path.parent, error) from error
    write_atomically(path, data)


def append(path: epath.Path, data: bytes) -> None:
    """Append `data` to a local file whole or not at all: a write the disk cannot take (or one that
    Ctrl-C cuts short) is undone, the file cut back to its old length, so no crash short of kill -9
    mid-syscall leaves a torn last row. Raises WriteError."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as error:
        raise write_error(path, error) from error
    try:
        size = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:  # os.write may take part of it and fail on the rest
                view = view[os.write(fd, view) :]
        except BaseException:  # a full disk, or Ctrl-C between two partial writes
            os.ftruncate(fd, size)
            raise
    except OSError as error:
        raise write_error(path, error) from error
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked(workdir: epath.Path) -> Iterator[None]:
    """Create `workdir` and hold its lock until the block ends; a held lock is a WorkdirError.
    A cloud workdir is created, not locked (see the module docstring)."""
    create(workdir)
    if is_remote(workdir):
        yield
        return
    path = workdir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise WorkdirError(
            f"Cannot write in --workdir {workdir}: {error.strerror}; choose a directory you can write to."
        ) from error
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            holder = path.read_text().strip() or "a process that has not written its name yet"
            raise WorkdirError(
                f"Another run is using {workdir} ({holder}). Wait for it to end (or stop it), or use "
                "another --workdir."
            ) from error
        started = datetime.datetime.now().isoformat(timespec="seconds")
        holder = f"pid {os.getpid()} on {socket.gethostname()} since {started}: {' '.join(sys.argv)}"
        os.ftruncate(fd, 0)
        os.pwrite(fd, (holder + "\n").encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
