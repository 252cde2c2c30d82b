"""A run's directory: where it is, that it can be written, and that one run at a time uses it.

Two processes training into one workdir interleave their metrics and race on orbax's temporary
checkpoint directories (one hung, the other crashed, or both wrote every row twice). So a run
holds an exclusive `flock` on <workdir>/.lock for its whole life. The kernel drops the lock when
its process ends -- kill -9 included -- so a dead run never leaves its workdir locked; the file
itself stays and names the last holder, for the message a second run gets. Only process 0 of a
multi-host run locks (the others share its directory).
"""

import contextlib
import datetime
import fcntl
import os
import pathlib
import socket
import sys
from collections.abc import Iterator

from gan_jax.errors import WorkdirError

LOCK_FILE = ".lock"


def resolve(workdir: str | os.PathLike) -> pathlib.Path:
    """The workdir as an absolute path, `~` expanded (`--workdir=~/x` reaches no shell)."""
    return pathlib.Path(workdir).expanduser().absolute()


def create(workdir: pathlib.Path) -> None:
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


def write_atomically(path: pathlib.Path, text: str) -> None:
    """Replace `path` by `text` in one step: a reader (another process resuming the same run, say)
    sees the old file or the new one, never a truncated one. A plain write_text once let a
    multi-host run's process 1 read process 0's config.json empty: it died, and the other
    process waited for it until JAX's shutdown barrier aborted both."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text)
    os.replace(partial, path)


@contextlib.contextmanager
def locked(workdir: pathlib.Path) -> Iterator[None]:
    """Create `workdir` and hold its lock until the block ends; a held lock is a WorkdirError."""
    create(workdir)
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
