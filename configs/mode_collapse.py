r"""Mode collapse of the vanilla GAN on the 2-D mixtures: saturating vs non-saturating G loss, one vs
three D steps per G step, ten seeds each (the study's first table, in the layout of PacGAN's Table 1).

Command:   python -m experiments.sweep --config=configs/mode_collapse.py:ring \
               --workdir=runs/mode_collapse/ring
           python -m experiments.report --workdir=runs/mode_collapse/ring
           (the same with :grid); one run of one cell:
           python -m experiments.run --config=configs/mode_collapse.py:ring --workdir=runs/ring_small
Arguments: `ring` or `grid`; `smoke`; `seeds=N` for the sweep (default 10).
Model:     smaller than configs/gan_mlp.py (PacGAN's 4 x 400 / 3 x 200 maxout), so that both 40-run
           tables fit in 15 minutes on 2 cores: z in R^2; G 4 x 128 ReLU; D 3 x 128 ReLU; Adam 1e-3
           (beta1 0.5) for both; batch 256; 4,000 G steps. Evaluation (VEEGAN/PacGAN protocol):
           2,500 samples, at steps 1,000, 2,000, 3,000 and 4,000 (the table reads the last; the
           diagnosis's "modes lost since an earlier evaluation" reads them all); losses logged
           every 100 steps (40 rows: enough for the diagnosis's oscillation test).
CPU time:  ~13 s a run on one core (k = 1), ~26 s (k = 3); the sweep of one data set ~6.5 minutes
           with two workers (measured with one evaluation a run; the three more add little: one
           grid run, k = 1, took 23 s with four and 33 s with one, the latter compiling first).
Expected:  see docs/study.md (modes captured, % high-quality samples, reverse KL; mean +- standard
           error over 10 seeds).
"""

import ml_collections

from configs import gan_mlp
from gan_jax import sweep
from gan_jax.config import arguments

DATASETS = ("ring", "grid")
parse_args = arguments("mode_collapse.py", dataset=DATASETS, smoke=False, seeds=10)
EVALUATIONS = 4  # a run's evaluations, evenly spaced


def get_config(arg: str = "ring") -> ml_collections.ConfigDict:
    args = parse_args(arg)
    return build(args.dataset, args.smoke)


def build(dataset: str = "ring", smoke: bool = False) -> ml_collections.ConfigDict:
    """The study's small GAN on `dataset` (the `smoke` run: gan_mlp's), for other configs to build on."""
    config = gan_mlp.build(dataset, smoke=smoke)
    if not smoke:
        small_gan(config, total_steps=4_000)
        config.log.every = 100
        config.eval.update(every=4_000 // EVALUATIONS, metrics="modes,equilibrium")
    return config


def small_gan(config: ml_collections.ConfigDict, total_steps: int) -> ml_collections.ConfigDict:
    """The study's small MLP GAN (see the module docstring), evaluated once at the end."""
    config.model.g.update(width=128, depth=4)
    config.model.d.update(width=128, depth=3, activation="relu")
    config.optim.g.lr = config.optim.d.lr = 1e-3
    config.train.update(batch_size=256, total_steps=total_steps, steps_per_call=100)
    config.log.update(every=500, sample_every=total_steps, num_samples=2_500)
    config.checkpoint.update(every=total_steps, keep=1)
    config.eval.update(every=total_steps)
    return config


def cells() -> list[dict]:
    """G loss x D steps per G step, named 'non_saturating, k=3' etc."""
    losses_and_steps = sweep.product(
        sweep.sweep("loss.g", ["saturating", "non_saturating"]), sweep.sweep("train.d_steps", [1, 3])
    )
    return [{"_name": f"{c['loss.g']}, k={c['train.d_steps']}", **c} for c in losses_and_steps]


def get_sweep(arg: str = "ring") -> list[dict]:
    """The cells, seeds 0-9 (`seeds=N`: 0 to N-1)."""
    return sweep.product(cells(), sweep.sweep("seed", range(parse_args(arg).seeds)))
