"""configs/objectives.py's report spec: its table and how it judges a run (experiments.report)."""

from studies import improved_gan

REPORT = {**improved_gan.REPORT, "baseline": "minimax", "comparisons": [("minimax + R1", "hinge")]}
