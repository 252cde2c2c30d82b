"""Metrics of G's samples against the data's distribution itself: the mixtures' mode coverage
(VEEGAN/PacGAN's protocol) and Goodfellow et al.'s Parzen-window log-likelihood."""

import numpy as np

from gan_jax.data import DataSource
from gan_jax.errors import ConfigError
from gan_jax.evaluation.context import Context
from gan_jax.metrics import mixtures, parzen


def parzen_scale(source: DataSource) -> float:
    """Data units per unit of Parzen's space: pixels span [0, 1] there (Goodfellow et al.), [-1, 1]
    here; points are not rescaled."""
    return 2.0 if source.kind == "images" else 1.0


def modes(ctx: Context) -> dict:
    """Mode coverage of cfg.mode_samples samples; with cfg.mode_min_high_quality = k > 0, of a draw
    doubled until k high-quality samples a mode on average (k x modes) or cfg.mode_max_samples: with
    few high-quality samples even a generator uniform over the modes misses some. The bank's
    samples of a larger draw begin with the smaller one's (the same latent vectors)."""
    mix, cfg = ctx.source.mixture, ctx.cfg
    threshold = mixtures.high_quality_threshold(mix.varying_dims)
    n, wanted = cfg.mode_samples, cfg.mode_min_high_quality * len(mix.means)
    while True:
        result = mixtures.mode_coverage(ctx.bank.generated(n), mix.means, mix.metric_std, threshold)
        if result["high_quality_count"] >= wanted or n >= cfg.mode_max_samples:
            break
        n = min(2 * n, cfg.mode_max_samples)
    if wanted:
        result["protocol"]["drawn_until"] = (
            f"{cfg.mode_samples:,} samples, doubled until {cfg.mode_min_high_quality} high-quality samples "
            f"a mode on average ({wanted:,}) or {cfg.mode_max_samples:,} samples"
        )
    return result


def parzen_ll(ctx: Context) -> dict:
    cfg = ctx.cfg
    n_valid, n_test = cfg.parzen_valid, cfg.parzen_test
    real = ctx.bank.real(n_valid + n_test)
    if len(real) <= n_valid:
        raise ConfigError(
            f"Parzen needs more than {n_valid} real examples; {ctx.source.name} has {len(real)}."
        )
    generated = ctx.bank.generated(cfg.parzen_samples)
    scale = parzen_scale(ctx.source)  # distances in Parzen's space; a shift of every point changes none
    lo, hi, num = cfg.parzen_log10_bandwidths
    bandwidths = np.logspace(lo, hi, int(num))
    result = parzen.parzen_log_likelihood(
        generated / scale, real[:n_valid] / scale, real[n_valid:] / scale, bandwidths
    )
    if result["bandwidth"] in (bandwidths[0], bandwidths[-1]):
        result["protocol"]["warning"] = (
            "the chosen bandwidth is at the edge of the grid: widen config.eval.parzen_log10_bandwidths"
        )
    result["protocol"]["space"] = "pixels in [0, 1]" if ctx.source.kind == "images" else "data"
    result["protocol"]["real"] = ctx.bank.real_protocol
    return result
