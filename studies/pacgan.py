"""configs/pacgan.py's report spec: its table and how it judges a run (experiments.report)."""

from configs.pacgan import FIXED_PACKS_CELL, ONE_G_BATCH, parse_args
from studies import mode_collapse

# PacGAN's Table 1 (mean +- standard error over 10 trials), from the paper and
# fjxmlzn/PacGAN synthetic_data_experiments/results/Table1.png.
PUBLISHED = {
    "ring": {
        "GAN": ("6.3 +- 0.5", "98.2 +- 0.2", "0.45 +- 0.09"),
        "PacGAN2": ("7.9 +- 0.1", "95.6 +- 2.0", "0.07 +- 0.03"),
        "PacGAN3": ("7.8 +- 0.1", "97.7 +- 0.3", "0.10 +- 0.02"),
        "PacGAN4": ("7.8 +- 0.1", "95.9 +- 1.4", "0.07 +- 0.02"),
    },
    "grid": {
        "GAN": ("17.3 +- 0.8", "94.8 +- 0.7", "0.70 +- 0.07"),
        "PacGAN2": ("23.8 +- 0.7", "91.3 +- 0.8", "0.13 +- 0.04"),
        "PacGAN3": ("24.6 +- 0.4", "94.2 +- 0.4", "0.06 +- 0.02"),
        "PacGAN4": ("24.8 +- 0.2", "93.6 +- 0.6", "0.04 +- 0.01"),
    },
}


REPORT = {
    "baseline": "GAN",
    "published": lambda arg: PUBLISHED[parse_args(arg).dataset],
    "published_trials": 10,
    "margins": mode_collapse.MARGINS,
    "columns": mode_collapse.REPORT["columns"],  # PacGAN's Table 1 columns
    "comparisons": [  # their per-slot G against one G batch; their fixed packs against fresh ones
        ("PacGAN4", ONE_G_BATCH),
        (FIXED_PACKS_CELL, "PacGAN4"),
    ],
}
