"""Our FID InceptionV3 equals pytorch-fid's on the same (random) weights, input pipeline included."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import REPO, evaluation_run
from inception_reference import random_state_dict, reference_inputs

from gan_jax import feature_nets
from gan_jax.errors import ConfigError
from gan_jax.models import inception

REFERENCE = REPO / "tests" / "data" / "inception_reference.npz"


@pytest.fixture(scope="module")
def model_and_reference():
    with np.load(REFERENCE) as ref:
        names = json.loads(str(ref["names"]))
        reference = {k: ref[k] for k in ("direct", "pipeline", "logits")}
    variables = inception.from_torch_state_dict(random_state_dict(names))
    net = inception.FIDInceptionV3()
    apply = jax.jit(lambda x: net.apply(variables, x))
    return apply, variables, reference


def test_converted_weights_fill_every_parameter(model_and_reference):
    _, variables, _ = model_and_reference
    expected = jax.eval_shape(
        lambda: inception.FIDInceptionV3().init(jax.random.PRNGKey(0), jnp.zeros((1, 75, 75, 3)))
    )
    shape_of = lambda tree: jax.tree.map(lambda x: tuple(x.shape), tree)  # noqa: E731
    assert shape_of(variables) == shape_of(dict(expected))


@pytest.mark.slow
def test_features_match_pytorch_fid(model_and_reference):
    apply, _, reference = model_and_reference
    small, direct = reference_inputs()
    logits, pool3 = apply(jnp.asarray(direct))
    np.testing.assert_allclose(pool3, reference["direct"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(logits, reference["logits"], rtol=1e-5, atol=1e-5)
    _, pipeline = apply(inception.preprocess(jnp.asarray(small)))
    np.testing.assert_allclose(pipeline, reference["pipeline"], rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_fid_and_is_in_the_evaluator_from_user_weights(tmp_path):
    """The evaluator's FID/IS path: weights from a user file, clean-fid's resize, protocol recorded,
    FID 0 on equal sets."""
    from gan_jax import evaluation

    with np.load(REFERENCE) as ref:
        names = json.loads(str(ref["names"]))
    weights = tmp_path / "inception.npz"
    np.savez(weights, **random_state_dict(names))
    config, gan, source, state = evaluation_run("digits", 16)
    config.eval.update(inception_weights=str(weights), num_samples=12, resize="clean")
    evaluator = evaluation.Evaluator(config, gan, source, ("inception_fd", "inception_score"))
    metrics = evaluator(state, 0, sampler=evaluator.bank.real)["metrics"]
    assert metrics["inception_fd"]["name"] == "FID"
    assert metrics["inception_fd"]["value"] == pytest.approx(0.0, abs=1e-6)
    network = metrics["inception_fd"]["protocol"]["feature_network"]
    assert network["name"] == "InceptionV3-FID" and network["official_fid_weights"] is False
    assert network["resize"] == "clean" and network["input"] == feature_nets.INPUTS["inception"]["clean"]
    assert metrics["inception_score"]["name"] == "IS" and metrics["inception_score"]["mean"] >= 1.0
    with pytest.raises(FileNotFoundError, match="or 'auto' to download and verify it"):
        config.eval.inception_weights = str(tmp_path / "missing.pth")
        evaluation.Evaluator(config, gan, source, ("inception_fd",))


def test_clean_resize_matches_clean_fids_own_resizer():
    """Reference outputs made by clean-fid 0.1.35's make_resizer("PIL", False, "bicubic", size) on
    fixed images (tests/data/clean_resize_reference.npz): up-sampling to 37, down-sampling to 11."""
    with np.load(REPO / "tests" / "data" / "clean_resize_reference.npz") as ref:
        for size in (37, 11):
            np.testing.assert_allclose(
                feature_nets.clean_resize(ref["images"], size), ref[f"resized_{size}"], atol=1e-4
            )


def test_clean_prepare_is_the_identity_at_the_networks_size_and_makes_grey_rgb():
    images = np.random.default_rng(0).uniform(-1, 1, (2, 299, 299, 3)).astype(np.float32)
    np.testing.assert_allclose(feature_nets.clean_prepare(images, 299), images, atol=1e-5)
    grey = feature_nets.clean_prepare(images[:, :28, :28, :1], 299)
    assert grey.shape == (2, 299, 299, 3) and np.array_equal(grey[..., 0], grey[..., 2])
    with pytest.raises(ConfigError, match="config.eval.resize='sharp'"):
        feature_nets.load_inception("unused.npz", "sharp")
