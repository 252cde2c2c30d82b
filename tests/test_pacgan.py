"""PacGAN's packing (Lin et al. 2018): D judges m samples concatenated along the last axis."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import build_run, evaluation_run, load_config, normal

from gan_jax import evaluation, experiment, models
from gan_jax.models.dcgan import DCGANDiscriminator
from gan_jax.models.layers import pack
from gan_jax.models.mlp import MLPDiscriminator, MLPGenerator

KEY = jax.random.PRNGKey(0)


def test_pack_concatenates_consecutive_examples():
    images = np.arange(4 * 2 * 2 * 3, dtype=np.float32).reshape(4, 2, 2, 3)
    np.testing.assert_array_equal(pack(images, 2), np.concatenate([images[0::2], images[1::2]], -1))
    points = np.arange(6 * 5, dtype=np.float32).reshape(6, 5)
    np.testing.assert_array_equal(
        pack(points, 3), np.concatenate([points[0::3], points[1::3], points[2::3]], -1)
    )
    assert pack(points, 1) is points
    with pytest.raises(ValueError, match="6 examples does not split into packs of 4"):
        pack(points, 4)


@pytest.mark.parametrize(
    "module,shape",
    [
        (MLPDiscriminator(width=8, depth=2), (6, 2)),
        (DCGANDiscriminator(image_size=16, width=4), (6, 16, 16, 1)),
    ],
)
def test_a_packed_d_is_the_plain_d_on_the_concatenated_samples(module, shape):
    """m = 2: D's logit for pack i is the unpacked D's on examples 2i and 2i + 1 side by side."""
    x = normal(0, shape)[0]
    by_hand = jnp.concatenate([x[0::2], x[1::2]], -1)  # (3, ..., 2C)
    packed = module.clone(pack=2)
    variables = packed.init(KEY, x, train=False)
    assert packed.apply(variables, x, train=False).shape == (3,)
    np.testing.assert_array_equal(
        packed.apply(variables, x, train=False), module.apply(variables, by_hand, train=False)
    )


def test_the_run_builds_d_for_packs_and_refuses_packs_it_cannot_form():
    config, source, gan, state, _ = build_run("configs/dcgan.py:smoke", lambda c: c.model.d.update(pack=4))
    assert state.d.params["from_image"]["kernel"].shape[2] == 4  # 4 grey images as 4 channels
    config = load_config("configs/dcgan.py:smoke")  # batch 32: 4 a device on 8 devices
    config.model.d.pack = 8
    with pytest.raises(
        ValueError, match=r"pack=8 x minibatch_std=0 does not divide the batch on each device \(4"
    ):
        experiment.build(config, jax.devices())
    config = load_config("configs/cgan.py:ring,smoke")
    config.model.d.pack = 2
    with pytest.raises(ValueError, match="not with a conditional or semi-supervised D"):
        experiment.build(config, jax.devices()[:1])


def test_g_with_batch_norm_per_pack_slot_is_g_run_once_per_slot():
    """PacGAN's code runs G once per pack slot: norm_slots=m on a batch of 100 m equals G
    (norm_slots=1, the same variables) run on each slot's 100 samples -- examples k, k + m, ...,
    the k-th member of every pack -- by itself; the running averages move by the mean of the
    slots' moves; inference reads them as nn.BatchNorm does."""
    m, n = 3, 100
    per_slot = MLPGenerator(data_shape=(2,), width=16, depth=2, norm="batch", norm_slots=m)
    one_batch = per_slot.clone(norm_slots=1)
    z = normal(0, (n * m, 2))[0]
    variables = jax.jit(lambda key: one_batch.init(key, z, train=False))(jax.random.PRNGKey(1))
    assert jax.tree.structure(
        jax.eval_shape(lambda: per_slot.init(jax.random.PRNGKey(1), z, train=False))
    ) == jax.tree.structure(variables)
    # each network's training pass compiled whole (one program a batch shape, not one per op)
    train_per_slot, train_one_batch = (
        jax.jit(functools.partial(g.apply, train=True, mutable=["batch_stats"]))
        for g in (per_slot, one_batch)
    )
    out, mutated = train_per_slot(variables, z)
    slots = [train_one_batch(variables, z[k::m]) for k in range(m)]
    want = np.stack([np.asarray(x) for x, _ in slots], axis=1).reshape(n * m, 2)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    assert not np.allclose(out, train_one_batch(variables, z)[0], atol=1e-3)
    mean_of_slots = jax.tree.map(lambda *s: np.mean(s, axis=0), *[stats["batch_stats"] for _, stats in slots])
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
        mutated["batch_stats"],
        mean_of_slots,
    )
    updated = {**variables, "batch_stats": mutated["batch_stats"]}
    np.testing.assert_array_equal(
        per_slot.apply(updated, z, train=False), one_batch.apply(updated, z, train=False)
    )


def test_g_batch_norm_slots_are_checked_before_training():
    with pytest.raises(ValueError, match="norm_slots=2: .* only with config.model.g.norm='batch'"):
        models.build(models.model_config("mlp", z_dim=2, g=dict(norm_slots=2)), (2,))
    config = load_config("configs/pacgan.py:smoke,pack=2")  # batch 32
    config.model.g.norm_slots = 3
    with pytest.raises(ValueError, match="norm_slots=3 does not divide config.train.batch_size=32"):
        experiment.build(config, jax.devices()[:1])


def test_optimal_d_judges_packs_of_copies_of_each_point():
    """The 1-D metric applies D the way training does: each grid point as a pack (x, x), against
    that pack's optimum p_data^2 / (p_data^2 + p_g^2) -- 1/2 again where G matches the data."""
    config, gan, source, state = evaluation_run("gaussian1d", edit=lambda c: c.model.d.update(pack=2))
    evaluator = evaluation.Evaluator(config, gan, source, ("optimal_d",))
    result = evaluator(state, 0, sampler=lambda n: evaluator.bank.draw(source, n, stream=5)[0])["metrics"]
    curves = {k: np.asarray(v) for k, v in result["optimal_d"]["curves"].items()}
    assert len(curves["d"]) == len(curves["x"]) == 400
    bulk = curves["p_data"] > 0.1 * curves["p_data"].max()
    assert np.abs(curves["d_star"][bulk] - 0.5).max() < 0.1
    p, q = curves["p_data"], curves["p_g"]
    np.testing.assert_allclose(curves["d_star"], p**2 / (p**2 + q**2), rtol=1e-6)
    assert "packs of 2 copies" in result["optimal_d"]["protocol"]["pack"]
