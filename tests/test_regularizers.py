"""Penalties on D's gradients against finite differences, their laziness, weight clipping, the
Dirac-GAN of Mescheder et al. 2018, a WGAN-GP run that pulls the critic's gradient norm to 1, and
spectral normalisation."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import build_run, load_config, normal

from gan_jax import losses, models, regularizers, schedule, steps
from gan_jax.models import apply
from gan_jax.schedule import Schedule

W = normal(0, (3, 5))[0]


def critic(x):  # a smooth, non-linear D with independent examples
    return jnp.sum(jnp.tanh(x @ W) ** 2, axis=-1)


def finite_difference_gradients(d, x, eps=1e-3):
    x = np.asarray(x, np.float64)
    grads = np.zeros_like(x)
    for i in range(x.shape[1]):
        step = np.zeros_like(x)
        step[:, i] = eps
        grads[:, i] = (
            np.asarray(d(jnp.asarray(x + step, jnp.float32)))
            - np.asarray(d(jnp.asarray(x - step, jnp.float32)))
        ) / (2 * eps)
    return grads


REAL = normal(1, (6, 3))[0]
FAKE = normal(2, (6, 3))[0] + 1.0
KEY = jax.random.PRNGKey(3)


def test_r1_and_r2_against_finite_differences():
    r1 = 0.5 * np.mean(np.sum(finite_difference_gradients(critic, REAL) ** 2, axis=1))
    r2 = 0.5 * np.mean(np.sum(finite_difference_gradients(critic, FAKE) ** 2, axis=1))
    np.testing.assert_allclose(regularizers.r1_penalty(critic, critic, REAL, FAKE, KEY), r1, rtol=2e-3)
    np.testing.assert_allclose(regularizers.r2_penalty(critic, critic, REAL, FAKE, KEY), r2, rtol=2e-3)


def test_gradient_penalty_against_finite_differences():
    e = jax.random.uniform(KEY, (6, 1))  # the penalty's own draw of interpolation weights
    interpolates = e * REAL + (1 - e) * FAKE
    norms = np.linalg.norm(finite_difference_gradients(critic, interpolates), axis=1)
    expected = np.mean((norms - 1.0) ** 2)
    np.testing.assert_allclose(
        regularizers.gradient_penalty(critic, critic, REAL, FAKE, KEY), expected, rtol=2e-3
    )


def test_dragan_penalty_in_closed_form_on_perturbed_real_data():
    """D(x) = |x|^2 / 2 has gradient x: on real points half at 0, half at 2 (std 1), DRAGAN's
    x_hat = x + a 0.5 u (a, u ~ U[0, 1]) gives E (|x_hat| - 1)^2 = (7/9 + 23/18) / 2 = 37/36
    (E au = 1/4, E (au)^2 = 1/9); the perturbation at full std, or WGAN-GP's interpolates, would not.
    A linear critic's gradient is its weight vector wherever the points are: (|w| - 1)^2."""
    real = jnp.concatenate([jnp.zeros((20000, 1)), jnp.full((20000, 1), 2.0)])
    quadratic = lambda x: 0.5 * jnp.sum(x**2, axis=-1)  # noqa: E731
    penalty = regularizers.dragan_penalty(quadratic, quadratic, real, real, KEY)
    np.testing.assert_allclose(penalty, 37 / 36, atol=0.01)
    w = jnp.array([0.6, 0.0, 1.2])
    linear = regularizers.dragan_penalty(lambda x: x @ w, None, REAL, FAKE, KEY)
    np.testing.assert_allclose(linear, (np.linalg.norm(w) - 1.0) ** 2, rtol=1e-5)
    assert regularizers.regularization(regularizers.config_section()).penalties == {}
    assert regularizers.Regularization(dragan=10.0).penalties == {"dragan": 10.0}


def test_lazy_penalties_apply_every_kth_step_times_k():
    eager = regularizers.Regularization(r1=2.0)
    lazy = regularizers.Regularization(r1=2.0, every=4)
    once = float(eager.d_penalty(critic, critic, REAL, FAKE, KEY, jnp.int32(1)))
    assert once > 0
    assert float(lazy.d_penalty(critic, critic, REAL, FAKE, KEY, jnp.int32(5))) == 0.0
    np.testing.assert_allclose(
        lazy.d_penalty(critic, critic, REAL, FAKE, KEY, jnp.int32(8)), 4 * once, rtol=1e-6
    )


def test_r1_through_the_custom_vjp_convolutions_equals_flax_convolutions():
    """R1's gradient w.r.t. D's parameters differentiates D's input gradient (grad of grad):
    through models/conv.py's custom VJPs it must equal the same through XLA's own convolutions."""
    config = load_config("configs/dcgan.py:smoke")
    x = normal(0, (4, 16, 16, 1))[0]
    grads = {}
    for impl in ("custom_vjp", "flax"):
        config.model.d.conv_impl = impl
        _, d = models.build(config.model, (16, 16, 1))
        variables = jax.jit(lambda key, d=d: d.init(key, x, train=False))(jax.random.PRNGKey(0))

        def r1(params, d=d, variables=variables):
            out = lambda v: d.apply({**variables, "params": params}, v, train=False)  # noqa: E731
            return regularizers.r1_penalty(out, out, x, x, KEY)

        grads[impl] = jax.jit(jax.grad(r1))(variables["params"])  # one program, not one per op
    for a, b in zip(jax.tree.leaves(grads["custom_vjp"]), jax.tree.leaves(grads["flax"]), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_weight_clipping_bounds_every_parameter_of_d():
    config, source, gan, state, arrays = build_run(
        "configs/gan_mlp.py:smoke", lambda c: c.loss.update(d="wasserstein", g="wasserstein")
    )
    gan = dataclasses.replace(gan, reg=regularizers.Regularization(weight_clip=0.01))
    d_update, _ = steps.make_updates(gan, source, config.train.batch_size)
    new_state, _ = jax.jit(d_update)(state, arrays, KEY, jnp.int32(0))
    assert max(float(jnp.max(jnp.abs(p))) for p in jax.tree.leaves(new_state.d.params)) <= 0.01
    assert max(float(jnp.max(jnp.abs(p))) for p in jax.tree.leaves(state.d.params)) > 0.01


def dirac_gan(reg: regularizers.Regularization, steps_: int = 1000, h: float = 0.1) -> np.ndarray:
    """Mescheder et al.'s Dirac-GAN: data at 0, G = theta, D(x) = psi x, the non-saturating
    objective and the penalty taken from the project's tables; alternating gradient steps from
    (theta, psi) = (1, 1). Returns the distance to the equilibrium (0, 0) after every step."""
    objective, real = losses.Objective(), jnp.zeros((1, 1))

    def d_loss(psi, theta, step):
        d = lambda x: psi * x[:, 0]  # noqa: E731
        fake = jnp.full((1, 1), theta)
        return objective.d_loss(d(real), d(fake)) + reg.d_penalty(d, d, real, fake, KEY, step)

    def step(carry, i):
        theta, psi = carry
        psi = psi - h * jax.grad(d_loss)(psi, theta, i)
        theta = theta - h * jax.grad(lambda t: objective.g_loss(psi * jnp.array([t])))(theta)
        return (theta, psi), jnp.hypot(theta, psi)

    _, distance = jax.jit(lambda: jax.lax.scan(step, (1.0, 1.0), jnp.arange(steps_)))()
    return np.asarray(distance)


def test_r1_makes_the_dirac_gan_converge():
    plain, with_r1 = dirac_gan(regularizers.Regularization()), dirac_gan(regularizers.Regularization(r1=1.0))
    assert with_r1[-1] < 1e-3
    # Without it the iterates circle the equilibrium: the linearised step has its eigenvalues on
    # the unit circle (Mescheder et al., Lemma 2.3), and the non-linear terms close in only
    # slowly (measured: 1.38 -> 0.28 after 1,000 steps, 0.09 after 10,000).
    assert plain[-1] > 0.1 and plain[-1] > 0.9 * plain[-100]


def distance_from_unit_gradient_norm(penalty: float) -> tuple[float, float, dict]:
    """Mean | ||grad D|| - 1 | at interpolates of a real and a generated batch, before and after
    50 steps of a Wasserstein critic (5 critic steps each) with the gradient penalty `penalty`."""

    def wgan(c):
        c.loss.update(d="wasserstein", g="wasserstein")
        c.reg.gradient_penalty = penalty
        c.optim.d.update(lr=1e-3, b1=0.0, b2=0.9)

    config, source, gan, state, arrays = build_run("configs/gan_mlp.py:grid,smoke", wgan)
    ctx = steps.StepContext(gan, source, config.train.batch_size)
    train = schedule.make_train_step(gan, source, config.train.batch_size, Schedule(d_steps=5))
    step = jax.jit(schedule.make_multi_step(train, 50))

    @jax.jit  # one program, not one per op
    def distance(state):
        real = steps.real_batch(ctx.at(state), arrays, None, jnp.int32(0))["x"]
        fake, _, _ = steps.fake_batch(ctx.at(state), state.g.variables, KEY)
        e = jax.random.uniform(KEY, (real.shape[0], 1))
        d = lambda x: gan.discriminator.apply(state.d.variables, x, train=False)  # noqa: E731
        grads = jax.grad(lambda x: jnp.sum(d(x)))(e * real + (1 - e) * fake)
        return jnp.mean(jnp.abs(jnp.linalg.norm(grads, axis=1) - 1.0))

    before = float(distance(state))
    state, metrics = step(state, arrays)
    return before, float(distance(state)), metrics


@pytest.mark.slow
def test_wgan_gp_pulls_the_critics_gradient_norm_towards_one():
    before, after, metrics = distance_from_unit_gradient_norm(10.0)
    _, unconstrained, _ = distance_from_unit_gradient_norm(0.0)
    # Measured: 0.436 at the start; after 50 steps 0.181 with the penalty, 27.0 without.
    assert after < 0.5 * before and after < 0.5 * unconstrained
    assert "W" in metrics and "d_real" not in metrics  # a critic's diagnostics, not D(x)


def spectral_norm_estimates(batch_stats: dict) -> dict[str, jax.Array]:
    """'path/to/kernel' -> sigma, from the u/sigma entries nn.SpectralNorm keeps in batch_stats."""
    found = {}
    for scope in batch_stats.values():
        if isinstance(scope, dict):
            found.update({k.removesuffix("/sigma"): v for k, v in scope.items() if k.endswith("/sigma")})
    return found


@pytest.mark.parametrize("spec", ["configs/gan_mlp.py:grid,sn,smoke", "configs/dcgan.py:sn,smoke"])
def test_spectral_norm_divides_every_d_weight_by_its_top_singular_value(spec):
    config, source, gan, state, arrays = build_run(spec)
    ctx = steps.StepContext(gan, source, config.train.batch_size).at(state)
    x = steps.real_batch(ctx, arrays, None, jnp.int32(0))["x"]
    variables = state.d.variables
    training_call = jax.jit(lambda v: apply.apply_net(gan.discriminator, v, x, True)[1])
    for _ in range(30):  # the power iteration advances once per training call
        variables = {**variables, "batch_stats": training_call(variables)}
    sigmas = spectral_norm_estimates(variables["batch_stats"])
    params = jax.tree_util.tree_flatten_with_path(state.d.params)[0]
    matrices = {"/".join(k.key for k in path): w for path, w in params if w.ndim > 1}
    assert sorted(sigmas) == sorted(matrices)  # every weight matrix of D, and nothing else
    for name, w in matrices.items():
        top = np.linalg.svd(np.asarray(w).reshape(-1, w.shape[-1]), compute_uv=False)[0]
        assert abs(top / float(sigmas[name]) - 1.0) < 0.01, name  # W / sigma has top singular value 1


def test_spectral_norm_statistics_change_in_d_updates_only():
    config, source, gan, state, arrays = build_run("configs/dcgan.py:sn,smoke")
    d_update, g_update = steps.make_updates(gan, source, config.train.batch_size)
    after_d, _ = jax.jit(d_update)(state, arrays, KEY, jnp.int32(0))
    before = spectral_norm_estimates(state.d.batch_stats)
    assert any(
        float(after_d.d.batch_stats[k.split("/")[0] + "_sn"][k + "/sigma"]) != float(v)
        for k, v in before.items()
    )
    after_g, _ = jax.jit(g_update)(after_d, arrays, KEY, jnp.int32(0))
    assert jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), after_g.d, after_d.d))


def test_lecam_penalty_and_anchors_hand_computed():
    real, fake = jnp.array([1.0, 3.0]), jnp.array([-2.0, 0.5])
    anchors = regularizers.LeCamAnchors.start()
    # First batch: the debiased anchors are this batch's means, 2 and -0.75.
    expected = 0.3 * ((((1 + 0.75) ** 2) + ((3 + 0.75) ** 2)) / 2 + ((2 + 2) ** 2 + (2 - 0.5) ** 2) / 2)
    assert float(regularizers.lecam_penalty(0.3, anchors, real, fake)) == pytest.approx(expected)
    anchors = regularizers.lecam_anchors(anchors, real, fake)
    np.testing.assert_allclose([anchors.real, anchors.fake, anchors.updates], [0.02, -0.0075, 1.0], rtol=1e-6)
    # Second batch, means 0 and 0: a_R = (0.99 * 0.02 + 0) / (1 - 0.99^2), a_F likewise.
    a_real, a_fake = 0.99 * 0.02 / (1 - 0.99**2), 0.99 * -0.0075 / (1 - 0.99**2)
    r2, f2 = jnp.array([0.5, -0.5]), jnp.array([0.0, 0.0])
    expected = ((0.5 - a_fake) ** 2 + 0.0) / 2 + (a_real**2 + a_real**2) / 2
    assert float(regularizers.lecam_penalty(1.0, anchors, r2, f2)) == pytest.approx(expected, rel=1e-5)
    assert float(regularizers.lecam_penalty(1.0, None, r2, f2)) == 0.0


def test_bcr_penalises_how_far_d_moves_under_the_consistency_transform():
    from gan_jax import augment

    x = normal(3, (4, 8, 8, 1))[0]
    w = normal(4, (8, 8, 1))[0]
    d = lambda v: jnp.sum(v * w, axis=(1, 2, 3))  # noqa: E731
    key = jax.random.PRNGKey(5)
    moved = d(x) - d(augment.consistency_transform(key, x))
    expected = float(jnp.mean(moved**2))
    assert expected > 0
    assert float(regularizers.bcr_real_penalty(d, None, x, None, key)) == pytest.approx(expected, rel=1e-6)
    assert float(regularizers.bcr_fake_penalty(None, d, None, x, key)) == pytest.approx(expected, rel=1e-6)
    # reg.bcr_flip=False: the shift alone, lambda times the same mean square, through the config's path
    unflipped = regularizers.Regularization(bcr_real=10.0, bcr_flip=False)
    first = jax.random.split(key, 1)[0]  # the key of the one penalty in use
    shifted = d(x) - d(augment.consistency_transform(first, x, flip=False))
    got = unflipped.d_penalty(d, None, x, None, key, jnp.int32(0))
    assert float(got) == pytest.approx(10.0 * float(jnp.mean(shifted**2)), rel=1e-6)
    flipped = regularizers.Regularization(bcr_real=10.0).d_penalty(d, None, x, None, key, jnp.int32(0))
    assert float(flipped) != pytest.approx(float(got), rel=1e-3)
    # reg.bcr_shift: T's shift by up to that fraction of the side (1 of these 8 pixels at 1/8, 2 at 1/4)
    wider = regularizers.Regularization(bcr_real=10.0, bcr_flip=False, bcr_shift=1 / 4)
    shifted_wide = d(x) - d(augment.consistency_transform(first, x, flip=False, ratio=1 / 4))
    wide = wider.d_penalty(d, None, x, None, key, jnp.int32(0))
    assert float(wide) == pytest.approx(10.0 * float(jnp.mean(shifted_wide**2)), rel=1e-6)
    assert float(wide) != pytest.approx(float(got), rel=1e-3)
