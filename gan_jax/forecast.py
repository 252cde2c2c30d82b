"""Forecasting a run's end from its start: could a sweep stop its hopeless runs early?

The forecast of a run is the diagnosis (gan_jax/diagnosis.py) of its start alone: its logged rows
up to the sweep's first evaluation, and that evaluation (a quarter of the run in the sweeps that
evaluate four times). No parameter is fitted -- the rules are the diagnosis's own -- so no sweep
was used to choose them. It is scored against the run's final diagnosis: the share of runs whose
label it gets right; failing against healthy (any failure label against `converged`) as
sensitivity and specificity; and the first evaluation's modes captured against the last's. Each
share comes with its Wilson 95% interval.
"""

import numpy as np
from scipy import stats as scipy_stats

from gan_jax import diagnosis, stats


def cutoff(found: list[dict]) -> int | None:
    """The sweep's first evaluation step, when its runs evaluate more than once (else None)."""
    evaluated = [r["eval"] for r in found if len(r["eval"]) > 1]
    return min(e[0]["step"] for e in evaluated) if evaluated else None


def forecast(record: dict, until: int) -> diagnosis.Diagnosis:
    """The diagnosis of a run's first `until` steps."""
    metrics = [row for row in record["metrics"] if row["step"] <= until]
    evals = [row for row in record["eval"] if row["step"] <= until]
    ended_early = record["status"] == "diverged" and len(metrics) == len(record["metrics"])
    return diagnosis.diagnose("diverged" if ended_early else "finished", metrics, evals)


def _share(k: int, n: int) -> str:
    low, high = stats.wilson(k, n)
    return f"{k}/{n} ({k / n:.2f}, 95% CI {low:.2f}-{high:.2f})" if n else "no runs"


def _modes_line(pairs: list[tuple[float, float]]) -> list[str]:
    if len(pairs) < 3:
        return []
    early, final = np.array(pairs).T
    close = int(np.sum(np.abs(early - final) <= 1))
    rho = scipy_stats.spearmanr(early, final).statistic if np.ptp(early) and np.ptp(final) else float("nan")
    return [
        f"Modes captured at the first evaluation against the last: within one mode in "
        f"{_share(close, len(pairs))}; Spearman's rho {rho:.2f}.",
        "",
    ]


def _table(pairs: list[tuple[str, str]]) -> list[str]:
    """Runs by (forecast, final) label: a row per forecast label that occurs."""
    lines = ["| forecast \\ final | " + " | ".join(diagnosis.LABELS) + " |", "|---" * 7 + "|"]
    for label in diagnosis.LABELS:
        counts = [pairs.count((label, other)) for other in diagnosis.LABELS]
        if any(counts):
            lines.append(f"| {label} | " + " | ".join(map(str, counts)) + " |")
    return lines


def _modes(record: dict) -> tuple[float, float] | None:
    """(modes captured at the first evaluation, at the last), where both were counted."""
    first, last = record["eval"][0], record["eval"][-1]
    if "modes/modes_captured" in first and "modes/modes_captured" in last:
        return first["modes/modes_captured"], last["modes/modes_captured"]
    return None


def _scores(pairs: list[tuple[str, str]]) -> tuple[int, list[bool], list[bool]]:
    """(labels right; for each run failing at the end, whether it was forecast to fail; for each
    healthy one, whether it was forecast healthy)."""
    right = sum(p == f for p, f in pairs)
    failing = [p != "converged" for p, f in pairs if f != "converged"]
    healthy = [p == "converged" for p, f in pairs if f == "converged"]
    return right, failing, healthy


def forecast_lines(found: list[dict]) -> list[str]:
    """The report's forecast section (none when the sweep's runs evaluate once)."""
    until = cutoff(found)
    ended = [r for r in found if r["diagnosis"]]
    if until is None or not ended:
        return []
    pairs = [(forecast(r, until).label, r["diagnosis"].label) for r in ended]
    right, failing, healthy = _scores(pairs)
    return [
        f"## Forecast from the first evaluation (step {until})",
        "",
        "The diagnosis of each run's start alone (its logged rows and evaluation up to that step; "
        "gan_jax/forecast.py, no fitted parameter) against its final diagnosis. Final label right: "
        f"{_share(right, len(ended))}. Failing runs (any failure label at the end) forecast to fail: "
        f"{_share(sum(failing), len(failing))}; healthy runs forecast healthy: "
        f"{_share(sum(healthy), len(healthy))}.",
        "",
        *_table(pairs),
        "",
        *_modes_line([m for r in ended if r["eval"] and (m := _modes(r))]),
    ]
