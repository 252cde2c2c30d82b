"""configs/cgan.py's report spec: its table and how it judges a run (experiments.report)."""

REPORT = {
    "columns": [
        ("conditional/accuracy", "classifier accuracy on G(z, y)"),
        ("fd/value", "FD-CNN-digits16"),
        ("conditional/mean_class_fd", "mean per-class FD"),
        ("prdc/precision", "precision"),
        ("prdc/recall", "recall"),
        ("score/mean", "classifier score"),
    ],
}
