"""configs/imbalance.py's report spec: its table and how it judges a run (experiments.report)."""


def failed(run: dict) -> bool:
    final = run["final"]
    collapsed = final.get("modes/modes_captured", 25) < 5
    return run["status"] == "diverged" or final.get("equilibrium/d_fake", 1.0) < 0.05 or collapsed


REPORT = {
    "baseline": "width D:G 1",  # the cell every other one is compared with
    "columns": [
        ("modes/modes_captured", "modes captured"),
        ("modes/high_quality_percent", "% high-quality"),
        ("fd/value", "FD-CNN-digits16"),
        ("prdc/recall", "recall"),
        ("equilibrium/d_real", "D(x)"),
        ("equilibrium/d_fake", "D(G(z))"),
    ],
    "failed": failed,
    "failure_definition": "diverged, or final D(G(z)) < 0.05 (D rejects everything G makes), or (grid) "
    "fewer than 5 of 25 modes captured.",
}
