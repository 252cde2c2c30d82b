"""A vmapped population is the same loop as a run alone: a member leaves in its workdir what the
same run alone leaves (the accelerator path of sweeps)."""

import json
import pathlib
import subprocess
import sys

import chex
import jax
import numpy as np
import pytest
from helpers import REPO, checkpoint_steps, subprocess_env, tree_equal
from population_runs import member_config, member_configs

from gan_jax import experiment, health, trainer
from gan_jax.checkpoint import Checkpoints
from gan_jax.errors import ConfigError, NonFiniteError

UNTIMED = ("steps_per_sec",)  # wall clock: the one value two identical runs do not share
# A member equals the run alone to float rounding, not bit for bit: vmap batches the step's matmuls
# and reductions, which XLA:CPU then sums in another order (tests/population_runs.py trains both at
# XLA's default optimisation, where this stays ~1e-7 relative; SGD keeps it there, where Adam's
# normalised steps would amplify it). A member on another member's seed or training set is off by
# far more (the last assertions below).
RTOL = 1e-5


def _trained(workdir: pathlib.Path, variant: str) -> None:
    """population_runs.py's runs of `variant` in WORKDIR/p0, p1 and alone, at XLA's default."""
    subprocess.run(
        [sys.executable, str(REPO / "tests" / "population_runs.py"), str(workdir), variant],
        cwd=REPO,
        env=subprocess_env(optimised=True),
        check=True,
    )


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
    _trained(tmp_path, "seeds")
    member, lone = tmp_path / "p1", tmp_path / "alone"
    assert _files(member) == _files(lone)
    assert any(name.startswith("samples/") for name in _files(member))
    assert (member / "tensorboard").is_dir()
    for log in ("metrics.jsonl", "eval.jsonl"):
        assert _rows(member / log) == [_approx(row) for row in _rows(lone / log)], log
    assert checkpoint_steps(member) == checkpoint_steps(lone)
    configs = member_configs("seeds")
    like = experiment.build(configs[1], one_device).initial_state()
    alone = _latest(lone, like)
    chex.assert_trees_all_close(_latest(member, like), alone, rtol=RTOL, atol=1e-6)
    assert not tree_equal(_latest(tmp_path / "p0", like).g.params, alone.g.params)  # its own seed
    # Resuming a finished population trains nothing and changes nothing.
    before = (member / "metrics.jsonl").read_text()
    outcomes = trainer.train_population(configs, [tmp_path / "p0", member], one_device)
    assert outcomes == [{"status": "finished"}] * 2
    assert (member / "metrics.jsonl").read_text() == before


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["own_sets", "own_packs"])
def test_members_with_their_own_training_sets_each_train_on_theirs(tmp_path, variant):
    """configs/pacgan.py draws a training set per seed (data.seed): two members that differ only
    there sample from their own sets, stacked on the population axis -- the second leaves what
    it leaves alone, and differs from the first; so too with their own fixed packs of 2
    (data.fixed_packs: each walk's cycle-walking loop runs for the members together)."""
    _trained(tmp_path, variant)
    for log in ("metrics.jsonl", "eval.jsonl"):
        assert _rows(tmp_path / "p1" / log) == [_approx(r) for r in _rows(tmp_path / "alone" / log)], log
    assert _rows(tmp_path / "p0" / "metrics.jsonl") != _rows(tmp_path / "p1" / "metrics.jsonl")


def test_a_population_takes_only_seeds_and_one_step(tmp_path, one_device):
    other = member_config(1)
    other.optim.g.lr *= 2
    with pytest.raises(ConfigError, match="differ only in `seed` and `data.seed`"):
        trainer.train_population([member_config(0), other], [tmp_path / "a", tmp_path / "b"], one_device)
    ahead = member_config(0)
    ahead.train.total_steps = 20
    trainer.train_and_evaluate(ahead, str(tmp_path / "ahead"), devices=one_device)
    with pytest.raises(ConfigError, match="different steps"):
        trainer.train_population(
            [member_config(0), member_config(1)], [tmp_path / "ahead", tmp_path / "new"], one_device
        )


def test_a_members_divergence_is_read_from_its_own_row():
    diverged = health.Health(pathlib.Path("ckpts"), None, index=1)
    diverged.add(0, {"d_loss": np.array([[0.5, 0.4], [0.3, np.nan]])})  # (members, steps of the call)
    with pytest.raises(NonFiniteError, match="at step 2 "):
        diverged.verify(jax.numpy.zeros(()), 2)
    healthy = health.Health(pathlib.Path("ckpts"), None, index=0)
    healthy.add(0, {"d_loss": np.array([[0.5, 0.4], [0.3, np.nan]])})
    healthy.verify(jax.numpy.zeros(()), 2)
    assert healthy.pop_means() == {"d_loss": pytest.approx(0.45)}
