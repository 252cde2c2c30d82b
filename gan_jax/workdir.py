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
import os
import socket
import sys
from collections.abc import Iterator

from etils import epath

from gan_jax.errors import WorkdirError

LOCK_FILE = ".lock"


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


def write_atomically(path: epath.Path, text: str) -> None:
    """Replace `path` by `text` in one step: a reader (another process resuming the same run, say)
    sees the old file or the new one, never a truncated one. A plain write_text once let a
    multi-host run's process 1 read process 0's config.json empty: it died, and the other
    process waited for it until JAX's shutdown barrier aborted both. (An object store's write is
    atomic already: the object appears when it is complete.)"""
    if is_remote(path):
        path.write_text(text)
        return
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text)
    partial.replace(path)


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
