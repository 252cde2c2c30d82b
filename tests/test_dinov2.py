"""Our DINOv2 equals the official model (facebookresearch/dinov2) on the same random weights, at
dgm-eval's input size (position embeddings resampled), at the native grid and at a small one; its
input pipeline and its place in the evaluator (FD_DINOv2)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from dinov2_reference import SIZES, random_state_dict, reference_input
from helpers import REPO, evaluation_run
from PIL import Image

from gan_jax import feature_nets
from gan_jax.models import dinov2

REFERENCE = REPO / "tests" / "data" / "dinov2_reference.npz"


@pytest.fixture(scope="module")
def weights_and_reference():
    with np.load(REFERENCE) as ref:
        names = json.loads(str(ref["names"]))
        reference = {size: ref[f"features_{size}"] for size in SIZES}
    return random_state_dict(names), reference


def test_converted_weights_fill_every_parameter_and_name_the_architecture(weights_and_reference):
    state_dict, _ = weights_and_reference
    model, variables = dinov2.model_for(state_dict), dinov2.from_torch_state_dict(state_dict)
    expected = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, 28, 28, 3))))
    shape_of = lambda tree: jax.tree.map(lambda x: tuple(x.shape), tree)  # noqa: E731
    assert shape_of(variables) == shape_of(dict(expected))
    assert (model.dim, model.depth, model.heads) == (128, 2, 2)
    assert dinov2.Arch(1024, 24).name == "ViT-L/14" and dinov2.Arch(384, 12).heads == 6
    with pytest.raises(ValueError, match="names this model does not use"):
        dinov2.from_torch_state_dict({**state_dict, "register_tokens": np.zeros((1, 4, 128))})


def test_features_match_the_official_model(weights_and_reference):
    state_dict, reference = weights_and_reference
    model, variables = dinov2.model_for(state_dict), dinov2.from_torch_state_dict(state_dict)
    apply = jax.jit(model.apply)
    for size in SIZES:  # 224: a 16x16 grid resampled from 37x37; 518: none; 98: 7x7
        features = apply(variables, reference_input(size))
        np.testing.assert_allclose(features, reference[size], rtol=1e-5, atol=1e-5, err_msg=str(size))


def test_torchs_bicubic_resampling_on_its_own_terms():
    """At scale 1 the resampling is the identity; every row's weights sum to 1 (a constant grid
    stays constant); halfway between grid points the weights are Keys' kernel with A = -0.75 at
    distances 1.5, 0.5, 0.5, 1.5, by hand. (With that A a linear ramp is *not* reproduced exactly:
    that is torch's kernel, and the end-to-end test checks it against torch.)"""
    np.testing.assert_allclose(dinov2.resampling_matrix(37, 37, 1.0), np.eye(37), atol=1e-12)
    weights = dinov2.resampling_matrix(37, 16, 16.1 / 37)
    np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-12)
    halving = dinov2.resampling_matrix(8, 4, 0.5)  # output 1 samples source 2.5
    np.testing.assert_allclose(halving[1, 1:5], [-0.09375, 0.59375, 0.59375, -0.09375], atol=1e-12)


def test_the_input_pipeline_is_dgm_evals_on_the_8_bit_image():
    rng = np.random.default_rng(0)
    grey = rng.uniform(-1, 1, (2, 32, 32, 1)).astype(np.float32)
    legacy = feature_nets.dinov2_prepare(grey, "legacy")
    assert legacy.shape == (2, 224, 224, 3)
    eight_bit = np.clip(np.rint((grey[0, ..., 0] + 1) * 127.5), 0, 255).astype(np.uint8)
    rgb = Image.fromarray(eight_bit).convert("RGB").resize((224, 224), Image.Resampling.BICUBIC)
    expected = (np.asarray(rgb) / 255.0 - feature_nets.IMAGENET_MEAN) / feature_nets.IMAGENET_STD
    np.testing.assert_allclose(legacy[0], expected, atol=1e-5)
    flat = feature_nets.dinov2_prepare(np.full((1, 32, 32, 3), 0.0, np.float32), "clean")
    level = np.rint(127.5) / 255.0  # 0 in [-1, 1] is the 8-bit level 128
    np.testing.assert_allclose(
        flat[0, 100, 100], (level - feature_nets.IMAGENET_MEAN) / feature_nets.IMAGENET_STD, atol=1e-4
    )


@pytest.mark.slow
def test_fd_dinov2_in_the_evaluator_from_user_weights(tmp_path, weights_and_reference):
    """The evaluator's dinov2_* metrics: weights from a user file, protocol recorded, FD 0 on
    equal sets, a missing file named."""
    from gan_jax import evaluation

    state_dict, _ = weights_and_reference
    weights = tmp_path / "dinov2.npz"
    np.savez(weights, **state_dict)
    config, gan, source, state = evaluation_run("digits", 16)
    config.eval.update(dinov2_weights=str(weights), num_samples=12)
    evaluator = evaluation.Evaluator(config, gan, source, ("dinov2_fd", "dinov2_prdc"))
    metrics = evaluator(state, 0, sampler=evaluator.bank.real)["metrics"]
    network = metrics["dinov2_fd"]["protocol"]["feature_network"]
    assert metrics["dinov2_fd"]["name"].startswith("FD-DINOv2-ViT-128x2/14")
    assert metrics["dinov2_fd"]["value"] == pytest.approx(0.0, abs=1e-6)
    assert network["resize"] == "legacy" and network["input"] == feature_nets.INPUTS["dinov2"]["legacy"]
    assert len(network["sha256"]) == 64 and metrics["dinov2_prdc"]["recall"] == 1.0
    with pytest.raises(FileNotFoundError, match="official DINOv2 weights"):
        config.eval.dinov2_weights = str(tmp_path / "missing.pth")
        evaluation.Evaluator(config, gan, source, ("dinov2_fd",))
