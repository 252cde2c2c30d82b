"""What a run leaves in its workdir: metrics (JSONL, TensorBoard), console progress and figures.

Only process 0 of a multi-host run writes (`enabled=False` elsewhere). On resume the JSONL is cut
back to the restored step and TensorBoard is told to purge later events, so both show one
consistent history even when the previous process died between two checkpoints.
"""

import json
import math
import pathlib
import sys
import time
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

LOG_4 = math.log(4.0)


def image_grid(images: np.ndarray, columns: int | None = None) -> np.ndarray:
    """(N, H, W, C) floats in [-1, 1] -> one uint8 (rows*H + pad, cols*W + pad, C) mosaic."""
    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = np.full((rows * (h + 1) + 1, columns * (w + 1) + 1, c), 255, np.uint8)
    pixels = np.clip(np.round((np.asarray(images) + 1.0) * 127.5), 0, 255).astype(np.uint8)
    for i, image in enumerate(pixels):
        r, col = divmod(i, columns)
        grid[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + col * (w + 1):1 + col * (w + 1) + w] = image
    return grid


def save_image_grid(images: np.ndarray, path: pathlib.Path, scale: int = 1) -> np.ndarray:
    grid = image_grid(images)
    picture = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path)
    return grid


def save_points_figure(samples: np.ndarray, modes: np.ndarray, mode_std: float, title: str,
                       path: pathlib.Path) -> None:
    """2-D: generated samples over the mode centres; 1-D: their histogram over the data density."""
    fig, ax = plt.subplots(figsize=(5, 5) if samples.shape[1] == 2 else (6, 3.5))
    if samples.shape[1] == 2:
        ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.5, label="G(z)")
        ax.scatter(modes[:, 0], modes[:, 1], marker="x", c="red", s=40, label="mode centres")
        span = np.abs(modes).max() + 1.0
        ax.set(xlim=(-span, span), ylim=(-span, span), aspect="equal")
    else:
        lo, hi = modes.min() - 5 * mode_std, modes.max() + 5 * mode_std
        grid = np.linspace(lo, hi, 400)
        density = np.mean([np.exp(-0.5 * ((grid - m) / mode_std) ** 2) for m in modes[:, 0]], 0)
        ax.plot(grid, density / (mode_std * np.sqrt(2 * np.pi)), "k--", label="p_data")
        ax.hist(samples[:, 0], bins=80, range=(lo, hi), density=True, alpha=0.6, label="p_g")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def save_curves(rows: Sequence[dict], path: pathlib.Path) -> None:
    """Losses, V against -log 4, D(x) and D(G(z)) against 1/2, and gradient norms over steps."""
    if not rows:
        return
    steps = [r["step"] for r in rows]
    fig, axes = plt.subplots(1, 4, figsize=(18, 3.6))
    panels = [
        (("d_loss", "g_loss"), "losses", None),
        (("V",), "V(D, G)", (-LOG_4, "-log 4")),
        (("d_real", "d_fake"), "mean D(x), D(G(z))", (0.5, "1/2")),
        (("d_grad_norm", "g_grad_norm"), "gradient norm", None),
    ]
    for ax, (keys, title, reference) in zip(axes, panels, strict=True):
        for key in keys:
            ax.plot(steps, [r[key] for r in rows], label=key)
        if reference:
            ax.axhline(reference[0], color="k", ls="--", lw=0.8, label=reference[1])
        ax.set(title=title, xlabel="step")
        ax.legend(fontsize=8)
    axes[3].set_yscale("log")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class MetricWriter:
    """metrics.jsonl + TensorBoard events + one console line per logged interval."""

    def __init__(self, workdir: pathlib.Path, start_step: int, total_steps: int, enabled: bool):
        self.enabled = enabled
        self.path = workdir / "metrics.jsonl"
        self.rows = self._read_rows(start_step) if enabled else []
        self.total_steps = total_steps
        self._tb = None
        if enabled:
            from tensorboardX import SummaryWriter

            self._rewrite_rows()
            self._tb = SummaryWriter(str(workdir / "tensorboard"), purge_step=start_step + 1)

    def _read_rows(self, start_step: int) -> list[dict]:
        if not self.path.exists():
            return []
        rows = [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
        return [r for r in rows if r["step"] <= start_step]

    def _rewrite_rows(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("".join(json.dumps(r) + "\n" for r in self.rows))

    def write(self, step: int, scalars: dict[str, float]) -> None:
        if not self.enabled:
            return
        row = {"step": step, **scalars}
        self.rows.append(row)
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        for key, value in scalars.items():
            self._tb.add_scalar(key, value, step)

    def image(self, tag: str, grid: np.ndarray, step: int) -> None:
        if self.enabled:
            self._tb.add_image(tag, grid, step, dataformats="HWC")

    def progress(self, step: int, steps_per_sec: float, scalars: dict[str, float]) -> None:
        if not self.enabled:
            return
        eta = (self.total_steps - step) / steps_per_sec if steps_per_sec > 0 else float("nan")
        shown = "  ".join(f"{k} {scalars[k]:.3f}" for k in ("d_loss", "g_loss", "d_real", "d_fake"))
        print(
            f"step {step}/{self.total_steps} ({100 * step / self.total_steps:.0f}%)  "
            f"{steps_per_sec:.1f} steps/s  ETA {format_duration(eta) if eta == eta else '?'}  "
            f"{shown}",
            file=sys.stderr, flush=True,
        )

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


class Timer:
    """Wall-clock seconds since the last `lap()`."""

    def __init__(self):
        self._last = time.perf_counter()

    def lap(self) -> float:
        now = time.perf_counter()
        elapsed, self._last = now - self._last, now
        return elapsed
