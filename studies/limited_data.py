"""configs/limited_data.py's report spec: its table and how it judges a run (experiments.report)."""

from studies import improved_gan

REPORT = {
    "baseline": "none",
    "columns": [
        ("fd/value", "FD-CNN"),
        ("kid/mean", "KID"),
        ("prdc/precision", "precision"),
        ("prdc/recall", "recall"),
        ("prdc/coverage", "coverage"),
        ("score/mean", "classifier score"),
        ("copying/c_t", "C_T"),  # Meehan et al.'s data-copying test: < 0 copying, > 0 further than new data
    ],
    "failed": improved_gan.failed,
    "failure_definition": "diverged, or precision below 0.05 (almost no sample on the real data's manifold).",
    # LeCam on top of DiffAugment; bCR at a tenth of its paper's weight, and without its flip,
    # against it as its paper sets it; without its flip, at half its shift against the full shift
    "comparisons": [
        ("diffaugment", "diffaugment + lecam"),
        ("bcr (lambda 1)", "bcr"),
        ("bcr (no flip)", "bcr"),
        ("bcr (no flip, shift 0.0625)", "bcr (no flip)"),
    ],
}
