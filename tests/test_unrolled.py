"""The unrolled GAN (Metz et al. 2017): G's loss against D after k differentiable D steps.
(k = 0, the default, is the plain step: tests/test_steps.py pins its metrics.)"""

import dataclasses
import functools

import chex
import jax
import jax.numpy as jnp
import optax
import pytest
from helpers import build_run, load_config, tree_equal

from benchmarks import unrolled_gradient
from gan_jax import losses, schedule, steps, trainer
from gan_jax.schedule import Schedule

KEY, DRAW = jax.random.PRNGKey(3), jnp.int32(2)
D_LR, G_LR = 0.1, 0.05


def _run(unroll_steps: int, g_loss: str = "non_saturating"):
    def edit(config):
        config.train.unroll_steps = unroll_steps
        config.loss.g = g_loss
        config.optim.d.update(name="sgd", lr=D_LR, b1=0.0)  # one plain SGD step: the reference's
        config.optim.g.update(name="sgd", lr=G_LR, b1=0.0)

    config, source, gan, state, arrays = build_run("configs/gan_mlp.py:smoke", edit)
    return steps.StepContext(gan, source, config.train.batch_size, unroll_steps=unroll_steps), state, arrays


def _g_gradient(ctx, state, arrays):
    """G's gradient in the project's G update, read off one SGD step of G."""
    new, _ = jax.jit(functools.partial(steps.g_update, ctx))(state, arrays, KEY, DRAW)
    return jax.tree.map(lambda p0, p1: (p0 - p1) / G_LR, state.g.params, new.g.params)


def _d_by_hand(at, state, batches, g_params, k: int):
    """(D's loss with its outputs, as a function of D's parameters and differentiable in G's; D's
    parameters after k explicit SGD steps of it): the unrolling written out, for the references."""
    g_variables = {"params": g_params, "batch_stats": state.g.batch_stats}
    d_loss = lambda p: steps.d_loss(  # noqa: E731
        p, state.d.batch_stats, g_variables, at, batches, KEY, stop_gradient_fake=False
    )
    d_params = state.d.params
    for _ in range(k):
        d_params = jax.tree.map(
            lambda p, g: p - D_LR * g, d_params, jax.grad(lambda p: d_loss(p)[0])(d_params)
        )
    return d_loss, d_params


def _g_loss_against(at, state, batches, g_params, d_params):
    """G's loss against D with `d_params`, no unrolling: the references' last step."""
    plain = dataclasses.replace(at, unroll_steps=0)
    return steps.g_loss(g_params, state.g.batch_stats, state.d.replace(params=d_params), plain, batches, KEY)[
        0
    ]


def test_k_unrolled_steps_equal_the_gradient_through_k_explicit_sgd_steps_of_d():
    """The reference recomputes G's samples in each of D's steps and in G's loss (the same noise
    every time); the update makes them once and carries every step's gradient back through them."""
    k = 3
    ctx, state, arrays = _run(k)
    at = ctx.at(state)
    batches = steps.d_batches(at, arrays, steps._G_DATA_STREAM, DRAW)  # what G's update draws

    def reference_loss(g_params):  # by hand: k SGD steps of D, G's loss against the last D
        _, d_params = _d_by_hand(at, state, batches, g_params, k)
        return _g_loss_against(at, state, batches, g_params, d_params)

    want = jax.jit(jax.grad(reference_loss))(state.g.params)
    got = _g_gradient(ctx, state, arrays)
    chex.assert_trees_all_close(got, want, rtol=2e-4, atol=1e-6)
    plain = _g_gradient(dataclasses.replace(ctx, unroll_steps=0), state, arrays)
    assert not jnp.allclose(
        jax.tree.leaves(got)[0], jax.tree.leaves(plain)[0], rtol=1e-2
    )  # unrolling matters


def test_with_unroll_through_d_off_g_plays_the_unrolled_d_held_fixed():
    """`unroll_through_d=False`: G's gradient is its loss's against D after k steps, those steps
    not differentiated (Metz et al.'s second term dropped) -- and differs from the full one."""
    k = 2
    ctx, state, arrays = _run(k)
    at = ctx.at(state)
    batches = steps.d_batches(at, arrays, steps._G_DATA_STREAM, DRAW)
    # a constant in G's parameters; compiled whole: op by op, each op is a program of its own
    d_params = jax.jit(lambda g_params: _d_by_hand(at, state, batches, g_params, k)[1])(state.g.params)
    reference_loss = functools.partial(_g_loss_against, at, state, batches, d_params=d_params)
    got = _g_gradient(dataclasses.replace(ctx, unroll_through_d=False), state, arrays)
    chex.assert_trees_all_close(got, jax.jit(jax.grad(reference_loss))(state.g.params), rtol=2e-4, atol=1e-6)
    through_d = _g_gradient(ctx, state, arrays)
    assert not jnp.allclose(jax.tree.leaves(got)[0], jax.tree.leaves(through_d)[0], rtol=1e-2)


def test_unrolled_steps_leave_d_to_its_own_update():
    """Only G's update looks ahead: D's parameters after a step are those of the plain step."""
    ctx, state, arrays = _run(3)
    step = lambda unroll: schedule.make_train_step(
        ctx.gan, ctx.source, ctx.batch_size, Schedule(unroll_steps=unroll)
    )  # noqa: E731
    unrolled, plain = (jax.jit(step(k))(state, arrays)[0] for k in (3, 0))
    assert tree_equal(unrolled.d, plain.d)
    assert not tree_equal(unrolled.g.params, plain.g.params)


def test_the_unrolled_minimax_g_minimises_minus_ds_own_loss_at_the_unrolled_d():
    """With the saturating loss G minimises V at D's unrolled parameters -- minus D's loss there,
    real term included (poolio/unrolled_gan: `minimize(-unrolled_loss)`): E log D_k(x) depends on G
    through D's steps. Without it the gradient differs."""
    k = 2
    ctx, state, arrays = _run(k, "saturating")
    at = ctx.at(state)
    batches = steps.d_batches(at, arrays, steps._G_DATA_STREAM, DRAW)

    def minus_d_loss_after_k_steps(g_params, real_term=True):
        d_loss, d_params = _d_by_hand(at, state, batches, g_params, k)
        _, (real, fake, _) = d_loss(d_params)
        return -losses.minimax_d_loss(real if real_term else jax.lax.stop_gradient(real), fake)

    got = _g_gradient(ctx, state, arrays)
    chex.assert_trees_all_close(
        got, jax.jit(jax.grad(minus_d_loss_after_k_steps))(state.g.params), rtol=2e-4, atol=1e-6
    )
    fake_term_alone = jax.jit(jax.grad(functools.partial(minus_d_loss_after_k_steps, real_term=False)))
    assert not jnp.allclose(
        jax.tree.leaves(got)[0], jax.tree.leaves(fake_term_alone(state.g.params))[0], rtol=1e-2
    )


def test_the_gradient_terms_benchmark_splits_g_s_gradient_into_held_fixed_and_through_d():
    """benchmarks/unrolled_gradient.py: its whole gradient is the written-out one through D's k
    SGD steps, its held-fixed term G's loss's against those steps' D taken as a constant."""
    k = 2
    ctx, state, arrays = _run(k)
    at = ctx.at(state)
    batches = steps.d_batches(at, arrays, steps._G_DATA_STREAM, DRAW)

    def through_d(g_params):
        return _g_loss_against(at, state, batches, g_params, _d_by_hand(at, state, batches, g_params, k)[1])

    d_params = _d_by_hand(at, state, batches, state.g.params, k)[1]
    held_fixed = functools.partial(_g_loss_against, at, state, batches, d_params=d_params)
    got = jax.jit(functools.partial(unrolled_gradient.gradients, at))(state, batches, KEY)
    for term, reference in [("whole", through_d), ("held_fixed", held_fixed)]:
        want = jax.jit(jax.grad(reference))(state.g.params)
        chex.assert_trees_all_close(got[term], want, rtol=2e-4, atol=1e-6)
    chex.assert_trees_all_close(got["through_d"], jax.tree.map(jnp.subtract, got["whole"], got["held_fixed"]))
    assert optax.tree.norm(got["through_d"]) > 0.01 * optax.tree.norm(got["whole"])


@pytest.mark.slow
def test_at_a_checkpoint_a_d_that_its_steps_do_not_move_has_no_through_d_term(tmp_path, one_device):
    """With D's learning rate 0 its unrolled steps leave it where it is: the whole gradient is the
    held-fixed one (cosine 1, through-D norm 0). A run without unrolling is refused in one line."""

    def trained(name: str, unroll_steps: int) -> str:
        config = load_config("configs/gan_mlp.py:smoke")
        config.train.update(unroll_steps=unroll_steps, total_steps=config.train.steps_per_call)
        config.optim.d.update(name="sgd", lr=0.0, b1=0.0)
        trainer.train_and_evaluate(config, str(tmp_path / name), devices=one_device)
        return str(tmp_path / name)

    row = unrolled_gradient.gradient_terms(trained("still", 2), batches=2)
    assert (row["unroll_steps"], row["norm_through_d"]) == (2, 0.0)
    assert row["norm_whole"] == row["norm_held_fixed"] > 0
    assert abs(row["cosine_whole_held_fixed"] - 1) < 1e-5
    with pytest.raises(
        SystemExit, match="does not unroll D .train.unroll_steps=0.: it has one gradient term"
    ):
        unrolled_gradient.gradient_terms(trained("plain", 0), batches=2)
