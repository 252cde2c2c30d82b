"""The metric bench's report, rendered from its records alone (gan_jax/metric_bench.py has the
protocol): detection power by defect, metric and N; Spearman's rho of each metric against each
defect's severity; the clean generator's FD and KID against N (their bias); and what detects what,
in sentences generated from the power table."""

from collections.abc import Sequence

import numpy as np
from etils import epath
from scipy import stats as scipy_stats

from gan_jax import defects, plots
from gan_jax.metric_bench import Z

POWERFUL = 0.8  # a metric "detects" a defect at N when at least this share of its draws is detected


def detected(value: float, clean: Sequence[float]) -> bool:
    """Whether `value` lies more than Z standard deviations of the clean draws from their mean
    (any difference at all when the clean draws never vary)."""
    clean = np.asarray(clean, np.float64)
    mean, spread = clean.mean(), clean.std(ddof=1)
    return bool(value != mean) if spread == 0 else bool(abs(value - mean) > Z * spread)


def false_alarms(clean: Sequence[float]) -> int:
    """How many clean draws the rule flags, each judged against the others."""
    return sum(detected(v, np.delete(clean, i)) for i, v in enumerate(clean))


def spearman(severities: Sequence[float], values: Sequence[float]) -> float | None:
    """Spearman's rho between severity and metric; None when the metric never varies."""
    if np.ptp(values) == 0:
        return None
    return float(scipy_stats.spearmanr(severities, values).statistic)


def severities(header: dict) -> dict[str, list]:
    """The header's defects (levels, small level) in DEFECTS order (records store keys sorted)."""
    return {d: header["severities"][d] for d in defects.DEFECTS if d in header["severities"]}


def _values(records: list[dict], metric: str, **where) -> list[float]:
    return [r["metrics"][metric] for r in records if all(r[k] == v for k, v in where.items())]


def power_rows(header: dict, records: list[dict]) -> list[tuple[str, int, dict[str, tuple[int, int]]]]:
    """(setting, N, {metric: (detected draws, draws)}) for the clean rows (false alarms) and each
    defect at its small severity."""
    power = [r for r in records if r["experiment"] == "power"]
    rows = []
    for n in header["sizes"]:
        clean = {m: _values(power, m, n=n, defect="clean") for m in header["metrics"]}
        rows.append(("clean: false alarms", n, {m: (false_alarms(v), len(v)) for m, v in clean.items()}))
        for defect, (_, small) in severities(header).items():
            counts = {}
            for m in header["metrics"]:
                values = _values(power, m, n=n, defect=defect)
                counts[m] = (sum(detected(v, clean[m]) for v in values), len(values))
            rows.append((f"{defect} ({small:g})", n, counts))
    return rows


def _table(head: Sequence[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def _power_table(header: dict, rows) -> list[str]:
    body = [[setting, str(n), *(f"{k}/{t}" for k, t in counts.values())] for setting, n, counts in rows]
    return _table(["setting (severity)", "N", *header["metrics"]], body)


def _rho_table(header: dict, records: list[dict]) -> list[str]:
    curves = [r for r in records if r["experiment"] == "curves"]
    body = []
    for defect in severities(header):
        drawn = [r for r in curves if r["defect"] == defect]
        cells = []
        for m in header["metrics"]:
            rho = spearman([r["severity"] for r in drawn], [r["metrics"][m] for r in drawn])
            cells.append("const" if rho is None else f"{rho:+.2f}")
        levels = ", ".join(f"{s:g}" for s in header["severities"][defect][0])
        body.append([f"{defect} ({levels})", *cells])
    return _table(["defect (severities)", *header["metrics"]], body)


def _curve_table(header: dict, records: list[dict], defect: str) -> list[str]:
    body = []
    for severity in header["severities"][defect][0]:
        cells = []
        for m in header["metrics"]:
            v = _values(records, m, experiment="curves", defect=defect, severity=severity)
            cells.append(f"{np.mean(v):.4g} +- {np.std(v, ddof=1):.2g}")
        body.append([f"{severity:g}", *cells])
    return _table([f"{defect}", *header["metrics"]], body)


def standardised_curves(header: dict, records: list[dict]) -> dict[str, tuple[list[float], dict]]:
    """Per defect: (severities, {metric: its mean at each severity, in standard deviations of its
    draws at severity 0 from their mean}); a metric whose clean draws never vary is left out."""
    curves = {}
    for defect, (levels, _) in severities(header).items():
        by_metric = {}
        for m in header["metrics"]:
            means = [
                np.mean(_values(records, m, experiment="curves", defect=defect, severity=s)) for s in levels
            ]
            clean = _values(records, m, experiment="curves", defect=defect, severity=levels[0])
            spread = np.std(clean, ddof=1)
            if spread > 0:
                by_metric[m] = [(v - means[0]) / spread for v in means]
        curves[defect] = (list(levels), by_metric)
    return curves


def _bias_table(loaded: list[tuple[dict, list[dict]]]) -> list[str]:
    sizes = sorted({n for header, _ in loaded for n in header["sizes"]})
    body = []
    for header, records in loaded:
        power = [r for r in records if r["experiment"] == "power"]
        for m in ("fd", "kid"):
            cells = []
            for n in sizes:
                v = _values(power, m, n=n, defect="clean")
                cells.append(f"{np.mean(v):.4g} +- {np.std(v, ddof=1):.2g}" if v else "")
            body.append([header["data"], m, *cells])
    return _table(["data", "metric", *(f"N = {n}" for n in sizes)], body)


def first_powerful(defect: str, rows) -> dict[str, int]:
    """metric -> the smallest N at which it detects `defect` in at least POWERFUL of the draws."""
    first: dict[str, int] = {}
    for setting, n, counts in rows:
        if setting.startswith(f"{defect} ("):
            for m, (k, t) in counts.items():
                if t and k / t >= POWERFUL:
                    first.setdefault(m, n)
    return first


def _guidance(header: dict, rows) -> list[str]:
    """A sentence per defect: which metrics reach POWERFUL at the smallest N, which later, which never."""
    lines = []
    for defect, (_, small) in severities(header).items():
        first = first_powerful(defect, rows)
        never = [m for m in header["metrics"] if m not in first]
        seen = ", ".join(f"{m} (N = {n})" for m, n in first.items()) or "no metric"
        missed = f"; never: {', '.join(never)}" if never and first else ""
        lines.append(f"- {defect} at {small:g}: {seen}{missed}.")
    return lines


def render(loaded: list[tuple[dict, list[dict]]], out: epath.Path) -> str:
    """The report of every data set's (header, records): its text, returned, and each data set's
    curves figure, written into `out` as <data>_curves.png."""
    lines = [
        "# The metric bench: which metric detects which failure, at which N",
        "",
        "Generated by `python -m experiments.metric_bench --out=docs/metrics` from the records",
        "beside it; `gan_jax/metric_bench.py` and `gan_jax/defects.py` define the trials. A draw is",
        f"detected when its value lies more than {Z:g} standard deviations of the clean draws (at the",
        "same N) from their mean; cells count detected draws. The clean rows count the rule's false",
        "alarms, each clean draw judged against the others.",
        "",
        "## FD and KID of the clean generator against N (their bias: the true distance is 0)",
        "",
        *_bias_table(loaded),
    ]
    for header, records in loaded:
        rows = power_rows(header, records)
        judge = header["judge"]
        judge = judge.get("name", judge) if isinstance(judge, dict) else judge
        lines += [
            "",
            f"## {header['data']}",
            "",
            f"Judge: {judge}. {header['repeats']} draws a setting in the power table, at each N; "
            f"records made on {header['machine']}.",
            "",
            f"What detects what (at least {POWERFUL:.0%} of the draws, at the smallest N that reaches it):",
            "",
            *_guidance(header, rows),
            "",
            "### Detection power",
            "",
            *_power_table(header, rows),
            "",
            f"### Spearman's rho between severity and metric (N = {header['curve_n']})",
            "",
            *_rho_table(header, records),
            "",
            f"### The curves: mean +- sd over the draws (N = {header['curve_n']})",
        ]
        figure = f"{header['data']}_curves.png"
        plots.save_metric_curves(header["data"], standardised_curves(header, records), out / figure)
        lines += ["", f"![{header['data']} curves]({figure})"]
        for defect in severities(header):
            lines += ["", *_curve_table(header, records, defect)]
    return "\n".join(lines) + "\n"
