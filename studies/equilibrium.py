"""configs/equilibrium.py's report spec: its table and how it judges a run (experiments.report)."""


def dead_discriminator(run: dict) -> bool:
    """D's gradient is exactly zero: every unit is off, D outputs one constant (1/2 once trained)."""
    return run["status"] == "diverged" or run["final"]["equilibrium/d_grad_norm"] < 1e-8


REPORT = {
    "baseline": "balanced",  # the cell every other one is compared with
    "columns": [
        ("equilibrium/d_real", "D(x)"),
        ("equilibrium/d_fake", "D(G(z))"),
        ("equilibrium/V_minus_optimum", "V + log 4"),
        ("equilibrium/d_grad_norm", "D grad norm"),
        ("optimal_d/mean_abs", "mean abs(D - D*)"),
        ("modes/modes_captured", "modes captured"),
    ],
    "failed": dead_discriminator,
    "failure_definition": "diverged, or D dead at the end: its gradient norm is 0 (every ReLU unit "
    "off, so D outputs one constant and G gets no signal).",
}
