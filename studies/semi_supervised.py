"""configs/semi_supervised.py's report spec: its table and how it judges a run (experiments.report)."""

# The report's table (experiments/report.py): D's test error, with the equilibrium for context.
REPORT = {
    "columns": [
        ("semi_supervised/errors_per_10000", "test errors per 10,000"),
        ("semi_supervised/error_rate", "test error rate"),
        ("equilibrium/d_real", "D(x)"),
        ("equilibrium/d_fake", "D(G(z))"),
    ],
}
