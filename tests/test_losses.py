"""The GAN objectives against values computed by hand, including extreme logits."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import losses


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
