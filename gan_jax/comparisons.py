"""Every comparison a report's table makes, with its statistics (gan_jax/stats.py).

Each cell against the baseline cell, and each other pair of cells REPORT["comparisons"] names (a
named pair that is also a baseline comparison, as in a sweep of those two cells, is tested once):
every column by Welch's test, the failure counts by Fisher's exact test. Each cell against its published
row: Welch's test with the paper's standard error and trial count (REPORT["published_trials"]),
and two one-sided tests against the margin REPORT["margins"] declares for the column. The p-values
of the difference tests are Holm-adjusted together (one family a table); the equivalence tests
form a family of their own. `Comparison.verdict` is what a doc may say: differs, equivalent within
+-margin, or not distinguishable.
"""

import dataclasses
import math

from gan_jax import stats


@dataclasses.dataclass
class Comparison:
    kind: str  # "cell": a column of two cells; "failed": their failure counts; "published": vs the
    # paper; "change": a cell's column between two evaluated steps, paired by run
    cell: str
    other: str | None  # the other cell (None against a published row)
    key: str | None  # the column compared (None for failure counts)
    label: str
    p: float = math.nan
    test: stats.Welch | None = None
    counts: tuple[int, int, int, int] | None = None  # failed, seeds of `cell`; failed, seeds of `other`
    theirs: stats.Summary | None = None  # the published number
    margin: float | None = None  # of the equivalence test
    tost: float = math.nan
    holm: float = math.nan
    tost_holm: float = math.nan
    steps: tuple[int, int] | None = None  # of a change

    @property
    def verdict(self) -> str:
        if math.isnan(self.p):
            return "no test: no spread"
        if self.holm < stats.ALPHA:
            return "differs"
        if self.tost_holm < stats.ALPHA:
            return f"equivalent within +-{self.margin:g}"
        return "not distinguishable"

    @property
    def survives(self) -> bool:
        """Whether the difference survives Holm's adjustment (the table's *)."""
        return self.holm < stats.ALPHA

    def line(self) -> str:
        """The comparison as the report's Comparisons section (and a doc citing it) words it."""
        if self.kind == "failed":
            a_failed, a_seeds, b_failed, b_seeds = self.counts
            return (
                f"- `{self.cell}` vs `{self.other}`, failed runs: {a_failed}/{a_seeds} vs "
                f"{b_failed}/{b_seeds}, Fisher p = {_p(self.p)}, Holm p = {_p(self.holm)}: {self.verdict}"
            )
        t = self.test
        if self.kind == "change":
            start, end = self.steps
            head = f"- `{self.cell}`, {self.label}, step {start} to {end}: {t.difference:+.3g}"
        else:
            other = f"`{self.other}`" if self.kind == "cell" else f"published ({_g(self.theirs.mean)})"
            head = f"- `{self.cell}` vs {other}, {self.label}: {t.difference:+.3g}"
        if math.isnan(self.p):
            return f"{head}, {self.verdict}"
        line = (
            f"{head} (95% CI {_g(t.low)} to {_g(t.high)}), t = {_g(t.t)}, df = {t.df:.1f}, "
            f"p = {_p(t.p)}, Holm p = {_p(self.holm)}"
        )
        if self.margin:
            line += f"; TOST +-{self.margin:g}: p = {_p(self.tost)}, Holm p = {_p(self.tost_holm)}"
        return f"{line}: {self.verdict}"


def _g(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.3g}"


def _p(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2g}" if value >= 0.001 else f"{value:.1e}"


def published_summary(text: str, trials: int | None) -> stats.Summary | None:
    """'6.3 +- 0.5' -> (6.3, 0.5, trials: the paper's count, else infinite); '7.6' -> exact (se 0);
    '-' -> None."""
    mean, _, se = text.partition("+-")
    try:
        return stats.Summary(float(mean), float(se or 0.0), (trials or math.inf) if se else 1)
    except ValueError:
        return None


def _pair(a: dict, b: dict, columns) -> list[Comparison]:
    """Two cells (table rows): their failure counts, then every column."""
    counts = (a["failed"], a["seeds"], b["failed"], b["seeds"])
    fisher = stats.fisher(*counts) if a["seeds"] else math.nan
    found = [Comparison("failed", a["cell"], b["cell"], None, "failed runs", fisher, counts=counts)]
    for key, label in columns:
        test = stats.welch(a[key], b[key])
        found.append(Comparison("cell", a["cell"], b["cell"], key, label, test.p, test))
    return found


def _published(row: dict, columns, texts, spec: dict) -> list[Comparison]:
    """A cell (table row) against its published row, column by column where both have a number."""
    found = []
    for (key, label), text in zip(columns, texts, strict=False):
        theirs = published_summary(text, spec.get("published_trials"))
        if theirs is None or math.isnan(row[key].mean):
            continue
        test, margin = stats.welch(row[key], theirs), spec.get("margins", {}).get(key)
        tost = stats.tost(row[key], theirs, margin) if margin else math.nan
        found.append(
            Comparison("published", row["cell"], None, key, label, test.p, test, None, theirs, margin, tost)
        )
    return found


def _pairs(rows: dict, baseline: str, spec: dict) -> list[tuple[str, str]]:
    """Each cell against the baseline, then the named pairs of cells that are not among those."""
    pairs = [(cell, baseline) for cell in rows if cell != baseline]
    named = [(a, b) for a, b in spec.get("comparisons", ()) if a in rows and b in rows]
    return pairs + [(a, b) for a, b in named if (a, b) not in pairs and (b, a) not in pairs]


def compare(table: list[dict], columns, baseline: str, published: dict, spec: dict) -> list[Comparison]:
    """Every comparison of the table (rows of report.summarise), adjusted."""
    rows = {row["cell"]: row for row in table}
    found = [c for a, b in _pairs(rows, baseline, spec) for c in _pair(rows[a], rows[b], columns)]
    found += [c for row in table for c in _published(row, columns, published.get(row["cell"], ()), spec)]
    for c, adjusted in zip(found, stats.holm([c.p for c in found]), strict=True):
        c.holm = adjusted
    equivalence = [c for c in found if c.kind == "published"]
    for c, adjusted in zip(equivalence, stats.holm([c.tost for c in equivalence]), strict=True):
        c.tost_holm = adjusted
    return found


def _change(cell: str, evals: list[dict], steps: tuple[int, int], key: str, label: str) -> Comparison | None:
    """A cell's `key` at `steps`, paired over the runs (`evals`: each run's rows by step) that have
    it defined at both; None under two such runs."""
    both = [e for e in evals if all(stats.defined(e.get(step, {}).get(key)) for step in steps)]
    if len(both) < 2:
        return None
    test = stats.paired(*([e[step][key] for e in both] for step in steps))
    return Comparison("change", cell, None, key, label, test.p, test, steps=steps)


def over_last_interval(found: list[dict], cells: list[str], columns) -> list[Comparison]:
    """Each cell's change in every column from its second-to-last to its last evaluated step,
    paired by run (the runs evaluated at both, where the metric is defined; `found`: the records),
    Holm-adjusted as a family of its own: whether the runs were still changing when they stopped."""
    changes = []
    for cell in cells:
        evals = [{row["step"]: row for row in r["eval"]} for r in found if r["cell"] == cell]
        steps = tuple(sorted({step for e in evals for step in e})[-2:])
        if len(steps) == 2:
            changes += filter(None, (_change(cell, evals, steps, key, label) for key, label in columns))
    for c, adjusted in zip(changes, stats.holm([c.p for c in changes]), strict=True):
        c.holm = adjusted
    return changes
