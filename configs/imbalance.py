r"""G/D imbalance: does training still work when one player is much stronger? One factor at a time
around a balanced baseline, five seeds per cell, for the MLP GAN on the grid and DCGAN on digits.

Command:   python -m experiments.sweep --config=configs/imbalance.py:grid --workdir=runs/imbalance/grid
           python -m experiments.report --workdir=runs/imbalance/grid       (the same with :digits)
           one cell: python -m experiments.run --config=configs/imbalance.py:grid --workdir=runs/x
Arguments: `grid` (the study's small MLP GAN of configs/mode_collapse.py, 4,000 steps) or
           `digits` (DCGAN at 16x16, batch 64, 1,000 steps); `smoke`.
Axes:      capacity: D width / G width in {1/4, 1/2, 1, 2, 4} (model.d.width_mult); learning rates:
           D lr / G lr in {0.1, 0.32, 1, 3.2, 10} (G's fixed); updates: D steps per G step in
           {1, 2, 5}; head start: D trained alone for 0, 500 or 2,000 steps first (added to the run,
           so G always gets the same number of updates).
Failure:   the run diverged, or at the end D(G(z)) < 0.05 (D rejects all of G's samples, G's
           gradient vanishes), or (grid) fewer than 5 of the 25 modes are captured.
CPU time:  the sweeps: grid 11.7 minutes, digits ~45 minutes (width 4 dominates), on 2 cores
           (2 workers).
Expected:  see docs/study.md.
"""

import ml_collections

from configs import dcgan, mode_collapse
from gan_jax import sweep
from gan_jax.config import arguments

DATASETS = ("grid", "digits")
parse_args = arguments("imbalance.py", dataset=DATASETS, smoke=False, seeds=5)
RATIOS = (0.25, 0.5, 1.0, 2.0, 4.0)
LR_RATIOS = (0.1, 0.316, 1.0, 3.16, 10.0)
D_STEPS = (1, 2, 5)
HEAD_STARTS = (0, 500, 2_000)


def get_config(arg: str = "grid") -> ml_collections.ConfigDict:
    args = parse_args(arg)
    if args.dataset == "grid":
        config = mode_collapse.build("grid", args.smoke)
    else:
        config = dcgan.build("digits", smoke=args.smoke)
        if not args.smoke:
            config.train.update(batch_size=64, total_steps=1_000)
            config.log.update(every=100, sample_every=1_000)
            config.checkpoint.update(every=1_000, keep=1)
            config.eval.update(every=1_000, metrics="fd,prdc,equilibrium")
    return config


def get_sweep(arg: str = "grid") -> list[dict]:
    base = get_config(arg)
    g_lr, steps = base.optim.g.lr, base.train.total_steps
    cells = [{"_name": f"width D:G {r:g}", "model.d.width_mult": r} for r in RATIOS]
    cells += [{"_name": f"lr D:G {r:g}", "optim.d.lr": g_lr * r} for r in LR_RATIOS if r != 1.0]
    cells += [{"_name": f"D steps {k}", "train.d_steps": k} for k in D_STEPS if k != 1]
    cells += [
        {"_name": f"D head start {h}", "train.d_head_start": h, "train.total_steps": steps + h}
        for h in HEAD_STARTS
        if h
    ]
    for cell in cells:  # runs whose length changes keep their single, final checkpoint/evaluation
        if "train.total_steps" in cell:
            total = cell["train.total_steps"]
            cell.update({"checkpoint.every": total, "eval.every": total, "log.sample_every": total})
    return sweep.product(cells, sweep.sweep("seed", range(parse_args(arg).seeds)))
