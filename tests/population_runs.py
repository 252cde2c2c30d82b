"""The runs tests/test_population.py compares, trained in a process of their own at XLA's default
optimisation. vmap has XLA:CPU sum a member's matmuls and reductions in another order than the run
alone: at the default the two stay within float rounding (~1e-7 relative, measured), but compiled
at the tests' -O0 (helpers.COMPILE_FLAGS) the orders differ more (5.2e-5 relative by step 40; AMD
EPYC, 2026-12-06), which no tolerance of float rounding admits. The test starts it as

    python tests/population_runs.py WORKDIR VARIANT

and it leaves WORKDIR/p0 and WORKDIR/p1 (a population of two members) and WORKDIR/alone (the
second member's run alone)."""

import pathlib
import sys

import jax
from helpers import load_config, use_jax_cache

from gan_jax import trainer


def member_config(seed: int):
    """The ring smoke run with SGD: Adam's normalised steps would amplify float rounding."""
    config = load_config("configs/mode_collapse.py:ring,smoke")
    config.seed = seed
    for opt in (config.optim.g, config.optim.d):
        opt.update(name="sgd", lr=0.05)
    return config


def member_configs(variant: str) -> list:
    """`seeds`: two members on seeds 0 and 1. `own_sets`: one seed, each member its own training
    set (data.seed, as configs/pacgan.py draws one per seed); `own_packs`: so, with fixed packs of
    2 (data.fixed_packs)."""
    if variant == "seeds":
        return [member_config(0), member_config(1)]
    configs = [member_config(0), member_config(0)]
    for data_seed, config in enumerate(configs):
        config.data.update(train_size=500, seed=data_seed, fixed_packs=variant == "own_packs")
        config.model.d.pack = 2 if variant == "own_packs" else 1
    return configs


def main(workdir: pathlib.Path, variant: str) -> None:
    use_jax_cache()
    configs, devices = member_configs(variant), jax.devices()[:1]
    outcomes = trainer.train_population(configs, [workdir / "p0", workdir / "p1"], devices)
    assert outcomes == [{"status": "finished"}] * 2, outcomes
    trainer.train_and_evaluate(configs[1], str(workdir / "alone"), devices=devices)


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]), sys.argv[2])
