"""The Improved-GAN techniques and class conditioning: each one's defining property, and each
technique's smoke config trained end to end."""

import dataclasses
import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import build_run, load_config, normal, run_steps, tree_equal

from gan_jax import data, losses, regularizers, schedule, steps, trainer
from gan_jax.models import apply
from gan_jax.models.layers import MinibatchDiscrimination, VirtualBatchNorm

# ----- one-sided label smoothing ---------------------------------------------------------------


def test_one_sided_label_smoothing_hand_computed():
    r, f = jnp.array([2.0, -1.0]), jnp.array([0.5, -3.0])
    sp = lambda v: np.log1p(np.exp(v))  # noqa: E731
    expected = np.mean(0.9 * sp(-np.array([2.0, -1.0])) + 0.1 * sp(np.array([2.0, -1.0]))) + np.mean(
        sp(np.array([0.5, -3.0]))
    )
    np.testing.assert_allclose(losses.minimax_d_loss(r, f, real_label=0.9), expected, rtol=1e-6)
    # The fake side is never smoothed: its term is the same whatever the real label.
    fake_term = lambda a: (
        losses.minimax_d_loss(jnp.zeros(2), f, a) - losses.minimax_d_loss(jnp.zeros(2), -1e9 * jnp.ones(2), a)
    )  # noqa: E731
    np.testing.assert_allclose(fake_term(0.9), fake_term(1.0), rtol=1e-6)
    np.testing.assert_allclose(losses.minimax_d_loss(r, f, 1.0), -losses.value_function(r, f), rtol=1e-6)


# ----- feature matching ----------------------------------------------------------------------


def test_feature_matching_loss_is_zero_for_equal_features_and_matches_a_reference():
    a = normal(0, (16, 4, 4, 8))[0]
    assert float(losses.feature_matching_loss(a, a)) == 0.0
    assert float(losses.feature_matching_loss(a, a[::-1])) == pytest.approx(0.0, abs=1e-10)  # means only
    b = a + 0.5
    expected = np.sum((np.asarray(a).reshape(16, -1).mean(0) - np.asarray(b).reshape(16, -1).mean(0)) ** 2)
    np.testing.assert_allclose(losses.feature_matching_loss(a, b), expected, rtol=1e-5)


def test_feature_matching_updates_only_g_and_uses_the_chosen_layer():
    config, source, gan, state, arrays = build_run(
        "configs/dcgan.py:smoke", lambda c: c.loss.update(g="feature_matching", feature_layer=0)
    )
    losses_by_layer = {}
    for layer in (0, -1):  # D's first stage (16x16 -> 8x8 maps) and its last
        config.loss.feature_layer = layer
        layer_gan = dataclasses.replace(gan, objective=losses.objective(config.loss))
        _, g_update = steps.make_updates(layer_gan, source, config.train.batch_size)
        new_state, metrics = jax.jit(g_update)(state, arrays, jax.random.PRNGKey(3), jnp.int32(0))
        assert tree_equal(new_state.d, state.d)  # D is not updated by G's feature-matching loss
        assert not tree_equal(new_state.g.params, state.g.params)
        losses_by_layer[layer] = float(metrics["g_loss"])
    # Same state, same keys: only the matched layer differs, and so must the loss.
    assert losses_by_layer[0] != losses_by_layer[-1] and min(losses_by_layer.values()) > 0


# ----- minibatch discrimination ----------------------------------------------------------------


def test_minibatch_discrimination_matches_a_loop_reference():
    layer = MinibatchDiscrimination(num_kernels=3, kernel_dim=4)
    f = normal(0, (5, 6))[0]
    params = layer.init(jax.random.PRNGKey(1), f)
    out = np.asarray(layer.apply(params, f))
    m = (np.asarray(f) @ np.asarray(params["params"]["T"])).reshape(5, 3, 4)
    expected = np.zeros((5, 3))
    for i, j, b in itertools.product(range(5), range(5), range(3)):
        if i != j:  # summed over the *other* examples
            expected[i, b] += np.exp(-np.abs(m[i, b] - m[j, b]).sum())
    np.testing.assert_allclose(out[:, :6], f, rtol=1e-6)
    np.testing.assert_allclose(out[:, 6:], expected, rtol=1e-5)


def test_minibatch_discrimination_sees_the_global_batch():
    """1 device = 8 devices: the pairwise term spans the whole batch, not each device's share."""

    config = load_config("configs/dcgan.py:smoke")
    config.model.d.minibatch_kernels = 8
    for opt in (config.optim.g, config.optim.d):
        opt.update(name="sgd", lr=0.05, b1=0.5)
    # One step: the two runs differ by round-off (reduction order), which this term amplifies: G's
    # weights 2e-6 apart after one step, 2e-3 after two (AMD EPYC); per-device pairs would change
    # the minibatch features themselves, and the first step's updates with them, at O(1).
    config.train.steps_per_call = 1
    one, _ = run_steps(config, jax.devices()[:1], calls=1)
    eight, _ = run_steps(config, jax.devices(), calls=1)
    chex.assert_trees_all_close(eight.d.params, one.d.params, rtol=1e-5, atol=1e-5)
    chex.assert_trees_all_close(eight.g.params, one.g.params, rtol=1e-5, atol=1e-5)


# ----- virtual batch normalisation -------------------------------------------------------------


def test_virtual_batch_norm_output_does_not_depend_on_the_rest_of_the_batch():
    config, source, gan, state, _ = build_run(
        "configs/dcgan.py:smoke", lambda c: c.model.g.update(norm="virtual_batch")
    )
    assert state.vbn_reference["z"].shape == (config.model.g.vbn_ref_size, config.model.z_dim)
    z = jnp.asarray(normal(5, (6, gan.z_dim))[0])
    y = jnp.zeros(6, jnp.int32)
    generate = jax.jit(
        lambda z, y: apply.generate(gan, state.g.variables, z, y, True, state.vbn_reference)[0]
    )
    a = generate(z, y)
    b = generate(z.at[1:].set(normal(6, (5, gan.z_dim))[0]), y)
    alone = generate(z[:1], y[:1])
    np.testing.assert_allclose(a[0], b[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a[0], alone[0], rtol=1e-5, atol=1e-6)
    assert not np.allclose(a[1], b[1])


def test_virtual_batch_norm_statistics():
    """Reference rows: their own statistics; other rows: reference and themselves, 1/(R+1)."""
    x = normal(0, (5, 2, 2, 3))[0] * 3 + 1
    layer = VirtualBatchNorm(ref_size=3, epsilon=0.0)
    out = np.asarray(layer.apply(layer.init(jax.random.PRNGKey(1), x), x))
    xs = np.asarray(x)
    scale = np.asarray(layer.init(jax.random.PRNGKey(1), x)["params"]["scale"])
    ref_mean, ref_sq = xs[:3].mean((0, 1, 2)), (xs[:3] ** 2).mean((0, 1, 2))
    own_mean, own_sq = xs[4].mean((0, 1)), (xs[4] ** 2).mean((0, 1))
    mean, sq = (own_mean + 3 * ref_mean) / 4, (own_sq + 3 * ref_sq) / 4
    np.testing.assert_allclose(out[4], (xs[4] - mean) / np.sqrt(sq - mean**2) * scale, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        out[0], (xs[0] - ref_mean) / np.sqrt(ref_sq - ref_mean**2) * scale, rtol=1e-4, atol=1e-5
    )


# ----- historical averaging --------------------------------------------------------------------


def test_historical_average_is_the_mean_of_the_recorded_parameters():
    config, source, gan, state, arrays = build_run(
        "configs/gan_mlp.py:smoke", lambda c: c.loss.update(g_historical=0.01, d_historical=0.01)
    )
    step = jax.jit(schedule.make_train_step(gan, source, config.train.batch_size))
    g_seen, d_seen = [state.g.params], [state.d.params]
    for _ in range(3):
        state, _ = step(state, arrays)
        g_seen.append(state.g.params)
        d_seen.append(state.d.params)
    mean = lambda seen: jax.tree.map(lambda *v: np.mean(np.stack(v), 0), *seen)  # noqa: E731
    chex.assert_trees_all_close(state.g_history.mean, mean(g_seen), rtol=1e-5, atol=1e-7)
    chex.assert_trees_all_close(state.d_history.mean, mean(d_seen), rtol=1e-5, atol=1e-7)
    assert float(state.g_history.count) == 4.0


def test_historical_penalty_and_its_running_mean():
    params = {"a": jnp.array([1.0, 2.0]), "b": jnp.array(3.0)}
    history = regularizers.RunningMean.start({"a": jnp.array([0.0, 2.0]), "b": jnp.array(1.0)})
    assert float(regularizers.historical_penalty(0.5, history, params)) == pytest.approx(
        0.5 * (1.0 + 0.0 + 4.0)
    )
    assert float(regularizers.historical_penalty(0.5, None, params)) == 0.0
    after = regularizers.remember(
        regularizers.remember(history, params), {"a": jnp.zeros(2), "b": jnp.array(2.0)}
    )
    np.testing.assert_allclose(after.mean["a"], [1 / 3, 4 / 3], rtol=1e-6)  # the mean of all three
    assert float(after.count) == 3.0 and float(after.mean["b"]) == pytest.approx(2.0)
    assert regularizers.remember(None, params) is None


# ----- semi-supervised K+1 discriminator -------------------------------------------------------


def test_semi_supervised_discriminator():
    class_logits = jnp.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    z = np.exp(np.asarray(class_logits)).sum(1)
    np.testing.assert_allclose(jax.nn.sigmoid(losses.real_fake_logit(class_logits)), z / (z + 1), rtol=1e-6)
    picked = data.labelled_subset(np.array([0, 1, 0, 1, 1, 0]), 4, 2)
    np.testing.assert_array_equal(picked, [0, 1, 2, 3])  # the first two of each class
    with pytest.raises(ValueError, match="multiple of the 2 classes"):
        data.labelled_subset(np.array([0, 1]), 3, 2)


def test_semi_supervised_step_trains_a_k_class_d():
    config, source, gan, state, arrays = build_run(
        "configs/gan_mlp.py:smoke",
        lambda c: (
            c.loss.update(d="semi_supervised", g="feature_matching", num_labelled=40)
            or c.data.update(name="digits", image_size=8)
        ),
    )
    assert arrays["labelled"].shape == (40,)
    logits = gan.discriminator.apply({"params": state.d.params}, jnp.zeros((2, 8, 8, 1)), train=False)
    assert logits.shape == (2, 10)
    step = jax.jit(schedule.make_train_step(gan, source, config.train.batch_size))
    new_state, metrics = step(state, arrays)
    assert np.isfinite(float(metrics["d_loss"])) and not tree_equal(new_state.d.params, state.d.params)


# ----- conditioning ----------------------------------------------------------------------------


@pytest.mark.parametrize("g_condition,d_condition", [("concat", "concat"), ("conditional_bn", "projection")])
def test_conditional_networks_use_the_label(g_condition, d_condition):
    config, source, gan, state, _ = build_run(
        "configs/dcgan.py:smoke",
        lambda c: c.model.update(
            conditional=True, g=dict(condition=g_condition), d=dict(condition=d_condition)
        ),
    )
    assert gan.num_classes == 10
    z = jnp.tile(normal(0, (1, gan.z_dim))[0], (4, 1))
    y = jnp.array([0, 1, 2, 3])
    images = jax.jit(lambda v: apply.generate(gan, v, z, y, False, None)[0])(state.g.variables)  # one program
    assert not np.allclose(images[0], images[1])  # same z, different label: different image
    x = jnp.tile(images[:1], (4, 1, 1, 1))
    logits = jax.jit(lambda v: gan.discriminator.apply(v, x, y, train=False))(state.d.variables)
    assert (
        len(set(np.asarray(logits).tolist())) == 4
    )  # same image, different labels (D's logits at init are ~1e-6)


def test_projection_head_adds_the_inner_product():
    from gan_jax.models.layers import DiscriminatorHead

    head = DiscriminatorHead(projection_classes=3)
    h, y = normal(0, (4, 5))[0], jnp.array([0, 2, 1, 2])
    params = head.init(jax.random.PRNGKey(1), h, y)["params"]
    w, b, e = params["to_logit"]["kernel"], params["to_logit"]["bias"], params["projection"]["embedding"]
    expected = (h @ w)[:, 0] + b[0] + jnp.sum(e[y] * h, axis=-1)
    np.testing.assert_allclose(head.apply({"params": params}, h, y), expected, rtol=1e-5)


# ----- every technique's smoke config ----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("arg", ["grid,all", "digits,all"])  # every technique that applies, at once
def test_technique_smoke_runs_resume_exactly(arg, tmp_path, one_device):
    """Every technique trains end to end, and its state (VBN's reference batch, the historical
    averages) is checkpointed: a run resumed half-way ends bit-identical to the uninterrupted one."""
    spec = f"configs/improved_gan.py:{arg},smoke"
    straight = trainer.train_and_evaluate(load_config(spec), str(tmp_path / "straight"), devices=one_device)
    half = load_config(spec)
    half.train.total_steps //= 2
    trainer.train_and_evaluate(half, str(tmp_path / "resumed"), devices=one_device)
    resumed = trainer.train_and_evaluate(load_config(spec), str(tmp_path / "resumed"), devices=one_device)
    assert int(resumed.step) == load_config(spec).train.total_steps
    assert straight.g_history is not None and (straight.vbn_reference is not None) == arg.startswith("digits")
    for a, b in zip(jax.tree.leaves(straight), jax.tree.leaves(resumed), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_conditional_metric_on_a_generator_that_honours_labels():
    from gan_jax import evaluation

    config, source, gan, state, _ = build_run("configs/cgan.py:ring,smoke")
    evaluator = evaluation.Evaluator(config, gan, source, ("conditional",))

    def honest(n):  # the mode's mean plus its noise, for each requested label
        labels = evaluator.bank.generated_labels(n)
        return source.mixture.means[labels] + 0.01 * np.random.default_rng(0).normal(size=(n, 2))

    result = evaluator(state, 0, sampler=honest)["metrics"]["conditional"]
    assert result["accuracy"] == 1.0 and result["per_class_accuracy"] == [1.0] * 8
    one_mode = lambda n: np.tile(source.mixture.means[:1], (n, 1))  # noqa: E731
    assert evaluator(state, 0, sampler=one_mode)["metrics"]["conditional"]["accuracy"] == pytest.approx(1 / 8)


@pytest.mark.slow
def test_cgan_run_writes_a_per_class_grid_and_the_sample_cli(tmp_path, one_device):
    import json
    import subprocess
    import sys

    from helpers import JAX_CACHE, REPO

    config = load_config("configs/cgan.py:digits,smoke")
    trainer.train_and_evaluate(config, str(tmp_path), devices=one_device)
    row = json.loads((tmp_path / "eval.jsonl").read_text().splitlines()[-1])
    assert "conditional/accuracy" in row  # the metric's value: test_conditional_metric_on_a_generator...
    command = [
        sys.executable,
        "-m",
        "experiments.sample",
        f"--workdir={tmp_path}",
        f"--jax_cache_dir={JAX_CACHE}",
    ]
    result = subprocess.run(
        [*command, "--label=3", "--n=16"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "samples_label3_step8.png").exists()
    missing = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert missing.returncode != 0 and "pass --label=0..9" in missing.stderr + missing.stdout


@pytest.mark.slow
def test_semi_supervised_smoke_reports_a_test_error(tmp_path, one_device):
    import json

    config = load_config("configs/semi_supervised.py:smoke")
    trainer.train_and_evaluate(config, str(tmp_path), devices=one_device)
    result = json.loads((tmp_path / "eval_20.json").read_text())["metrics"]["semi_supervised"]
    assert (
        result["protocol"]["test"] == "digits split 'train[1400:]': 397 held-out examples, never trained on"
    )
    # The same count, from the saved D applied to the held-out images here.
    _, gan, _, state = trainer.restore_run(str(tmp_path), devices=one_device)
    heldout = data.load_heldout(config.data)
    images = heldout.arrays["x"].astype(np.float32) / 127.5 - 1.0
    logits = apply.apply_net(gan.discriminator, state.d.variables, images, train=False)[0]
    errors = int((np.argmax(logits, -1) != heldout.arrays["label"]).sum())
    assert result["errors"] == errors and result["errors_per_10000"] == pytest.approx(10_000 * errors / 397)
