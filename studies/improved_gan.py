"""configs/improved_gan.py's report spec: its table and how it judges a run (experiments.report)."""


def failed(run: dict) -> bool:
    """Diverged; (grid) fewer than half of the 25 modes captured; (digits) precision below 0.05,
    i.e. almost no sample of G lies on the real digits' manifold (the baseline's is ~0.4)."""
    final = run["final"]
    captured, precision = final.get("modes/modes_captured"), final.get("prdc/precision")
    return (
        run["status"] == "diverged"
        or (captured is not None and captured < final["modes/num_modes"] / 2)
        or (precision is not None and precision < 0.05)
    )


# The report's table (experiments/report.py): mode coverage on the grid, sample quality on digits.
REPORT = {
    "baseline": "baseline",  # the cell every other one is compared with (d_norm_probe: the first)
    "columns": [
        ("modes/modes_captured", "modes captured"),
        ("modes/high_quality_percent", "% high-quality"),
        ("modes/reverse_kl", "reverse KL"),
        ("fd/value", "FD-CNN-digits16"),
        ("prdc/precision", "precision"),
        ("prdc/recall", "recall"),
        ("score/mean", "classifier score"),
    ],
    "failed": failed,
    "failure_definition": "diverged; (grid) fewer than half of the 25 modes captured; (digits) "
    "precision below 0.05 (almost no sample on the real digits' manifold).",
}
