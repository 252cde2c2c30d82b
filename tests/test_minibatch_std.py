"""Minibatch standard deviation (Karras et al. 2018): one feature per group of examples."""

import chex
import jax
import numpy as np
import pytest
from helpers import build_run, load_config, normal, run_steps

from gan_jax import experiment
from gan_jax.models.layers import minibatch_stddev
from gan_jax.models.mlp import MLPDiscriminator

KEY = jax.random.PRNGKey(0)


def test_the_feature_is_the_groups_mean_standard_deviation():
    h = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)
    out = np.asarray(minibatch_stddev(h, 3))
    np.testing.assert_array_equal(out[:, :5], h)
    for g in range(2):
        group = h[3 * g : 3 * g + 3].astype(np.float64)
        expected = np.sqrt(group.var(axis=0) + 1e-8).mean()  # population std over the group
        np.testing.assert_allclose(out[3 * g : 3 * g + 3, 5], expected, rtol=1e-5)
    with pytest.raises(ValueError, match="6 does not split into minibatch-stddev groups of 4"):
        minibatch_stddev(h, 4)


def test_an_examples_logit_depends_on_its_group_only():
    d = MLPDiscriminator(width=8, depth=2, minibatch_std=2)
    x = normal(0, (4, 3))[0]
    variables = d.init(KEY, x, train=False)
    logits = np.asarray(d.apply(variables, x, train=False))
    other_group, same_group = x.copy(), x.copy()
    other_group[3] += 5.0  # example 3 is in group 1
    same_group[1] += 5.0  # example 1 shares group 0 with example 0
    np.testing.assert_array_equal(np.asarray(d.apply(variables, other_group, train=False))[:2], logits[:2])
    assert np.asarray(d.apply(variables, same_group, train=False))[0] != logits[0]


@pytest.mark.slow
def test_groups_are_the_same_on_one_and_eight_devices():
    config = load_config("configs/dcgan.py:smoke")  # batch 32: 4 a device, one group of 4 each
    config.model.d.minibatch_std = 4
    for opt in (config.optim.g, config.optim.d):
        opt.update(name="sgd", lr=0.05, b1=0.5)
    one, _ = run_steps(config, jax.devices()[:1], calls=1)
    eight, _ = run_steps(config, jax.devices(), calls=1)
    chex.assert_trees_all_close(eight.d.params, one.d.params, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(eight.g.params, one.g.params, rtol=1e-5, atol=1e-6)
    config.model.d.minibatch_std = 8  # a group of 8 would straddle two devices
    with pytest.raises(ValueError, match="minibatch_std=8 does not divide the batch on each device"):
        experiment.build(config, jax.devices())
    with pytest.raises(ValueError, match="minibatch_std=1: the group size"):
        build_run("configs/dcgan.py:smoke", lambda c: c.model.d.update(minibatch_std=1))
