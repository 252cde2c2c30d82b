"""The figures a run, an evaluation and a report draw: sample grids, 2-D sample plots, training
curves, trajectories over seeds, mode histograms. Each is rendered in memory and written in one
step (gan_jax.workdir.write_file), local or on cloud storage, so a full disk leaves no empty or
partial file.
"""

import io
import math
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from etils import epath  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from gan_jax import workdir as workdirs  # noqa: E402

LOG_4 = math.log(4.0)


def save_figure(fig, path: epath.Path, dpi: int) -> None:
    """A matplotlib figure as `path` (its suffix names the format), local or on cloud storage;
    rendered in memory and written in one step, so a full disk leaves no empty or partial file."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=path.suffix[1:], dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    workdirs.write_file(path, buffer.getvalue())


def save_picture(picture: Image.Image, path: epath.Path) -> None:
    """A PIL image as `path` (its suffix names the format), local or on cloud storage."""
    buffer = io.BytesIO()
    picture.save(buffer, format=Image.registered_extensions()[path.suffix.lower()])
    workdirs.write_file(path, buffer.getvalue())


def image_grid(images: np.ndarray, columns: int | None = None) -> np.ndarray:
    """(N, H, W, C) floats in [-1, 1] -> one uint8 (rows*H + pad, cols*W + pad, C) mosaic."""
    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = np.full((rows * (h + 1) + 1, columns * (w + 1) + 1, c), 255, np.uint8)
    pixels = np.clip(np.round((np.asarray(images) + 1.0) * 127.5), 0, 255).astype(np.uint8)
    for i, image in enumerate(pixels):
        r, col = divmod(i, columns)
        grid[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + col * (w + 1) : 1 + col * (w + 1) + w] = image
    return grid


def save_image_grid(
    images: np.ndarray, path: epath.Path, scale: int = 1, columns: int | None = None
) -> np.ndarray:
    grid = image_grid(images, columns)
    picture = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    save_picture(picture, path)
    return grid


def save_points_figure(
    samples: np.ndarray, mixture, title: str, path: epath.Path, captured: np.ndarray | None = None
) -> None:
    """2-D: samples over the mode centres (captured ones filled, when given); 1-D: histogram of
    the samples over the data density. Higher-dimensional data are not plotted."""
    means, std = mixture.means, float(mixture.noise_std.max())
    if samples.shape[1] > 2:
        return
    fig, ax = plt.subplots(figsize=(5, 5) if samples.shape[1] == 2 else (6, 3.5))
    if samples.shape[1] == 2:
        ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.5, label="G(z)")
        ax.scatter(means[:, 0], means[:, 1], marker="x", c="red", s=40, label="mode centres")
        if captured is not None:
            ax.scatter(
                means[captured, 0],
                means[captured, 1],
                s=120,
                facecolors="none",
                edgecolors="green",
                label="captured",
            )
        span = np.abs(means).max() + 1.0
        ax.set(xlim=(-span, span), ylim=(-span, span), aspect="equal")
    else:
        lo, hi = means.min() - 5 * std, means.max() + 5 * std
        grid = np.linspace(lo, hi, 400)
        density = np.mean([np.exp(-0.5 * ((grid - m) / std) ** 2) for m in means[:, 0]], 0)
        ax.plot(grid, density / (std * np.sqrt(2 * np.pi)), "k--", label="p_data")
        ax.hist(samples[:, 0], bins=80, range=(lo, hi), density=True, alpha=0.6, label="p_g")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    save_figure(fig, path, dpi=100)


def save_mode_histogram(counts: Sequence[int], path: epath.Path) -> None:
    """High-quality samples per mode, against the uniform share."""
    counts = np.asarray(counts)
    fig, ax = plt.subplots(figsize=(max(4, 0.25 * len(counts)), 3))
    ax.bar(np.arange(len(counts)), counts)
    if counts.sum():
        ax.axhline(counts.sum() / len(counts), color="k", ls="--", lw=0.8, label="uniform")
        ax.legend(fontsize=8)
    ax.set(
        xlabel="mode",
        ylabel="high-quality samples",
        title=f"{int((counts > 0).sum())}/{len(counts)} modes captured",
    )
    save_figure(fig, path, dpi=90)


def save_equilibrium_figure(
    panels: Sequence[tuple[int, dict]], path: epath.Path, max_panels: int = 5
) -> None:
    """Goodfellow et al. 2014, Figure 1, one panel per (step, curves): p_data (black dots), p_g
    (green), D (blue dashes) and the optimal D* = p_data / (p_data + p_g) (grey)."""
    if len(panels) > max_panels:  # evenly spaced, always including the first and the last
        panels = [panels[i] for i in np.linspace(0, len(panels) - 1, max_panels).round().astype(int)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), squeeze=False)
    for ax, (step, curves) in zip(axes[0], panels, strict=True):
        x = curves["x"]
        ax.plot(x, curves["p_data"], "k:", lw=2, label="p_data")
        ax.plot(x, curves["p_g"], "g-", label="p_g (KDE)")
        right = ax.twinx()
        right.plot(x, curves["d"], "b--", label="D(x)")
        right.plot(x, curves["d_star"], color="0.5", label="D*(x)")
        right.axhline(0.5, color="k", lw=0.5)
        right.set(ylim=(0, 1))
        ax.set(xlabel="x", title=f"step {step}")
    handles = [h for a in (ax, right) for h in a.get_legend_handles_labels()[0]]
    labels = [h for a in (ax, right) for h in a.get_legend_handles_labels()[1]]
    axes[0, 0].set_ylabel("density")
    right.set_ylabel("discriminator")
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, bbox_to_anchor=(0.5, -0.08))
    save_figure(fig, path, dpi=90)


def save_real_vs_generated(real: np.ndarray, fake: np.ndarray, path: epath.Path) -> None:
    """Real images (left block) beside generated ones (right block), same layout."""
    left, right = image_grid(real, columns=8), image_grid(fake, columns=8)
    gap = np.full((left.shape[0], 8, left.shape[2]), 255, np.uint8)
    grid = np.concatenate([left, gap, right], axis=1)
    picture = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    scale = max(1, 96 // real.shape[1])
    save_picture(picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST), path)


def nearest_images(samples: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Each sample's nearest image in pixel L2 among `pool`'s."""
    queries = samples.reshape(len(samples), -1).astype(np.float64)
    flat = pool.reshape(len(pool), -1).astype(np.float64)
    d = (queries**2).sum(1)[:, None] + (flat**2).sum(1)[None] - 2 * queries @ flat.T
    return pool[d.argmin(1)]


def save_nearest_neighbours(samples: np.ndarray, neighbours: Sequence[np.ndarray], path: epath.Path) -> None:
    """Generated samples (top row) above their nearest images (`nearest_images`, one row a pool:
    the training images, then the held-out ones): a memorisation check -- a sample much closer to
    a training image than to any held-out one is a copy."""
    rows = np.concatenate([samples, *neighbours])
    save_image_grid(rows, path, scale=max(1, 96 // samples.shape[1]), columns=len(samples))


# The curves' panels: (keys, title, reference line), each drawn when the run logs its keys. The
# minimax family's equilibrium lines (1/2, -log 4) appear only with its metrics.
CURVE_PANELS = (
    (("d_loss", "g_loss"), "losses", None),
    (("V",), "V(D, G)", (-LOG_4, "-log 4")),
    (("d_real", "d_fake"), "mean D(x), D(G(z))", (0.5, "1/2")),
    (("W",), "critic's estimate of W: E D(x) - E D(G(z))", None),
    (("d_real_out", "d_fake_out"), "mean D output on real, generated data", None),
    (("ada_p", "ada_sign"), "ADA: p, and E sign D(x) (r_t)", None),
    (("d_grad_norm", "g_grad_norm"), "gradient norm", None),  # last: its axis is logarithmic
)


def save_curves(rows: Sequence[dict], path: epath.Path) -> None:
    """Losses, D's diagnostics of the game (objective.diagnostics) and gradient norms over steps."""
    if not rows:
        return
    steps = [r["step"] for r in rows]
    panels = [panel for panel in CURVE_PANELS if all(k in rows[-1] for k in panel[0])]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6))
    for ax, (keys, title, reference) in zip(axes, panels, strict=True):
        for key in keys:
            ax.plot(steps, [r[key] for r in rows], label=key)
        if reference:
            ax.axhline(reference[0], color="k", ls="--", lw=0.8, label=reference[1])
        ax.set(title=title, xlabel="step")
        ax.legend(fontsize=8)
    axes[-1].set_yscale("log")
    save_figure(fig, path, dpi=90)


def _mean_curve(runs: Sequence[dict], log: str, key: str):
    """(steps, mean over the runs) of a logged quantity, over the steps every run has."""
    runs = [r for r in runs if any(key in row for row in r[log])]
    if not runs:
        return None
    length = min(len([row for row in r[log] if key in row]) for r in runs)
    steps = [row["step"] for row in runs[0][log] if key in row][:length]
    values = [[row[key] for row in r[log] if key in row][:length] for r in runs]
    return steps, np.mean(values, axis=0)


def save_trajectories(records: Sequence[dict], cells: Sequence[str], path: epath.Path) -> None:
    """A sweep report's trajectories (experiments/report.py), per cell over training (mean over
    seeds): for the minimax family D(x) and D(G(z)) against 1/2 and V against -log 4; for the
    other objectives D's mean outputs (and a Wasserstein critic's estimate of W); and, where
    evaluated, the mean |D - D*|."""
    panels = [
        ([("metrics", "d_real", "D(x)"), ("metrics", "d_fake", "D(G(z))")], 0.5, "1/2"),
        ([("metrics", "V", "V")], -LOG_4, "-log 4"),
        ([("metrics", "W", "W estimate")], None, None),  # a Wasserstein critic's
        ([("metrics", "d_real_out", "mean D(x)"), ("metrics", "d_fake_out", "mean D(G(z))")], None, None),
        ([("eval", "optimal_d/mean_abs", "mean |D - D*|")], None, None),
    ]
    panels = [p for p in panels if any(_mean_curve(records, log, key) for log, key, _ in p[0])]
    if not panels:  # no run logged a trajectory
        return
    fig, axes = plt.subplots(
        len(panels), len(cells), figsize=(3.2 * len(cells), 2.5 * len(panels)), squeeze=False
    )
    for row, (curves, reference, ref_label) in enumerate(panels):
        legend_shown = False
        for col, cell in enumerate(cells):
            ax, runs = axes[row, col], [r for r in records if r["cell"] == cell]
            if row == 0:
                ax.set_title(cell, fontsize=7)
            drawn = [
                ax.plot(*curve, label=label)
                for log, key, label in curves
                if (curve := _mean_curve(runs, log, key))
            ]
            if not drawn:  # e.g. D(x) as a probability under the hinge loss
                ax.axis("off")
                ax.text(
                    0.5, 0.5, "not logged\nby this cell", ha="center", va="center", fontsize=7, color="0.5"
                )
                continue
            if reference is not None:
                ax.axhline(reference, color="k", ls="--", lw=0.8, label=ref_label)
            if not legend_shown:  # once a row, on its first panel with curves
                ax.legend(fontsize=6)
                legend_shown = True
            ax.set_xlabel("step", fontsize=7)
    save_figure(fig, path, dpi=80)


def save_sample_panels(
    sampled: Sequence[tuple[str, np.ndarray]], centres: np.ndarray, path: epath.Path
) -> None:
    """A sweep report's samples figure: per cell (title), G's points over the mode centres -- 2-D
    data as a scatter, 1-D as a histogram."""
    cols = min(len(sampled), 5)
    rows = math.ceil(len(sampled) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3.2 * rows), squeeze=False)
    span = np.abs(centres).max() + 1.0
    for ax in axes.flat:
        ax.axis("off")
    for ax, (cell, points) in zip(axes.flat, sampled, strict=False):  # spare axes stay off
        if centres.shape[1] == 2:
            ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.5)
            ax.scatter(centres[:, 0], centres[:, 1], marker="x", c="red", s=20)
            ax.set(xlim=(-span, span), ylim=(-span, span), aspect="equal")
        else:
            ax.axis("on")
            ax.hist(points[:, 0], bins=60, range=(centres.min() - 3, centres.max() + 3))
            for centre in centres[:, 0]:
                ax.axvline(centre, color="red", lw=0.8)
            ax.set_yticks([])
        ax.set_title(cell, fontsize=7)
    save_figure(fig, path, dpi=80)


def save_metric_curves(title: str, curves: dict[str, tuple[Sequence[float], dict]], path: epath.Path) -> None:
    """The metric bench's curves (gan_jax/metric_report.py): a panel per defect, each metric's mean
    against severity in standard deviations of its clean draws (symlog), with the +-3 band the
    detection rule uses."""
    cols = min(len(curves), 4)
    rows = math.ceil(len(curves) / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.6 * cols, 3.2 * rows), squeeze=False, layout="constrained"
    )
    for ax in axes.flat[len(curves) :]:
        ax.axis("off")
    for ax, (defect, (severities, by_metric)) in zip(axes.flat, curves.items(), strict=False):
        for metric, values in by_metric.items():
            ax.plot(severities, values, marker="o", ms=3, label=metric)
        ax.axhspan(-3, 3, color="0.9")
        ax.set_yscale("symlog", linthresh=3)
        ax.set_title(defect, fontsize=9)
        ax.set_xlabel("severity", fontsize=8)
    axes.flat[0].set_ylabel("(mean - clean mean) / clean sd", fontsize=8)
    axes.flat[0].legend(fontsize=6)
    fig.suptitle(title, fontsize=10)
    save_figure(fig, path, dpi=80)


def contact_sheet(rows: Sequence[tuple[str, Sequence[Image.Image]]], height: int = 240) -> Image.Image:
    """Figures side by side, a row per (caption, figures): each figure scaled to `height` pixels
    (its aspect kept), the caption written above the row -- for looking at many runs at once
    (experiments/label_sheets.py)."""
    caption_height = 16
    scaled = [
        [f.convert("RGB").resize((round(f.width * height / f.height), height)) for f in fs] for _, fs in rows
    ]
    width = max(sum(f.width for f in fs) for fs in scaled)
    sheet = Image.new("RGB", (width, len(rows) * (height + caption_height)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, ((caption, _), figures) in enumerate(zip(rows, scaled, strict=True)):
        top = i * (height + caption_height)
        draw.text((4, top + 2), caption, fill="black")
        left = 0
        for figure in figures:
            sheet.paste(figure, (left, top + caption_height))
            left += figure.width
    return sheet


def write_label_sheets(sweep_dir: epath.Path, out: epath.Path, per_sheet: int = 5) -> list[epath.Path]:
    """For each cell of a sweep, sheets of `per_sheet` runs in seed order: a row per run with G's
    samples at every step they were plotted (samples/step_*.png) and its curves (curves.png) --
    nothing the metrics or the diagnosis concluded, so that a label given from a sheet does not
    echo them. Written as '<cell> seeds <a>-<b>.png'; returns their paths."""
    runs = sorted(
        sweep_dir.glob("*/seed_*/curves.png"), key=lambda p: (p.parent.parent.name, _seed(p.parent))
    )
    by_cell: dict[str, list[epath.Path]] = {}
    for curves in runs:
        by_cell.setdefault(curves.parent.parent.name, []).append(curves.parent)
    written = []
    for cell, run_dirs in by_cell.items():
        for start in range(0, len(run_dirs), per_sheet):
            chunk = run_dirs[start : start + per_sheet]
            figures = [[*sorted(run.glob("samples/step_*.png")), run / "curves.png"] for run in chunk]
            rows = [
                (f"{cell}, {run.name}", [Image.open(io.BytesIO(f.read_bytes())) for f in fs])
                for run, fs in zip(chunk, figures, strict=True)
            ]
            path = out / f"{cell} seeds {_seed(chunk[0])}-{_seed(chunk[-1])}.png"
            save_picture(contact_sheet(rows), path)
            written.append(path)
    return written


def _seed(run_dir: epath.Path) -> int:
    return int(run_dir.name.removeprefix("seed_"))
