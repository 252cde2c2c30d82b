"""What a run logs in its workdir: metrics (JSONL, TensorBoard) and console progress.

Only process 0 of a multi-host run writes (`enabled=False` elsewhere). On resume the JSONL is cut
back to the restored step and TensorBoard is told to purge later events, so both show one
consistent history even when the previous process died between two checkpoints.

Every file is written through `etils.epath`, so a workdir on cloud storage (gs://) takes the same
code: JSONL is appended where the store can append and rewritten whole where it cannot, and
TensorBoard's event files go through epath too. A write the disk cannot take leaves no torn row
behind and stops the run with one line naming the file (gan_jax.errors.WriteError).
"""

import io
import json
import math
import sys

import numpy as np
from etils import epath

from gan_jax import workdir as workdirs
from gan_jax.clock import format_duration

PROGRESS_KEYS = ("d_loss", "g_loss", "d_real", "d_fake", "W", "d_real_out", "d_fake_out")


def read_jsonl(path: epath.Path) -> list[dict]:
    """The rows of a JSONL file. A line that is not a whole JSON object -- a row cut short by a
    crash or a full disk before this project's writes became whole-or-nothing, or damaged later --
    is dropped with a warning naming it: one torn line must not make a run unresumable or a sweep
    unreportable."""
    rows, torn = [], []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        if isinstance(row, dict):
            rows.append(row)
        else:
            torn.append(number)
    if torn:
        print(
            f"Warning: {path}: dropped line(s) {torn}, not whole rows (a write cut short).", file=sys.stderr
        )
    return rows


class JsonlLog:
    """An append-only JSONL file of {"step": ..., ...} rows, cut back to `start_step` on resume.
    Each row is appended whole or not at all (workdir.append); an object store cannot append:
    there each row rewrites the file (rows are few and short)."""

    def __init__(self, path: epath.Path, start_step: int):
        self.path = path
        rows = read_jsonl(path) if path.exists() else []
        self.rows = [r for r in rows if r.get("step", math.inf) <= start_step]
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write_all()

    def _write_all(self) -> None:
        workdirs.write_atomically(self.path, "".join(json.dumps(r) + "\n" for r in self.rows))

    def append(self, row: dict) -> None:
        if workdirs.is_remote(self.path):
            self.rows.append(row)
            self._write_all()
        else:
            append_row(self.path, row)
            self.rows.append(row)


def append_row(path: epath.Path, row: dict) -> None:
    """One row at the end of a JSONL file, whole or not at all (on cloud storage: the file
    rewritten with it)."""
    line = json.dumps(row) + "\n"
    if workdirs.is_remote(path):
        workdirs.write_atomically(path, (path.read_text() if path.exists() else "") + line)
    else:
        workdirs.append(path, line.encode())


class _EventFile:
    """One TensorBoard event file, written by tensorboardX's background thread through this
    object. A failed write (a full disk) is kept in `error`, not raised in that thread -- where it
    printed tracebacks at every later flush and again at exit -- and the MetricWriter reports it
    as one line. Locally each flush appends what came since the last one; an object cannot be
    appended to, so on cloud storage every flush rewrites the whole file (what tensorboardX's own
    GCS writer does, but through epath, so it needs no google-cloud-storage and any fsspec store,
    the tests' offline one included, serves)."""

    def __init__(self, path: str):
        self.path = epath.Path(path.removeprefix(_LOCAL))
        self.error: OSError | None = None
        self._buffer = io.BytesIO()

    def write(self, data: bytes) -> None:
        self._buffer.write(data)

    def flush(self) -> None:
        if self.error is not None:
            return
        try:
            if workdirs.is_remote(self.path):
                self.path.write_bytes(self._buffer.getvalue())
            else:
                workdirs.append(self.path, self._buffer.getvalue())
                self._buffer = io.BytesIO()
        except OSError as error:
            self.error = error

    def close(self) -> None:
        self.flush()


class _EventFiles:
    """tensorboardX's hook for opening event files (registered by scheme); keeps what it opened."""

    def __init__(self):
        self.opened: list[_EventFile] = []

    def open(self, path: str) -> _EventFile:
        self.opened.append(_EventFile(path))
        return self.opened[-1]

    def directory_check(self, path: str) -> None:
        epath.Path(path.removeprefix(_LOCAL)).mkdir(parents=True, exist_ok=True)


_LOCAL = "file://"  # a local logdir is given to tensorboardX as a URI, so that its files come here


def _tensorboard_writer(logdir: epath.Path, purge_step: int):
    """(tensorboardX's SummaryWriter, the event files it opened): its event files are written
    through `_EventFile`. Imported here, not at the top: only process 0 of a run writes. PyTorch is
    hidden from the import -- tensorboardX imports it whenever it is installed (~1.5 s), only to
    accept torch tensors, which a JAX run never passes."""
    hidden = "torch" not in sys.modules
    if hidden:
        sys.modules["torch"] = None  # `import torch` raises ImportError, which tensorboardX expects
    try:
        from tensorboardX import SummaryWriter, record_writer
    finally:
        if hidden:
            del sys.modules["torch"]

    files = _EventFiles()
    for scheme in ("file", "gs", "s3"):  # tensorboardX picks an event-file writer by the URI's scheme
        record_writer.register_writer_factory(scheme, files)
    uri = str(logdir) if workdirs.is_remote(logdir) else _LOCAL + str(logdir)
    return SummaryWriter(uri, purge_step=purge_step), files.opened


class MetricWriter:
    """metrics.jsonl and eval.jsonl + TensorBoard events + one console line per logged interval."""

    def __init__(
        self, workdir: epath.Path, start_step: int, total_steps: int, enabled: bool, label: str = ""
    ):
        self.enabled, self.label = enabled, label  # label: the console line's prefix
        self.total_steps = total_steps
        self._logs, self._tb, self._event_files = {}, None, []
        if enabled:
            for name in ("metrics", "eval"):
                self._logs[name] = JsonlLog(workdir / f"{name}.jsonl", start_step)
            self._tb, self._event_files = _tensorboard_writer(workdir / "tensorboard", start_step + 1)

    @property
    def rows(self) -> list[dict]:
        return self._logs["metrics"].rows if self.enabled else []

    def write(self, step: int, scalars: dict[str, float], log: str = "metrics") -> None:
        """One row of `log` ('metrics' or 'eval'); TensorBoard tags get the prefix 'eval/'
        for evaluation scalars."""
        if not self.enabled:
            return
        self._check_events()
        self._logs[log].append({"step": step, **scalars})
        prefix = "" if log == "metrics" else f"{log}/"
        for key, value in scalars.items():
            self._tb.add_scalar(prefix + key, value, step)

    def image(self, tag: str, grid: np.ndarray, step: int) -> None:
        if self.enabled:
            self._check_events()
            self._tb.add_image(tag, grid, step, dataformats="HWC")

    def _check_events(self) -> None:
        """Raise the first failed write of TensorBoard's background thread here, as one line."""
        for file in self._event_files:
            if file.error is not None:
                raise workdirs.write_error(file.path, file.error)

    def progress(self, step: int, steps_per_sec: float, eta: float, scalars: dict[str, float]) -> None:
        """The console line of a logged interval; `eta`: seconds left at the rate so far, writing
        and evaluation included."""
        if not self.enabled:
            return
        shown = "  ".join(f"{k} {scalars[k]:.3f}" for k in PROGRESS_KEYS if k in scalars)
        print(
            f"{self.label}step {step}/{self.total_steps} ({100 * step / self.total_steps:.0f}%)  "
            f"{steps_per_sec:.1f} steps/s  ETA {format_duration(eta)}  {shown}",
            file=sys.stderr,
            flush=True,
        )

    def __enter__(self) -> "MetricWriter":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close()
        if exc_type is None:  # the last events' write may have failed at the close
            self._check_events()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
