"""PacGAN's packing (Lin et al. 2018): D judges m samples concatenated along the last axis."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import build_run, evaluation_run, load_config

from gan_jax import evaluation, experiment
from gan_jax.models.dcgan import DCGANDiscriminator
from gan_jax.models.layers import pack
from gan_jax.models.mlp import MLPDiscriminator

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
    x = jax.random.normal(KEY, shape)
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
