"""Augmentation of D's inputs: DiffAugment's transforms against hand computations, ADA's pieces
against exact maps, ADA's p following the signs of D's real outputs, gradients through it all."""

import dataclasses
import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import build_run, load_config, normal

from gan_jax import augment, steps, trainer
from gan_jax.data.source import uint8_to_unit_range
from gan_jax.errors import ConfigError
from gan_jax.models.apply import apply_net
from gan_jax.writers import read_jsonl


def images(n=2, size=8, channels=1):
    """Examples whose every pixel value is distinct (a shift or a flip shows in every position)."""
    return jnp.arange(n * size * size * channels, dtype=jnp.float32).reshape(n, size, size, channels) / 100


def test_shift_moves_every_image_by_whole_pixels_with_zero_fill():
    x = images()
    out = np.asarray(augment.shift(x, jnp.array([1, -2]), jnp.array([-1, 3])))
    expected = np.zeros_like(out)
    for n, (dr, dc) in enumerate([(1, -1), (-2, 3)]):
        for i in range(8):
            for j in range(8):
                if 0 <= i + dr < 8 and 0 <= j + dc < 8:
                    expected[n, i, j] = np.asarray(x)[n, i + dr, j + dc]
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("ratio, most", [(1 / 8, 2), (1 / 16, 1)])
def test_translation_stays_within_its_ratio_of_the_image(ratio, most):
    """On 16 pixels: up to 2 at DiffAugment's 1/8, up to 1 at 1/16 (bCR's `reg.bcr_shift`)."""
    x = images(n=64, size=16)
    out = augment.translation(jax.random.PRNGKey(3), x, ratio)
    shifts, found = set(), np.zeros(64, bool)
    for dr in range(-most, most + 1):  # recover each example's shift from where pixel values went
        for dc in range(-most, most + 1):
            moved = np.asarray(augment.shift(x, jnp.full(64, dr), jnp.full(64, dc)))
            same = np.all(np.asarray(out) == moved, axis=(1, 2, 3))
            found |= same
            if same.any():
                shifts.add((dr, dc))
    assert found.all()  # every example moved by at most `most` pixels, and some by that many
    assert {max(map(abs, s)) for s in shifts} == set(range(most + 1)) and len(shifts) > 2 * most + 1


def test_cutout_zeroes_a_half_size_square_clipped_at_the_border():
    mask = np.asarray(augment.cutout_mask(jnp.array([0, 5]), jnp.array([0, 7]), 8, 8))[..., 0]
    expected = np.ones((2, 8, 8))
    expected[0, 0:2, 0:2] = 0  # centre (0, 0): rows and columns [-2, 2) within the image
    expected[1, 3:7, 5:8] = 0  # centre (5, 7): rows [3, 7), columns [5, 9) clipped to 8
    np.testing.assert_array_equal(mask, expected)
    out = augment.cutout(jax.random.PRNGKey(0), images(n=16) + 1.0)
    assert all(int((np.asarray(o) == 0).sum()) in (4, 6, 8, 9, 12, 16) for o in out)  # clipped squares


def test_bcrs_transform_shifts_each_image_after_mirroring_half_of_them_or_none():
    """bCR's T: each image is shifted as DiffAugment's translation shifts it with T's shift key,
    after an x-flip with probability 1/2; without the flip, the same shift alone."""
    x, key = images(16), jax.random.PRNGKey(3)
    shift = functools.partial(augment.translation, jax.random.split(key)[1])
    np.testing.assert_array_equal(augment.consistency_transform(key, x, flip=False), shift(x))
    wide = images(16, size=16)  # `ratio`: T's shift, translation's ratio (1 of 16 pixels at 1/16)
    by_one = augment.consistency_transform(key, wide, flip=False, ratio=1 / 16)
    np.testing.assert_array_equal(by_one, shift(wide, 1 / 16))
    assert not np.array_equal(by_one, shift(wide))
    flipped, plain, mirrored = augment.consistency_transform(key, x), shift(x), shift(x[:, :, ::-1])
    is_plain = [np.array_equal(a, b) for a, b in zip(flipped, plain, strict=True)]
    is_mirrored = [np.array_equal(a, b) for a, b in zip(flipped, mirrored, strict=True)]
    assert all(p != m for p, m in zip(is_plain, is_mirrored, strict=True)) and 0 < sum(is_mirrored) < 16


def test_color_transforms_are_the_authors_formulas():
    key, x = jax.random.PRNGKey(5), images(channels=3) - 0.5
    u = np.asarray(jax.random.uniform(key, (2, 1, 1, 1)))
    xn = np.asarray(x)
    np.testing.assert_allclose(augment.brightness(key, x), xn + (u - 0.5), atol=1e-6)
    channel_mean = xn.mean(-1, keepdims=True)
    np.testing.assert_allclose(
        augment.saturation(key, x), (xn - channel_mean) * 2 * u + channel_mean, atol=1e-6
    )
    image_mean = xn.mean((1, 2, 3), keepdims=True)
    np.testing.assert_allclose(
        augment.contrast(key, x), (xn - image_mean) * (u + 0.5) + image_mean, atol=1e-6
    )


def test_gradients_flow_through_every_policy_to_the_input():
    x = images(n=3, channels=3)
    key = jax.random.PRNGKey(1)
    loss = jax.jit(lambda v: jnp.sum(jnp.sin(augment.diffaugment(key, v, augment.DIFFAUGMENT_POLICIES))))
    grad = jax.jit(jax.grad(loss))(x)
    direction = normal(2, x.shape)[0]
    eps = 1e-2
    numeric = (loss(x + eps * direction) - loss(x - eps * direction)) / (2 * eps)
    assert float(jnp.abs(grad).sum()) > 0
    np.testing.assert_allclose(float(jnp.sum(grad * direction)), float(numeric), rtol=1e-2)


def test_warp_with_a_one_pixel_translation_reflects_at_the_border():
    x = images(n=1)
    g_inv = augment._affine(1.0, 0.0, 0.0, 1.0, -1.0, 0.0)[None]  # output (x, y) reads input (x - 1, y)
    out = np.asarray(augment.warp(x, g_inv))
    xn = np.asarray(x)
    np.testing.assert_allclose(out[0, :, 1:], xn[0, :, :-1], atol=1e-5)
    np.testing.assert_allclose(out[0, :, 0], xn[0, :, 1], atol=1e-5)  # PyTorch's 'reflect' padding


def test_ada_at_p_zero_is_the_identity_and_blitting_only_moves_pixels():
    x = images(n=8, size=8, channels=3)
    key = jax.random.PRNGKey(4)
    ada = jax.jit(augment.ada, static_argnums=3)  # compiled whole, as in a step (op by op is slow)
    np.testing.assert_array_equal(ada(key, x, 0.0, "bgc"), x)
    blitted = np.asarray(ada(key, x, 1.0, "b"))
    values = set(np.round(np.asarray(x).ravel(), 4))
    assert set(np.round(blitted.ravel(), 4)) <= values  # no interpolation: every value an input's
    assert not np.array_equal(blitted, np.asarray(x))


def test_ada_color_on_grey_images_uses_the_mean_gain_and_offset():
    c = jnp.broadcast_to(jnp.eye(4), (1, 4, 4)).at[0, :3, :3].multiply(2.0).at[0, :3, 3].set(0.25)
    x = images(n=1)
    np.testing.assert_allclose(augment.recolor(x, c), 2.0 * x + 0.25, atol=1e-6)


@pytest.mark.parametrize("sign,expected", [(1.0, 0.064), (-1.0, 0.0)])
def test_ada_p_moves_toward_the_target_once_per_interval(sign, expected):
    cfg = augment.Augment(ada_target=0.6, ada_interval=4, ada_kimg=1)
    state = cfg.start()
    logits = jnp.full((16,), sign)
    ps = []
    for _ in range(8):
        state = cfg.adapt(state, logits, batch_size=16)
        ps.append(float(state.p))
    step = 16 * 4 / 1000  # batch x interval / (kimg x 1000)
    rising = [0, 0, 0, step, step, step, step, 2 * step] if sign > 0 else [0.0] * 8
    np.testing.assert_allclose(ps, rising, atol=1e-7)
    assert abs(ps[3] - expected) < 1e-7
    fixed = augment.Augment(ada_p=0.3)
    assert float(fixed.adapt(fixed.start(), logits, 16).p) == pytest.approx(0.3)


def test_ada_p_falls_when_d_stops_overfitting():
    cfg = augment.Augment(ada_p=0.5, ada_target=0.6, ada_interval=1, ada_kimg=1)
    state = cfg.start()
    mixed = jnp.array([1.0, 1.0, -1.0, -1.0])  # E sign = 0 < 0.6
    state = cfg.adapt(state, mixed, batch_size=100)
    assert float(state.p) == pytest.approx(0.5 - 0.1)


def test_bad_augment_options_are_config_errors():
    with pytest.raises(ConfigError, match="not DiffAugment policies"):
        augment.Augment(diffaugment="color,rotate")
    with pytest.raises(ConfigError, match="not both"):
        augment.Augment(diffaugment="color", ada_p=0.2)
    with pytest.raises(ConfigError, match="subset of 'bgc'"):
        augment.Augment(ada_p=0.2, ada_pipeline="bx")


def test_discriminate_shows_d_the_augmented_batch_and_g_gets_gradients_through_it():
    def edit(c):
        c.augment.diffaugment = "color,translation,cutout"

    config, source, gan, state, arrays = build_run("configs/dcgan.py:smoke", edit)
    ctx = steps.StepContext(gan, source, config.train.batch_size).at(state)
    key, x = jax.random.PRNGKey(7), uint8_to_unit_range(arrays["x"][:16])
    out, _ = steps.discriminate(ctx, state.d.variables, x, None, key)
    augmented = augment.diffaugment(jax.random.fold_in(key, steps._AUGMENT_STREAM), x, gan.augment.policy)
    expected, _ = apply_net(gan.discriminator, state.d.variables, augmented, True)
    np.testing.assert_array_equal(out, expected)
    plain = dataclasses.replace(gan, augment=augment.Augment())
    unaugmented, _ = steps.discriminate(dataclasses.replace(ctx, gan=plain), state.d.variables, x, None, key)
    assert not np.allclose(out, unaugmented)
    grad = jax.grad(lambda v: steps.g_objective(v, None, state.d.variables, ctx, {}, key))(x)
    assert float(jnp.abs(grad).sum()) > 0


@pytest.mark.slow
def test_ada_p_and_lecam_anchors_resume_bit_identically(tmp_path, one_device):
    def config(total_steps):
        c = load_config("configs/dcgan.py:smoke")  # the state is what matters, not the network
        c.augment.update(ada_target=0.6, ada_p=0.5, ada_interval=1, ada_kimg=1)  # p moves at every D update
        c.reg.lecam, c.train.d_steps = 0.3, 2
        c.train.total_steps = total_steps
        c.eval.every = 0
        c.checkpoint.update(every=4, keep=5)
        return c

    straight = trainer.train_and_evaluate(config(8), str(tmp_path / "straight"), devices=one_device)
    trainer.train_and_evaluate(config(4), str(tmp_path / "resumed"), devices=one_device)
    resumed = trainer.train_and_evaluate(config(8), str(tmp_path / "resumed"), devices=one_device)
    assert float(straight.ada.p) != 0.5 and float(straight.lecam.updates) == 16  # 8 steps x 2 D updates
    chex.assert_trees_all_equal(resumed, straight)
    logged = read_jsonl(tmp_path / "straight" / "metrics.jsonl")
    assert {"ada_p", "ada_sign"} <= set(logged[-1])  # logged, and plotted in curves.png
