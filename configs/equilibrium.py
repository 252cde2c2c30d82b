r"""Does D's output settle at 1/2 (and V at -log 4), even when D is stronger than G? The vanilla GAN
on the 1-D Gaussian and on the ring with D four times wider than G, as wide, and four times
narrower, five seeds each; D(x), D(G(z)) and V logged every 500 steps and, on the 1-D data, the
distance of D to the optimal D* = p_data / (p_data + p_g) every 500 steps.

Command:   python -m experiments.sweep --config=configs/equilibrium.py:gaussian1d \
               --workdir=runs/equilibrium/gaussian1d
           python -m experiments.report --workdir=runs/equilibrium/gaussian1d   (the same with :ring)
           one run: python -m experiments.run --config=configs/equilibrium.py:gaussian1d --workdir=runs/x
Arguments: `gaussian1d` or `ring`; `smoke`; `seeds=N` for the sweep (default 5).
Model:     the study's small MLP GAN (configs/mode_collapse.py), non-saturating G loss, 4,000 steps.
CPU time:  the 15-run sweep: gaussian1d 6.6 minutes, ring 4.3 minutes, on 2 cores (2 workers).
Expected:  see docs/study.md.
"""

import ml_collections

from configs import gan_mlp, mode_collapse
from gan_jax import sweep
from gan_jax.config import arguments

DATASETS = ("gaussian1d", "ring")
parse_args = arguments("equilibrium.py", dataset=DATASETS, smoke=False, seeds=5)
STRENGTHS = {"D stronger (width x4)": 4.0, "balanced": 1.0, "D weaker (width x0.25)": 0.25}


def get_config(arg: str = "gaussian1d") -> ml_collections.ConfigDict:
    args = parse_args(arg)
    config = gan_mlp.build(args.dataset, smoke=args.smoke)
    if not args.smoke:
        mode_collapse.small_gan(config, total_steps=4_000)
        metrics = "equilibrium,optimal_d" if args.dataset == "gaussian1d" else "equilibrium,modes"
        config.eval.update(every=500, metrics=metrics)
    return config


def get_sweep(arg: str = "gaussian1d") -> list[dict]:
    cells = [{"_name": name, "model.d.width_mult": mult} for name, mult in STRENGTHS.items()]
    return sweep.product(cells, sweep.sweep("seed", range(parse_args(arg).seeds)))
