"""Data parallelism: 8 devices compute what 1 device computes; bad batch sizes fail early."""

import chex
import jax
import pytest
from helpers import load_config, run_steps

from gan_jax import trainer


@pytest.mark.parametrize(
    "spec,d_options",
    [
        ("configs/dcgan.py:smoke", {}),  # BatchNorm in G and D, batch 32 = 8 x 4
        ("configs/dcgan.py:wgan_gp,smoke", {}),  # the gradient penalty (per-example input gradients)
        ("configs/dcgan.py:hinge,r1,sn,smoke", {}),  # R1 and spectral normalisation's power iteration
        ("configs/dcgan.py:smoke", {"pack": 2}),  # PacGAN: 2 packs of 2 on each device
        pytest.param(  # the ResNet, its spectral norm, DiffAugment's draws; two ~15 s compiles
            "configs/sngan.py:diffaugment,smoke", {}, marks=pytest.mark.slow
        ),
    ],
)
def test_eight_devices_equal_one_device_with_global_batchnorm(spec, d_options):
    assert len(jax.devices()) == 8, "conftest.py should provide 8 CPU devices"
    config = load_config(spec)
    config.model.d.update(d_options)
    config.train.d_steps = 1  # WGAN-GP's 5 critic steps compound round-off into G's update (2e-5)
    # SGD, not Adam: Adam's steps are ~lr whatever a gradient's size, so for gradients near zero it
    # turns float round-off (reduction order differs across devices) into lr-sized differences.
    for opt in (config.optim.g, config.optim.d):
        opt.update(name="sgd", lr=0.05, b1=0.5)
    # Two steps, a call each: round-off grows ~5x a step in these 4-a-device BatchNorm GANs
    # (configs/dcgan.py:smoke: 4e-8, 2e-7, 5e-7, 3e-6 after 1-4 steps, AMD EPYC), so more steps
    # measure the dynamics' sensitivity, not the partitioning.
    config.train.steps_per_call = 1
    one, _ = run_steps(config, jax.devices()[:1], calls=2)
    eight, hlo = run_steps(config, jax.devices(), calls=2)
    assert "all-reduce" in hlo  # really partitioned, with cross-device batch statistics
    for leaf in jax.tree.leaves(eight):
        assert leaf.sharding.is_fully_replicated
    chex.assert_trees_all_close(eight.g.params, one.g.params, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(eight.d.params, one.d.params, rtol=1e-5, atol=1e-6)
    # BatchNorm's running statistics are the direct evidence of global-batch statistics: with
    # per-device statistics (4 examples each) they would differ at O(0.1), not at round-off.
    chex.assert_trees_all_close(eight.g.batch_stats, one.g.batch_stats, rtol=1e-4, atol=1e-5)
    chex.assert_trees_all_close(eight.d.batch_stats, one.d.batch_stats, rtol=1e-4, atol=1e-5)


def test_batch_that_does_not_divide_fails_before_anything_runs(tmp_path):
    config = load_config("configs/gan_mlp.py:smoke")
    config.train.batch_size = 60
    with pytest.raises(ValueError, match="does not divide across 8 devices.*multiple of 8"):
        trainer.train_and_evaluate(config, str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()
