"""configs/unrolled.py's report spec: its table and how it judges a run (experiments.report)."""

from configs.unrolled import parse_args
from studies import mode_collapse

# VEEGAN's Table 1 (Srivastava et al. 2017): its own GAN and unrolled-GAN runs (architecture and
# schedule not given in full there); modes captured and % high-quality samples, no standard
# errors and no reverse KL. Quoted from the paper.
PUBLISHED = {
    "ring": {"GAN": ("1.0", "99.3", "-"), "unrolled, 5 steps": ("7.6", "35.6", "-")},
    "grid": {"GAN": ("3.3", "0.5", "-"), "unrolled, 5 steps": ("23.6", "16.0", "-")},
}


REPORT = {
    "baseline": "GAN",
    "published": lambda arg: PUBLISHED[parse_args(arg).dataset],
    "published_trials": None,  # VEEGAN's table gives no trial count and no standard errors
    "margins": mode_collapse.MARGINS,
    "columns": mode_collapse.REPORT["columns"],  # PacGAN's Table 1 columns
}
