"""configs/diagnosis.py's report spec: its table and how it judges a run (experiments.report)."""

import csv
import functools
import pathlib

from configs.diagnosis import BUILT, LOST_CELLS, SWITCH

HAND_LABELS = pathlib.Path(__file__).with_name("diagnosis_real_labels.csv")  # cell, seed, label, why


@functools.cache
def hand_labels() -> dict[tuple[str, int], str]:
    """The labels given by hand to configs/diagnosis.py:real_ring's and :real_grid's runs, by
    (cell, seed)."""
    with HAND_LABELS.open(newline="") as f:
        return {(row["cell"], int(row["seed"])): row["label"] for row in csv.DictReader(f)}


def truth(run: dict) -> str | None:
    """The label a run is known to deserve: a real run's (`real_*`), the one given by hand; a
    built one's, its cell's, except that a ring run built to be healthy is known to be only if it
    reached the data's coverage (all 8 modes at its last evaluation; R1 and the saturating loss
    promise no coverage) -- else None, unknown; and a run built to lose modes (`lost`) is known to
    have lost them only if it had all 8 at the switch."""
    if run["cell"] not in BUILT:
        return hand_labels().get((run["cell"], run["seed"]))
    if "data.train_modes_from" in LOST_CELLS.get(run["cell"], {}):
        had = [row for row in run["eval"] if row["step"] == SWITCH and "modes/modes_captured" in row]
        return (
            "mode collapse" if had and had[0]["modes/modes_captured"] == had[0]["modes/num_modes"] else None
        )
    final = run["final"]
    if BUILT[run["cell"]] == "converged" and "modes/num_modes" in final:
        return "converged" if final["modes/modes_captured"] == final["modes/num_modes"] else None
    return BUILT[run["cell"]]


REPORT = {
    "baseline": "converged (ring, R1)",
    "columns": [
        ("modes/modes_captured", "modes captured"),
        ("modes/high_quality_percent", "% high-quality"),
        ("equilibrium/d_real", "D(x)"),
        ("equilibrium/d_fake", "D(G(z))"),
        ("optimal_d/mean_abs", "mean abs(D - D*)"),
    ],
    "truth": truth,
}
