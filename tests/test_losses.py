"""The GAN objectives against values computed by hand, including extreme logits."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import losses
from gan_jax.errors import ConfigError


def test_value_function_hand_computed():
    # D(x) = sigmoid(logit): logits 0 -> 1/2, log 3 -> 3/4, -log 3 -> 1/4.
    real = jnp.array([0.0, math.log(3.0)])
    fake = jnp.array([-math.log(3.0), 0.0])
    expected = 0.5 * (math.log(0.5) + math.log(0.75)) + 0.5 * (math.log(0.75) + math.log(0.5))
    np.testing.assert_allclose(losses.value_function(real, fake), expected, rtol=1e-6)
    np.testing.assert_allclose(losses.minimax_d_loss(real, fake), -expected, rtol=1e-6)


def test_equilibrium_value_is_minus_log_4():
    half = jnp.zeros(5)  # D = 1/2 everywhere
    np.testing.assert_allclose(losses.value_function(half, half), -math.log(4.0), rtol=1e-6)
    np.testing.assert_allclose(losses.LOG_4, math.log(4.0), rtol=1e-6)


def test_generator_losses_hand_computed():
    fake = jnp.array([math.log(3.0), -math.log(3.0)])  # D(G(z)) = 3/4, 1/4
    np.testing.assert_allclose(
        losses.saturating_g_loss(fake), 0.5 * (math.log(0.25) + math.log(0.75)), rtol=1e-6
    )
    np.testing.assert_allclose(
        losses.non_saturating_g_loss(fake), -0.5 * (math.log(0.75) + math.log(0.25)), rtol=1e-6
    )


@pytest.mark.parametrize("logit", [-1e4, -200.0, 200.0, 1e4])
def test_extreme_logits_are_finite_and_exact(logit):
    x = jnp.array([logit])
    # log(1 - sigmoid(l)) = -softplus(l) ~ -max(l, 0) for |l| large.
    np.testing.assert_allclose(losses.saturating_g_loss(x), -max(logit, 0.0), rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(losses.non_saturating_g_loss(x), max(-logit, 0.0), rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(losses.minimax_d_loss(x, x), abs(logit), rtol=1e-6)
    for fn in (losses.saturating_g_loss, losses.non_saturating_g_loss):
        assert np.isfinite(jax.grad(fn)(x)).all()
    assert np.isfinite(jax.grad(losses.minimax_d_loss, (0, 1))(x, x)).all()


def test_saturating_gradient_vanishes_where_non_saturating_does_not():
    """Goodfellow et al.'s reason for the non-saturating loss: D confidently rejects G(z)."""
    rejected = jnp.array([-10.0])
    g_sat = jax.grad(losses.saturating_g_loss)(rejected)
    g_ns = jax.grad(losses.non_saturating_g_loss)(rejected)
    assert abs(float(g_sat[0])) < 1e-4 < 0.99 < abs(float(g_ns[0]))


def test_unknown_loss_names_fail_clearly():
    with pytest.raises(ValueError, match="config.loss.g"):
        losses.Objective(g="wasserstain")
    with pytest.raises(ValueError, match="config.loss.d"):
        losses.Objective(d="hinge?")
    with pytest.raises(ValueError, match="real_label"):
        losses.Objective(real_label=0.0)


# Fixed outputs of D for the objectives of the other families: r on real, f on generated data.
R, F = jnp.array([2.0, -1.0]), jnp.array([0.5, -3.0])
SP = lambda v: math.log1p(math.exp(v))  # noqa: E731  softplus


@pytest.mark.parametrize(
    "d,g,d_expected,g_expected",
    [
        ("hinge", "hinge", (0 + 2) / 2 + (1.5 + 0) / 2, 1.25),
        ("wasserstein", "wasserstein", -1.25 - 0.5, 1.25),
        ("least_squares", "least_squares", 0.5 * (1 + 4) / 2 + 0.5 * (0.25 + 9) / 2, 0.5 * (0.25 + 16) / 2),
        (  # E r = 0.5, E f = -1.25
            "relativistic",
            "relativistic",
            (SP(-3.25) + SP(-0.25)) / 2 + (SP(0.0) + SP(-3.5)) / 2,
            (SP(0.0) + SP(3.5)) / 2 + (SP(3.25) + SP(0.25)) / 2,
        ),
        (  # pairs (2, 0.5) and (-1, -3): r - f = 1.5 and 2
            "relativistic_pairing",
            "relativistic_pairing",
            (SP(-1.5) + SP(-2.0)) / 2,
            (SP(1.5) + SP(2.0)) / 2,
        ),
        (  # given D's outputs on real data the saturating G's loss is the value V: minus D's loss
            "minimax",
            "saturating",
            (SP(-2) + SP(1)) / 2 + (SP(0.5) + SP(-3)) / 2,
            -(SP(-2) + SP(1)) / 2 - (SP(0.5) + SP(-3)) / 2,
        ),
    ],
)
def test_objectives_hand_computed(d, g, d_expected, g_expected):
    objective = losses.Objective(d=d, g=g)
    np.testing.assert_allclose(objective.d_loss(R, F), d_expected, rtol=1e-6)
    np.testing.assert_allclose(objective.g_loss(F, R), g_expected, rtol=1e-6)


def test_the_saturating_g_loss_alone_is_e_log_one_minus_d_of_g_z():
    np.testing.assert_allclose(losses.Objective(g="saturating").g_loss(F), -(SP(0.5) + SP(-3)) / 2, rtol=1e-6)


def test_every_g_loss_name_trains_its_own_loss():
    """No G loss falls through to another (the old dispatch sent every unknown name to the
    non-saturating loss): each name's loss differs from every other's on the same outputs."""
    values = {}
    for name, (family, _) in losses.G_LOSSES.items():
        if family is not None:
            d = next(d for d, (f, _) in losses.D_LOSSES.items() if f == family)
            values[name] = float(losses.Objective(d=d, g=name).g_loss(F, R))
    distinct = {values[n] for n in values if n not in ("hinge", "wasserstein")}  # both are -E D(G(z))
    assert len(distinct) == len(values) - 2 and values["hinge"] == values["wasserstein"] == 1.25


def test_diagnostics_follow_the_objective():
    minimax = losses.Objective().diagnostics(R, F)
    assert set(minimax) == {"V", "d_real", "d_fake"}
    np.testing.assert_allclose(minimax["d_real"], (1 / (1 + math.exp(-2)) + 1 / (1 + math.e)) / 2, rtol=1e-6)
    hinge = losses.Objective(d="hinge", g="hinge").diagnostics(R, F)
    assert set(hinge) == {"d_real_out", "d_fake_out"} and float(hinge["d_fake_out"]) == -1.25
    critic = losses.Objective(d="wasserstein", g="wasserstein").diagnostics(R, F)
    assert float(critic["W"]) == pytest.approx(0.5 + 1.25)


def test_top_k_keeps_the_samples_d_scores_highest():
    per_sample, scores = jnp.array([1.0, 2.0, 3.0, 4.0]), jnp.array([0.1, 0.9, 0.5, 0.7])
    assert float(losses.top_k_mean(per_sample, scores, 0.5)) == pytest.approx(3.0)  # samples 1 and 3
    assert float(losses.top_k_mean(per_sample, scores, 1.0)) == pytest.approx(2.5)
    assert float(losses.top_k_mean(per_sample, scores, 0.1)) == pytest.approx(2.0)  # at least one
    objective = losses.Objective("hinge", "hinge", top_k=0.5, top_k_decay=0.99)
    fake = jnp.array([0.1, 0.9, 0.5, 0.7])
    assert float(objective.g_loss(fake, None, epoch=0.0)) == pytest.approx(-0.55)  # k = 4: all
    assert float(objective.top_k_fraction(60.5)) == pytest.approx(0.99**60)
    assert float(objective.g_loss(fake, None, epoch=100.0)) == pytest.approx(-0.8)  # k = max(0.366, 0.5) x 4
    with pytest.raises(ConfigError, match="top_k"):
        losses.Objective("relativistic", "relativistic", top_k=0.5)
