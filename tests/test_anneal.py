"""R3GAN's annealing (anneal.py): the cosine against R3GAN's own formula, Adam with an annealed
beta2 against PyTorch's update rule, the EMA and the penalties' gamma at their step, the preset's
values, the clashes refused, and an annealed run resumed exactly."""

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from helpers import load_config

from gan_jax import config as config_lib
from gan_jax import experiment, optim, regularizers, trainer
from gan_jax.anneal import Anneal, cosine
from gan_jax.errors import ConfigError


def r3gan_cosine(cur_nimg, base_value, total_nimg, final_value):
    """brownvc/R3GAN training_loop.py's cosine_decay_with_warmup, without warm-up or hold (their
    presets use neither), rewritten from it."""
    decay = 0.5 * (1 + np.cos(np.pi * cur_nimg / float(total_nimg)))
    value = base_value + (1 - decay) * (final_value - base_value)
    return float(np.where(cur_nimg > total_nimg, final_value, value))


@pytest.mark.parametrize("start, final", [(2e-4, 5e-5), (0.9, 0.99), (0.05, 0.005), (0.0, 5e6)])
def test_cosine_is_r3gans_schedule_counted_in_steps(start, final):
    batch, steps = 512, 40
    for step in (0, 1, 7, 20, 39, 40, 41, 100):
        expected = r3gan_cosine(step * batch, start, steps * batch, final)
        np.testing.assert_allclose(float(cosine(step, start, final, steps)), expected, rtol=2e-6, atol=1e-12)


def torch_adam(params, grads, lrs, b2s, b1=0.0, eps=1e-8):
    """torch.optim.Adam's update with the step's lr and beta2 (its bias correction uses the current
    beta2, 1 - beta2 ** t), as R3GAN sets them in its param_groups before every step."""
    m, v = np.zeros_like(params), np.zeros_like(params)
    for t, (g, lr, b2) in enumerate(zip(grads, lrs, b2s, strict=True), start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        params = params - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return params


def test_adam_with_annealed_lr_and_beta2_is_pytorchs_with_the_steps_values():
    """D with 2 updates a step: both updates of step t get step t's lr and beta2."""
    anneal = Anneal(steps=3, lr=5e-5, b2=0.99)
    cfg = ml_collections.ConfigDict(dict(name="adam", lr=2e-4, b1=0.0, b2=0.9, decay_steps=0))
    tx = optim.make(cfg, "d", anneal, updates_per_step=2)
    rng = np.random.default_rng(0)
    params, grads = rng.normal(size=5).astype(np.float32), rng.normal(size=(8, 5)).astype(np.float32)
    steps = [u // 2 for u in range(8)]
    lrs = [r3gan_cosine(s, 2e-4, 3, 5e-5) for s in steps]
    b2s = [r3gan_cosine(s, 0.9, 3, 0.99) for s in steps]
    p, state = jnp.asarray(params), tx.init(jnp.asarray(params))
    for g in grads:
        updates, state = tx.update(jnp.asarray(g), state, p)
        p = optax.apply_updates(p, updates)
    np.testing.assert_allclose(
        np.asarray(p), torch_adam(params.astype(np.float64), grads, lrs, b2s), rtol=1e-5
    )


def test_the_ema_half_life_grows_from_zero_as_r3gans():
    anneal, batch = Anneal(steps=10, ema_images=5e6), 256
    assert float(anneal.ema_decay(jnp.asarray(0), batch)) == 0.0  # the average starts as G itself
    for step in (3, 10, 50):
        half_life = r3gan_cosine(step * batch, 0.0, 10 * batch, 5e6)
        np.testing.assert_allclose(
            float(anneal.ema_decay(jnp.asarray(step), batch)), 0.5 ** (batch / half_life)
        )


def test_the_train_step_averages_g_with_the_steps_decay():
    c = load_config("configs/gan_mlp.py:ring,r3gan,smoke")
    c.train.steps_per_call = 1
    run = experiment.build(c, jax.devices()[:1])
    state, arrays = run.initial_state(), run.training_arrays()
    step = jax.jit(experiment.train_step(c, run.gan, run.source))
    first, _ = step(state, arrays)
    chex.assert_trees_all_equal(first.g_ema, first.g.variables)  # decay 0 at step 0: G itself
    second, _ = step(first, arrays)
    decay = 0.5 ** (c.train.batch_size / r3gan_cosine(1, 0.0, c.anneal.steps, c.anneal.ema_images))
    expected = jax.tree.map(lambda new, old: (1 - decay) * new + decay * old, second.g.variables, first.g_ema)
    chex.assert_trees_all_close(second.g_ema, expected, rtol=1e-6, atol=1e-7)


def test_r1_and_r2_anneal_to_gamma_and_other_penalties_hold():
    reg = regularizers.Regularization(r1=0.05, r2=0.05, gradient_penalty=10.0)
    anneal = Anneal(steps=4, gamma=0.005)
    x, y = jnp.linspace(-1, 1, 12).reshape(4, 3), jnp.linspace(0, 2, 12).reshape(4, 3)
    d = lambda v: jnp.sum(jnp.sin(3 * v) * v, axis=1)  # noqa: E731  a smooth critic
    key = jax.random.PRNGKey(0)
    terms = {
        name: float(regularizers.PENALTIES[name](d, d, x, y, k))
        for name, k in zip(reg.penalties, jax.random.split(key, 3), strict=True)
    }
    for step in (0, 2, 4, 9):
        gamma = r3gan_cosine(step, 0.05, 4, 0.005)
        expected = gamma * (terms["r1"] + terms["r2"]) + 10.0 * terms["gradient_penalty"]
        got = float(reg.d_penalty(d, d, x, y, key, jnp.asarray(step), anneal))
        np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_the_r3gan_preset_is_its_cifar10_preset_over_the_run():
    c = load_config("configs/dcgan.py:digits,r3gan")
    assert (c.loss.d, c.loss.g, c.reg.r1, c.reg.r2) == ("relativistic_pairing",) * 2 + (0.05, 0.05)
    assert all((c.optim[p].lr, c.optim[p].b1, c.optim[p].b2) == (2e-4, 0.0, 0.9) for p in "gd")
    assert (c.anneal.lr, c.anneal.b2, c.anneal.gamma) == (5e-5, 0.99, 0.005)
    assert c.anneal.steps == c.train.total_steps
    assert c.anneal.ema_images == 0.25 * c.train.total_steps * c.train.batch_size  # 5M of 20M images
    assert c.model.d.norm == "none"  # no BatchNorm under input-gradient penalties
    config_lib.validate(c)


@pytest.mark.parametrize(
    "edit, key",
    [
        (lambda c: c.anneal.update(steps=0), "anneal sets final values but steps=0"),
        (
            lambda c: c.optim.d.update(decay_steps=10),
            "config.anneal.lr cannot anneal with config.optim.*.decay_steps",
        ),
        (lambda c: c.optim.g.update(name="sgd"), "config.anneal.b2 cannot anneal with an sgd optimiser"),
        (lambda c: c.reg.update(r1=0.0, r2=0.0), "config.anneal.gamma cannot anneal with no R1 or R2"),
        (
            lambda c: c.train.update(ema_decay=0.999),
            "config.anneal.ema_images cannot anneal with config.train.ema_decay",
        ),
        (lambda c: c.anneal.update(b2=1.0), "config.anneal.b2=1.0 must be below 1"),
    ],
)
def test_what_cannot_be_annealed_is_one_line(edit, key):
    c = load_config("configs/gan_mlp.py:ring,r3gan,smoke")
    edit(c)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.").replace("*", r"\*")):
        config_lib.validate(c)


@pytest.mark.slow
def test_an_annealed_run_resumes_bit_identically(tmp_path, one_device):
    """The optimisers' annealed hyperparameters and G's EMA are state: resumed at step 20 of 40,
    the run ends where the uninterrupted one does."""

    def config(total_steps):
        c = load_config("configs/gan_mlp.py:ring,r3gan,smoke")  # anneal.steps: 40
        c.train.total_steps, c.eval.every = total_steps, 0
        return c

    straight = trainer.train_and_evaluate(config(40), str(tmp_path / "straight"), devices=one_device)
    trainer.train_and_evaluate(config(20), str(tmp_path / "resumed"), devices=one_device)
    resumed = trainer.train_and_evaluate(config(40), str(tmp_path / "resumed"), devices=one_device)
    lr = straight.g.opt_state.hyperparams["learning_rate"]
    np.testing.assert_allclose(float(lr), r3gan_cosine(39, 2e-4, 40, 5e-5), rtol=1e-6)  # the last update's
    chex.assert_trees_all_equal(resumed, straight)
