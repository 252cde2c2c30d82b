"""configs/stacked_mnist.py's report spec: its table and how it judges a run (experiments.report)."""


def collapsed(run: dict) -> bool:
    """A run "fails" when it diverged or G's samples hold fewer than half of the 1,000 modes."""
    return run["status"] == "diverged" or run["final"]["stacked_modes/modes"] < 500


# PacGAN's Table 2 (Lin et al. 2018; mean +- standard error over 10 trials), from the paper and
# fjxmlzn/PacGAN stacked_MNIST_experiments/results/Table2.png. The same table quotes VEEGAN's DCGAN
# at 99.0 modes, KL 3.40 (no trial count or error).
PUBLISHED = {
    "DCGAN": ("78.9 +- 6.46", "4.50 +- 0.127"),
    "PacDCGAN2": ("1000.0 +- 0.00", "0.06 +- 0.003"),
    "PacDCGAN3": ("1000.0 +- 0.00", "0.06 +- 0.003"),
    "PacDCGAN4": ("1000.0 +- 0.00", "0.07 +- 0.005"),
}

REPORT = {
    "baseline": "DCGAN",
    "published": lambda arg: PUBLISHED,
    "published_trials": 10,
    # "Agrees with a published row": equivalent within 20 modes (2% of 1,000) and 0.1 nats of KL
    # (two one-sided tests), a judgement fixed before any run; every comparison line gives the
    # difference's 95% CI, against which any other margin can be read.
    "margins": {"stacked_modes/modes": 20.0, "stacked_modes/kl": 0.1},
    "columns": [("stacked_modes/modes", "modes (of 1,000)"), ("stacked_modes/kl", "KL to uniform")],
    "failed": collapsed,
    "failure_definition": "collapsed: diverged, or fewer than 500 of the 1,000 modes in G's 26,000 samples.",
}
