"""A vmapped population member equals the same run done alone (the accelerator path of sweeps)."""

import json

import chex
import jax
from conftest import load_config

from gan_jax import population, trainer


def test_population_member_equals_the_run_alone(tmp_path, one_device):
    configs = []
    for seed in (0, 1):
        config = load_config("configs/mode_collapse.py:ring,smoke")
        config.seed = seed
        for opt in (config.optim.g, config.optim.d):  # SGD: Adam would magnify vmap's reassociation
            opt.update(name="sgd", lr=0.05)
        configs.append(config)
    members = population.train_population(configs, [tmp_path / "p0", tmp_path / "p1"])
    alone = trainer.train_and_evaluate(configs[1], str(tmp_path / "alone"), devices=one_device)
    chex.assert_trees_all_close(members[1].g.params, alone.g.params, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(members[1].d.params, alone.d.params, rtol=1e-5, atol=1e-6)
    assert not jax.tree.leaves(members[0].g.params)[0].tolist() == jax.tree.leaves(alone.g.params)[0].tolist()
    assert json.loads((tmp_path / "p1" / "done.json").read_text())["status"] == "finished"
    rows = [json.loads(line) for line in (tmp_path / "p1" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [20, 40]
    assert (tmp_path / "p1" / "eval_40.json").exists()
    # Resuming a finished population trains nothing and changes nothing.
    again = population.train_population(configs, [tmp_path / "p0", tmp_path / "p1"])
    chex.assert_trees_all_close(again[1].g.params, members[1].g.params, rtol=0, atol=0)
