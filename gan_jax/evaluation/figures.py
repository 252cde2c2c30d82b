"""The figures of an evaluation, drawn from samples the evaluation already holds.

`prepare` runs in the evaluation on every process (drawing samples is device work, and with
several processes every one must run it); `save` then only reads host arrays and writes, on the
process that writes."""

import numpy as np
from etils import epath

from gan_jax import plots
from gan_jax.evaluation.bank import SampleBank

REAL_VS_GENERATED = 64  # images in the real-vs-generated figure (32 of each are shown)
NEIGHBOURS = 8  # samples whose nearest real images are shown


def _scatter(bank: SampleBank) -> bool:
    return bank.source.kind == "points" and bank.source.shape[0] <= 2


def prepare(bank: SampleBank) -> dict:
    """Everything the figures show, drawn now: G's samples, real images, and each shown sample's
    nearest neighbour in the training split and in the held-out one (the splits themselves are
    not kept: a large data set's would stay in memory between evaluations)."""
    if _scatter(bank):
        return {"samples": bank.generated(bank.cfg.mode_samples)}
    if bank.source.kind == "images":
        samples = bank.generated(REAL_VS_GENERATED)
        splits = [s for s in (bank.source, bank.heldout) if s is not None]
        pools = (bank.pool(s, stream=1) for s in splits)
        return {
            "samples": samples,
            "real": bank.real(REAL_VS_GENERATED),
            "neighbours": [plots.nearest_images(samples[:NEIGHBOURS], pool) for pool in pools],
        }
    return {}


def save(bank: SampleBank, shown: dict, results: dict, directory: epath.Path) -> None:
    """The figures of one evaluation's `results` into `directory`: a scatter of the samples (with
    the captured modes and D against D* where computed) for 1-D/2-D data; real vs generated images
    and each sample's nearest real images (a memorisation check) for images."""
    directory.mkdir(parents=True, exist_ok=True)
    metrics, step = results["metrics"], results["step"]
    if _scatter(bank):
        samples, captured = shown["samples"], None
        if "modes" in metrics:
            captured = np.asarray(metrics["modes"]["counts"]) > 0
            plots.save_mode_histogram(metrics["modes"]["counts"], directory / "mode_histogram.png")
        title = f"{bank.source.name}: {len(samples)} samples at step {step}"
        plots.save_points_figure(samples, bank.source.mixture, title, directory / "samples.png", captured)
        if "optimal_d" in metrics:
            plots.save_equilibrium_figure(
                [(step, metrics["optimal_d"]["curves"])], directory / "discriminator.png"
            )
    elif bank.source.kind == "images":
        half = REAL_VS_GENERATED // 2
        plots.save_real_vs_generated(
            shown["real"][:half], shown["samples"][:half], directory / "real_vs_generated.png"
        )
        plots.save_nearest_neighbours(
            shown["samples"][:NEIGHBOURS], shown["neighbours"], directory / "nearest_real.png"
        )
