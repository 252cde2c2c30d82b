"""Metrics of the game itself, which need D: the equilibrium diagnostics (the train step's own
metrics on fresh batches), D against the optimal D* on 1-D data, and the semi-supervised D's
test error."""

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import losses, steps
from gan_jax.evaluation.bank import BATCH
from gan_jax.evaluation.context import Context
from gan_jax.metrics import equilibrium as equilibrium_lib
from gan_jax.models import apply


def equilibrium(ctx: Context) -> dict:
    """Mean D(x), D(G(z)), V (and V + log 4 for the minimax family), gradient norms: the train
    step's own metrics, without its update, over `equilibrium_batches` fresh batches."""
    if "updates" not in ctx.compiled:
        unroll = ctx.train_cfg.unroll_steps  # G's metrics are those of its own (unrolled) loss
        d_update, g_update = steps.make_updates(ctx.gan, ctx.source, ctx.train_cfg.batch_size, unroll)
        ctx.compiled["updates"] = jax.jit(d_update), jax.jit(g_update)
    d_update, g_update = ctx.compiled["updates"]
    rows = []
    for i in range(ctx.cfg.equilibrium_batches):
        key = jax.random.fold_in(jax.random.PRNGKey(ctx.cfg.seed + 2), i)
        _, m_d = d_update(ctx.state, ctx.arrays, key, jnp.int32(i))
        _, m_g = g_update(ctx.state, ctx.arrays, jax.random.fold_in(key, 1), jnp.int32(i))
        rows.append(jax.device_get({**m_d, **m_g}))
    means = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    protocol = {
        "batches": len(rows),
        "batch_size": ctx.train_cfg.batch_size,
        "mode": "the train step's metrics (BatchNorm on batch statistics), no update applied",
    }
    if ctx.gan.objective.family != "minimax":  # no 1/2 and -log 4 to compare with
        return {**means, "protocol": protocol}
    optimum = {"optimum": "D = 1/2, V = -log 4"}
    return {**means, "V_minus_optimum": means["V"] + losses.LOG_4, "protocol": {**protocol, **optimum}}


def _density_grid(mix, generated: np.ndarray) -> np.ndarray:
    std = float(mix.noise_std.max())
    lo = min(mix.means.min() - 4 * std, np.percentile(generated, 0.5))
    hi = max(mix.means.max() + 4 * std, np.percentile(generated, 99.5))
    return np.linspace(lo, hi, 400)


def optimal_d(ctx: Context) -> dict:
    """1-D data: the distance of D to D* = p_data / (p_data + p_g) (with PacGAN's packing, of
    packs (x, ..., x))."""
    mix = ctx.source.mixture
    generated = ctx.bank.generated(ctx.cfg.parzen_samples)[:, 0]
    grid = _density_grid(mix, generated)
    p_data = equilibrium_lib.mixture_density(grid, mix.means[:, 0], mix.noise_std[[0]].repeat(len(mix.means)))
    m = ctx.gan.discriminator.pack  # a PacGAN D judges each grid point as a pack of m copies
    d_star, p_g = equilibrium_lib.optimal_discriminator(grid, p_data, generated, m)
    x = jnp.asarray(np.repeat(grid, m)[:, None], jnp.float32)
    logits = apply.apply_net(ctx.gan.discriminator, ctx.state.d.variables, x, False, dtype=ctx.gan.dtype)[0]
    d_learned = np.asarray(jax.nn.sigmoid(logits))
    gap = equilibrium_lib.discriminator_gap(d_learned, d_star, (p_data + p_g) / 2)
    curves = {"x": grid, "p_data": p_data, "p_g": p_g, "d": d_learned, "d_star": d_star}
    protocol = {
        "num_samples": len(generated),
        "p_g": "Gaussian KDE, Scott's rule",
        "grid": f"{len(grid)} points",
        "weights": "(p_data + p_g) / 2",
    }
    if m > 1:
        protocol["pack"] = (
            f"{m}: D and D* = p_data^m / (p_data^m + p_g^m) on packs of {m} copies of each point"
        )
    return {**gap, "curves": {k: v.tolist() for k, v in curves.items()}, "protocol": protocol}


def semi_supervised(ctx: Context) -> dict:
    """Test error of the semi-supervised D's K-class output on the held-out split."""
    images, labels = ctx.bank.heldout_images()
    variables = ctx.state.d.variables
    logits = np.concatenate(
        [
            np.asarray(
                apply.apply_net(
                    ctx.gan.discriminator, variables, images[i : i + BATCH], False, dtype=ctx.gan.dtype
                )[0]
            )
            for i in range(0, len(images), BATCH)
        ]
    )
    errors = int((logits.argmax(-1) != labels).sum())
    return {
        "errors": errors,
        "error_rate": errors / len(labels),
        "errors_per_10000": 10_000 * errors / len(labels),
        "protocol": {
            "test": ctx.bank.real_protocol,
            "labelled_training_examples": ctx.num_labelled,
            "classifier": "argmax of D's K class logits (inference mode)",
        },
    }
