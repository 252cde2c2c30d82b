"""A vmapped population is the same loop as a run alone: a member leaves in its workdir what the
same run alone leaves (the accelerator path of sweeps)."""

import json
import pathlib

import chex
import jax
import numpy as np
import pytest
from helpers import checkpoint_steps, load_config, tree_equal

from gan_jax import health, trainer
from gan_jax.checkpoint import Checkpoints
from gan_jax.errors import ConfigError, NonFiniteError

UNTIMED = ("steps_per_sec",)  # wall clock: the one value two identical runs do not share
# vmap batches the step's matmuls and reductions, which XLA:CPU then sums in another order: a
# member equals the run alone to float rounding, not bit for bit (measured: ~1e-7 relative in the
# first interval; SGD keeps it there, where Adam's normalised steps would amplify it). Compiled at
# -O0 as the tests are (helpers.COMPILE_FLAGS), the orders differ more: up to 5.2e-5 relative by
# step 40 (G's gradient norm; AMD EPYC, 2026-12-06), so the tolerance is four times that. A member
# on another member's seed or training set is off by far more (the last assertions below).
RTOL = 2e-4


def _config(seed: int):
    config = load_config("configs/mode_collapse.py:ring,smoke")
    config.seed = seed
    for opt in (config.optim.g, config.optim.d):
        opt.update(name="sgd", lr=0.05)
    return config


def _files(workdir: pathlib.Path) -> list[str]:
    """The run's outputs by relative path, but for the directories whose file names are not the
    run's (TensorBoard's hold the time and host, orbax's are random): those are compared apart."""
    return sorted(
        str(p.relative_to(workdir))
        for p in workdir.rglob("*")
        if p.is_file() and not {"tensorboard", "checkpoints"} & set(p.parts)
    )


def _rows(path: pathlib.Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in UNTIMED} for r in rows]


def _approx(row: dict) -> dict:
    """A row's numbers to RTOL; its strings (protocols) exactly."""
    return {k: v if isinstance(v, str) else pytest.approx(v, rel=RTOL, abs=1e-6) for k, v in row.items()}


def _latest(workdir: pathlib.Path, like):
    with Checkpoints(workdir / "checkpoints", 3) as ckpts:
        return ckpts.restore(ckpts.latest_step(), like)[0]


@pytest.mark.slow
def test_a_population_member_leaves_what_the_run_alone_leaves(tmp_path, one_device):
    configs = [_config(0), _config(1)]
    outcomes = trainer.train_population(configs, [tmp_path / "p0", tmp_path / "p1"], one_device)
    alone = trainer.train_and_evaluate(configs[1], str(tmp_path / "alone"), devices=one_device)
    assert outcomes == [{"status": "finished"}] * 2
    member, lone = tmp_path / "p1", tmp_path / "alone"
    assert _files(member) == _files(lone)
    assert any(name.startswith("samples/") for name in _files(member))
    assert (member / "tensorboard").is_dir()
    for log in ("metrics.jsonl", "eval.jsonl"):
        assert _rows(member / log) == [_approx(row) for row in _rows(lone / log)], log
    assert checkpoint_steps(member) == checkpoint_steps(lone)
    chex.assert_trees_all_close(_latest(member, alone), alone, rtol=RTOL, atol=1e-6)
    assert not tree_equal(_latest(tmp_path / "p0", alone).g.params, alone.g.params)  # its own seed
    # Resuming a finished population trains nothing and changes nothing.
    before = (member / "metrics.jsonl").read_text()
    assert trainer.train_population(configs, [tmp_path / "p0", member], one_device) == outcomes
    assert (member / "metrics.jsonl").read_text() == before


@pytest.mark.slow
@pytest.mark.parametrize("fixed_packs", [False, True])
def test_members_with_their_own_training_sets_each_train_on_theirs(tmp_path, one_device, fixed_packs):
    """configs/pacgan.py draws a training set per seed (data.seed): two members that differ only
    there sample from their own sets, stacked on the population axis -- the second leaves what
    it leaves alone, and differs from the first; so too with their own fixed packs of 2
    (data.fixed_packs: each walk's cycle-walking loop runs for the members together)."""
    configs = [_config(0), _config(0)]
    for data_seed, config in enumerate(configs):
        config.data.update(train_size=500, seed=data_seed, fixed_packs=fixed_packs)
        config.model.d.pack = 2 if fixed_packs else 1
    assert (
        trainer.train_population(configs, [tmp_path / "p0", tmp_path / "p1"], one_device)
        == [{"status": "finished"}] * 2
    )
    trainer.train_and_evaluate(configs[1], str(tmp_path / "alone"), devices=one_device)
    for log in ("metrics.jsonl", "eval.jsonl"):
        assert _rows(tmp_path / "p1" / log) == [_approx(r) for r in _rows(tmp_path / "alone" / log)], log
    assert _rows(tmp_path / "p0" / "metrics.jsonl") != _rows(tmp_path / "p1" / "metrics.jsonl")


def test_a_population_takes_only_seeds_and_one_step(tmp_path, one_device):
    other = _config(1)
    other.optim.g.lr *= 2
    with pytest.raises(ConfigError, match="differ only in `seed` and `data.seed`"):
        trainer.train_population([_config(0), other], [tmp_path / "a", tmp_path / "b"], one_device)
    ahead = _config(0)
    ahead.train.total_steps = 20
    trainer.train_and_evaluate(ahead, str(tmp_path / "ahead"), devices=one_device)
    with pytest.raises(ConfigError, match="different steps"):
        trainer.train_population([_config(0), _config(1)], [tmp_path / "ahead", tmp_path / "new"], one_device)


def test_a_members_divergence_is_read_from_its_own_row():
    diverged = health.Health(pathlib.Path("ckpts"), None, index=1)
    diverged.add(0, {"d_loss": np.array([[0.5, 0.4], [0.3, np.nan]])})  # (members, steps of the call)
    with pytest.raises(NonFiniteError, match="at step 2 "):
        diverged.verify(jax.numpy.zeros(()), 2)
    healthy = health.Health(pathlib.Path("ckpts"), None, index=0)
    healthy.add(0, {"d_loss": np.array([[0.5, 0.4], [0.3, np.nan]])})
    healthy.verify(jax.numpy.zeros(()), 2)
    assert healthy.pop_means() == {"d_loss": pytest.approx(0.45)}
