r"""The modern objectives and regularisers side by side: which collapses least, which trains most stably?

Command:   python -m experiments.sweep --config=configs/objectives.py:grid --workdir=runs/objectives/grid
           python -m experiments.report --workdir=runs/objectives/grid --out=docs/objectives/grid
           (the same with :digits); one run of one cell:
           python -m experiments.run --config=configs/objectives.py:grid,hinge,sn --workdir=runs/hinge_sn
Arguments: `grid` (the study's small MLP GAN of configs/mode_collapse.py on the 25-mode grid, 4,000
           steps, ten seeds) or `digits` (the DCGAN of configs/dcgan.py on digits, 1,500 steps, five
           seeds); the objective and flags of configs/gan_mlp.py (`hinge`, `wgan_gp`, `lsgan`,
           `rsgan`; `r1`, `sn`) for a single run; `smoke`; `seeds=N` for the sweep.
Cells:     minimax (the baseline: non-saturating G loss), hinge, wgan_gp, lsgan, rsgan, minimax + R1,
           minimax + SN, hinge + SN (SN-GAN's combination), each with its paper's settings
           (gan_jax/config.py OBJECTIVES) on top of the base model: wgan_gp brings its own optimiser
           (Adam 1e-4, betas (0, 0.9)) and 5 critic steps, so in a fixed number of G steps it trains
           at a tenth of the grid baseline's learning rate -- its paper's protocol, not a tuned one.
CPU time:  grid ~13 s a run (wgan_gp ~4x): the sweep took 9 minutes with two workers on 2 cores;
           digits ~1.5 minutes a run, wgan_gp ~6 minutes (5 critic steps, each with its gradient
           penalty): the sweep took 47 minutes with two workers on 2 cores.
Expected:  docs/objectives.md. grid: hinge 19.5 +- 0.7 of 25 modes against the minimax GAN's
           14.7 +- 0.9; spectral normalisation with one D step fails every run. digits: no run
           fails; WGAN-GP FD 47.0 +- 1.0 against minimax 55.8 +- 1.7, recall 0.818 against 0.743.
           The failure rule is that of configs/improved_gan.py.
"""

import ml_collections

from configs import improved_gan, mode_collapse
from gan_jax import sweep
from gan_jax.config import OBJECTIVES, apply_objective, arguments, objective_overrides

DATASETS = ("grid", "digits")
parse_args = arguments(
    "objectives.py", dataset=DATASETS, objective=tuple(OBJECTIVES), r1=False, sn=False, smoke=False, seeds=0
)
SEEDS = {"grid": 10, "digits": 5}  # `seeds=0`: these
CELLS = {  # name -> (objective, r1, sn)
    "minimax": ("minimax", False, False),
    "hinge": ("hinge", False, False),
    "wgan_gp": ("wgan_gp", False, False),
    "lsgan": ("lsgan", False, False),
    "rsgan": ("rsgan", False, False),
    "minimax + R1": ("minimax", True, False),
    "minimax + SN": ("minimax", False, True),
    "hinge + SN": ("hinge", False, True),
}


def base_config(dataset: str, smoke: bool) -> ml_collections.ConfigDict:
    """The minimax model a cell's objective is set on."""
    return (
        improved_gan.build(dataset, smoke=smoke)
        if dataset == "digits"
        else mode_collapse.build("grid", smoke)
    )


def get_config(arg: str = "grid") -> ml_collections.ConfigDict:
    args = parse_args(arg)
    config = base_config(args.dataset, args.smoke)
    apply_objective(config, args.objective, args.r1, args.sn)
    return config


def get_sweep(arg: str = "grid") -> list[dict]:
    """Every cell of CELLS, seeds 0 to 9 (grid) or 4 (digits), as overrides of get_config(<data set>)."""
    args = parse_args(arg)
    base = base_config(args.dataset, args.smoke)
    cells = [{"_name": name, **objective_overrides(base, *cell)} for name, cell in CELLS.items()]
    return sweep.product(cells, sweep.sweep("seed", range(args.seeds or SEEDS[args.dataset])))
