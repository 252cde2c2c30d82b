"""A sweep's report rendered from its per-run records (gan_jax/records.py): the table, its
comparisons, the diagnoses and the figures. experiments/report.py makes the records from a sweep's
runs (or reads them from a committed `runs.jsonl.gz`) and calls `render`; nothing here reads a run
directory, so the same records give the same files, byte for byte.

report.md: how to read the table; per cell its seeds (under 10: "exploratory"), failed runs, each
column's mean +- standard error over the seeds with its difference to the baseline cell (`*`
where it survives Holm's adjustment) and the count of each diagnosis of gan_jax/diagnosis.py; the
study's published rows (REPORT["published"], studies/<config>.py) with what the tests say; the
reference rows (held-out data, a memoriser); the Comparisons section (gan_jax/comparisons.py:
every comparison with its confidence interval, degrees of freedom, p and Holm-adjusted p); a
Trajectories section (each cell's logged D(x), D(G(z)) -- or D's outputs -- and G's gradient norm
at four steps, averaged over its seeds); and, where runs evaluate more than once, the table's
columns at every evaluated step.
report.csv holds the table with every statistic; diagnoses.csv each run's label and its reason.
"""

import csv
import io
import math

import numpy as np
from etils import epath

from gan_jax import comparisons, diagnosis, forecast, plots, stats
from gan_jax.comparisons import Comparison
from gan_jax.metrics import mixtures

# How a column improves, for the memoriser check: max = higher is better, min = lower is better.
BETTER = {
    "modes/modes_captured": max,
    "modes/high_quality_percent": max,
    "modes/reverse_kl": min,
    "fd/value": min,
    "kid/mean": min,
    "prdc/precision": max,
    "prdc/recall": max,
    "prdc/density": max,
    "prdc/coverage": max,
    "score/mean": max,
    "parzen/mean": max,
    "stacked_modes/modes": max,
    "stacked_modes/kl": min,
}


# ------------------------------------------------------------------------------------------ table
def diagnosis_counts(runs: list[dict]) -> str:
    """'7 converged, 3 mode collapse': the runs' diagnoses in the order of diagnosis.LABELS."""
    labels = [r["diagnosis"].label for r in runs]
    return ", ".join(f"{labels.count(name)} {name}" for name in diagnosis.LABELS if name in labels)


def summarise(found: list[dict], columns: list[tuple[str, str]], failed) -> list[dict]:
    """A row per cell: seeds (runs that ended), failed runs, each column's stats.Summary over the
    finished runs where the metric is defined, and the diagnoses."""
    cells = {}
    for r in found:
        cells.setdefault(r["cell"], []).append(r)
    table = []
    for cell, runs in cells.items():
        done = [r for r in runs if r["status"] in ("finished", "diverged")]
        row = {
            "cell": cell,
            "seeds": len(done),
            "failed": sum(bool(failed(r)) for r in done),
            "diagnosis": diagnosis_counts(done),
        }
        for key, _ in columns:
            values = [r["final"][key] for r in done if r["status"] == "finished" and key in r["final"]]
            row[key] = stats.summarise([v for v in values if stats.defined(v)])
        table.append(row)
    return table


def _num(value: float) -> str:
    """A table's number: three significant digits, whole numbers from 1,000 on."""
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def format_cell(stat: stats.Summary, seeds: int, c: Comparison | None = None) -> str:
    """'28.0 +- 0.9', then '(n=4)' when fewer values than seeds, then against the baseline
    '[+1.2 s.e., p 0.04*]': Welch's t and p, * when it survives Holm's adjustment."""
    if math.isnan(stat.mean):
        return "-"
    digits = 3 if abs(stat.mean) < 10 else 1
    text = f"{stat.mean:.{digits}f}" + ("" if math.isnan(stat.se) else f" +- {stat.se:.{digits}f}")
    if stat.n < seeds:
        text += f" (n={stat.n})"
    if c is not None and not math.isnan(c.test.t):
        text += f" [{c.test.t:+.1f} s.e., p {comparisons._p(c.p)}{'*' if c.survives else ''}]"
    return text


def memoriser_warnings(table, memoriser: dict | None, columns) -> list[str]:
    """The columns on which the memoriser scores at least as well as the best cell."""
    lines = []
    for key, label in columns:
        best = BETTER.get(key)
        cells = [row[key] for row in table if not math.isnan(row[key].mean)]
        if best is None or not cells or memoriser is None or math.isnan(memoriser.get(key, math.nan)):
            continue
        top = best(cells, key=lambda stat: stat.mean)
        score = memoriser[key]
        if best(score, top.mean) == score:
            spread = f"{(score - top.mean) / top.se:+.1f} s.e. of that cell" if top.se > 0 else "s.e. 0"
            lines.append(
                f"- {label}: the memoriser scores {score:.3g} (one evaluation), as well as or better "
                f"than the best cell ({top.mean:.3g} +- {top.se:.2g}; {spread}): {label} cannot "
                "tell a memoriser from a good GAN here."
            )
    return lines


TRAJECTORY_KEYS = {  # logged quantities the trajectory table shows, where a cell logs them
    "d_real": "D(x)",
    "d_fake": "D(G(z))",
    "d_real_out": "mean D out, real",
    "d_fake_out": "mean D out, fake",
    "W": "W estimate",
    "g_grad_norm": "G grad norm",
}
TRAJECTORY_POINTS = 4  # logged steps a cell is shown at, evenly spaced, the last included


def _evenly(steps: list[int]) -> list[int]:
    if not steps:  # a run that diverged before its first logged interval
        return []
    return [
        steps[i] for i in np.unique(np.linspace(0, len(steps) - 1, TRAJECTORY_POINTS).round().astype(int))
    ]


def over_training(found: list[dict], cells: list[str], log: str, columns, pick) -> list[str]:
    """Rows '| cell | step | mean of each column |': per cell, the mean of `log`'s rows ('metrics'
    or 'eval') at the steps `pick` chooses, over the runs that logged that step (a diverged run
    stops counting where it stopped)."""
    lines = ["| setting | step | " + " | ".join(label for _, label in columns) + " |"]
    lines.append("|" + "---|" * (len(columns) + 2))
    for cell in cells:
        rows = [row for r in found if r["cell"] == cell for row in r[log]]
        for step in pick(sorted({row["step"] for row in rows})):
            at = [row for row in rows if row["step"] == step]
            means = [[row[k] for row in at if k in row] for k, _ in columns]
            lines.append(
                f"| {cell} | {step} | "
                + " | ".join(_num(float(np.mean(v))) if v else "-" for v in means)
                + " |"
            )
    return lines


def trajectory_table(found: list[dict], cells: list[str]) -> list[str]:
    """'## Trajectories': per cell, the mean over its seeds of each logged quantity at a few
    logged steps (the rows a run logs are the means over `log.every` steps) -- what the text may
    quote of a run's course, which the figure only shows."""
    keys = [
        (k, label)
        for k, label in TRAJECTORY_KEYS.items()
        if any(k in row for r in found for row in r["metrics"])
    ]
    if not keys:
        return []
    note = (
        "Mean over each cell's runs of the logged quantities (each a mean over its log interval) at "
        f"{TRAJECTORY_POINTS} logged steps."
    )
    return ["## Trajectories", "", note, "", *over_training(found, cells, "metrics", keys, _evenly), ""]


def evaluation_table(found: list[dict], cells: list[str], columns) -> list[str]:
    """'## Evaluations over training': where runs evaluate more than once, each cell's mean over
    its seeds of the table's columns at every evaluated step (eval.jsonl's rows)."""
    if not any(len(r["eval"]) > 1 for r in found):
        return []
    note = "Mean over each cell's runs of the table's columns at every evaluated step."
    return [
        "## Evaluations over training",
        "",
        note,
        "",
        *over_training(found, cells, "eval", columns, list),
        "",
    ]


def change_lines(found: list[dict], cells: list[str], columns) -> list[str]:
    """'## Change over the last evaluation interval': where runs evaluate more than once, whether
    each cell was still changing when it stopped, in the statistical terms of its Comparisons."""
    changes = comparisons.over_last_interval(found, cells, columns)
    if not changes:
        return []
    note = (
        "Each cell's change in each column from its second-to-last to its last evaluated step, "
        "paired by run (the runs evaluated at both): the mean change with its 95% CI, the paired t "
        "(df = runs - 1) and its p, and Holm's adjustment over this section's comparisons, a family "
        "of its own (the Comparisons above are adjusted without them)."
    )
    return ["## Change over the last evaluation interval", "", note, "", *[c.line() for c in changes], ""]


HIGH_QUALITY, HQ_COUNT = "modes/high_quality_percent", "modes/high_quality_count"


def uniform_row(cell: str, finals: list[dict], mode_samples: int) -> str:
    """One cell's row of uniform_table, from its runs' final evaluations: each run's count of
    high-quality samples as logged (a run that drew until enough were high quality drew more than
    `mode_samples`), or from its percentage of `mode_samples` where records predate the count."""
    counts = [int(f.get(HQ_COUNT, round(f[HIGH_QUALITY] * mode_samples / 100))) for f in finals]
    pairs = [(int(f["modes/num_modes"]), n) for f, n in zip(finals, counts, strict=True)]
    values = [
        np.mean([f["modes/modes_captured"] for f in finals]),
        np.mean([mixtures.uniform_modes_captured(m, n) for m, n in pairs]),
        np.mean([f["modes/reverse_kl"] for f in finals]),
        np.mean([mixtures.uniform_reverse_kl(m, n) for m, n in pairs]),
    ]
    count = f"{_num(float(np.mean(counts)))} ({min(counts)}-{max(counts)})"
    none = f"{sum(n == 0 for n in counts)}/{len(counts)}"
    return f"| {cell} | {count} | {none} | " + " | ".join(_num(float(v)) for v in values) + " |"


def uniform_table(found: list[dict], cells: list[str], mode_samples: int, min_per_mode: int = 0) -> list[str]:
    """'## High-quality samples and a uniform generator': where the table has mode metrics, each
    cell's count of high-quality samples behind them and what a generator uniform over the modes
    would score with each run's count -- the yardstick the mode columns are confounded with.
    `min_per_mode`: config.eval.mode_min_high_quality of the sweep (0 in records that predate it)."""
    finals = {
        cell: [
            r["final"]
            for r in found
            if r["cell"] == cell and r["status"] == "finished" and HIGH_QUALITY in r["final"]
        ]
        for cell in cells
    }
    if not any(finals.values()):
        return []
    drawn = (
        f"drawn (doubled until {min_per_mode} a mode on average were high quality, up to a cap)"
        if min_per_mode
        else "drawn"
    )
    return [
        "## High-quality samples and a uniform generator",
        "",
        f"Modes captured and reverse KL count only the high-quality samples among the {mode_samples:,} "
        f"{drawn}; with few of them even a generator uniform over the modes misses modes and has a "
        "positive reverse KL. Per cell, over its finished runs' final evaluations: the high-quality "
        "samples (mean, range), the runs with none (their reverse KL is imputed as log M and "
        "averaged into the table), the cell's means and, beside each, a uniform generator's score "
        "with each run's count (mean over the runs; modes exactly, reverse KL over "
        f"{mixtures.UNIFORM_DRAWS:,} multinomial draws, seed {mixtures.UNIFORM_SEED}).",
        "",
        "| setting | high-quality samples | runs with none | modes captured | uniform generator "
        "| reverse KL | uniform generator |",
        "|---|---|---|---|---|---|---|",
        *[uniform_row(cell, runs, mode_samples) for cell, runs in finals.items() if runs],
        "",
    ]


def table_lines(
    table, columns, of: dict, baseline: str, published: dict, references: dict, shown_refs
) -> list[str]:
    """The Markdown table: a row per cell (and its published row), then the reference rows."""
    names = ["setting", "seeds", "failed"] + [label for _, label in columns] + ["diagnosis"]
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    for row in table:
        seeds = f"{row['seeds']}" + (" (exploratory)" if row["seeds"] < stats.EXPLORATORY_SEEDS else "")
        fisher = of.get(("failed", row["cell"], baseline, None))
        failed = f"{row['failed']}/{row['seeds']}" + ("*" if fisher and fisher.survives else "")
        cells = [row["cell"], seeds, failed]
        cells += [
            format_cell(row[k], row["seeds"], of.get(("cell", row["cell"], baseline, k))) for k, _ in columns
        ]
        lines.append("| " + " | ".join(cells + [row["diagnosis"]]) + " |")
        if row["cell"] in published:
            tested = [of.get(("published", row["cell"], None, key)) for key, _ in columns]
            shown = [
                f"{text} [{c.verdict}]" if c else text
                for text, c in zip(published[row["cell"]], tested, strict=False)
            ]
            lines.append("| " + " | ".join([f"published: {row['cell']}", "", "", *shown, ""]) + " |")
    for kind in shown_refs:
        values = [
            format_cell(stats.Summary(references[kind].get(k, math.nan), math.nan, 1), 1) for k, _ in columns
        ]
        lines.append("| " + " | ".join([f"reference: {kind}", "-", "-", *values, "-"]) + " |")
    return lines


def _share(right: int, n: int) -> str:
    """'0.90 [0.60, 0.98]': a proportion with its Wilson interval; '-' of nothing."""
    if not n:
        return "-"
    low, high = stats.wilson(right, n)
    return f"{right / n:.2f} [{low:.2f}, {high:.2f}]"


TRUTH_NOTE = (
    "Rows: the label each run is known to deserve (built in, or given by hand: docs/diagnosis.md "
    "says which and how); columns: the diagnosis, in runs. Recall: the share of a truth's runs "
    "given its label; precision: the share of the runs given a label that truly have it; each "
    f"with its Wilson {stats.LEVEL:.0%} interval."
)


def confusion_table(matrix: dict[str, dict[str, int]]) -> list[str]:
    """diagnosis.confusion's matrix as a table: a row per truth that has runs, with its recall,
    and a last row of each label's precision."""
    labels = diagnosis.LABELS
    lines = [
        "| truth \\ diagnosis | " + " | ".join(labels) + " | runs | recall |",
        "|" + "---|" * (len(labels) + 3),
    ]
    for t, row in matrix.items():
        runs = sum(row.values())
        if runs:
            counts = " | ".join(str(n) for n in row.values())
            lines.append(f"| {t} | {counts} | {runs} | {_share(row[t], runs)} |")
    called = [sum(row[label] for row in matrix.values()) for label in labels]
    precision = [_share(matrix[label][label], n) for label, n in zip(labels, called, strict=True)]
    return [*lines, "| precision | " + " | ".join(precision) + " | | |"]


def truth_lines(found: list[dict], truth) -> list[str]:
    """Where each run's failure is known (`truth`: record -> label, or None where the config's
    REPORT["truth"] cannot tell), the confusion matrix of the diagnosis against it, with each
    label's recall and precision, and each run where the two disagree; the runs of unknown truth
    are left out and named."""
    ended = [r for r in found if r["diagnosis"]] if truth else []
    known = [r for r in ended if truth(r) is not None]
    if not known:
        return []
    matrix = diagnosis.confusion([truth(r) for r in known], [r["diagnosis"].label for r in known])
    right = sum(matrix[t][t] for t in matrix)
    lines = ["## The diagnosis against the truth", "", TRUTH_NOTE, "", *confusion_table(matrix), ""]
    lines += [f"Right: {right} of {len(known)} runs ({_share(right, len(known))}).", ""]
    wrong = [r for r in known if r["diagnosis"].label != truth(r)]
    if wrong:
        lines += ["Where they disagree (the truth; the diagnosis: its reason):", ""]
        lines += [
            f"- {r['cell']} seed {r['seed']}: {truth(r)}; {r['diagnosis'].label}: {r['diagnosis'].reason}"
            for r in wrong
        ]
        lines.append("")
    unknown = [f"{r['cell']} seed {r['seed']} ({r['diagnosis'].label})" for r in ended if truth(r) is None]
    return lines + ([f"Left out, their truth unknown: {', '.join(unknown)}.", ""] if unknown else [])


def joined_cell(cell: str, seeds: dict[str, list[int]]) -> str:
    """A joined sweep's cell as the report's first line names it: with its seeds where the cell is
    split between sweeps."""
    if cell not in seeds:
        return f"`{cell}`"
    runs = seeds[cell]
    contiguous = runs == list(range(runs[0], runs[-1] + 1))
    return f"`{cell}` (seeds {f'{runs[0]}-{runs[-1]}' if contiguous else ', '.join(map(str, runs))})"


def preamble(header: dict, spec: dict, baseline: str, published: dict, shown_refs) -> list[str]:
    """What the report's reader needs before the table: how to read it, the failure rule, the
    diagnosis rules, what the published and reference rows are."""
    joined = "".join(
        f", after the cells {', '.join(joined_cell(c, e.get('seeds', {})) for c in e['cells'])} of "
        f"sweep `{e['config']}`"
        for e in header.get("joined", [])
    )
    joined += " (joined by experiments.report --join)" if joined else ""
    if header.get("left_out"):
        joined += (
            f"; the cells {', '.join(f'`{c}`' for c in header['left_out'])} of these sweeps are left out, "
            "with their comparisons (experiments.report --cells)"
        )
    lines = [
        f"Sweep `{header['config']}`{joined}; each cell: mean +- standard error over its seeds "
        "(final evaluation); "
        "(n=k): over the k seeds where the metric is defined, when that is not all of them; "
        f"[t s.e., p]: the difference to the baseline cell `{baseline}` in standard errors of the difference "
        "(Welch's t) and its two-sided p; * when it survives Holm's adjustment over this table's "
        f"comparisons at {stats.ALPHA:g} (the same for a failure count, by Fisher's exact test). A cell of "
        f"fewer than {stats.EXPLORATORY_SEEDS} seeds is exploratory. Every comparison with its confidence "
        "interval and degrees of freedom: Comparisons, below.",
        f"Failed: {spec.get('failure_definition', DEFAULT_FAILURE)}",
        "Diagnosis of each run (gan_jax/diagnosis.py; the first rule that holds names it; per run "
        "in diagnoses.csv):",
        *[f"- {rule}" for rule in diagnosis.RULES.splitlines()],
    ]
    if published:
        lines.append(
            "`published: <cell>`: the paper's number for the same method, under its own protocol, and "
            "what the tests say of ours against it: differs, equivalent within +-margin (two one-sided "
            "tests against the margin the config declares), or not distinguishable."
        )
    if not shown_refs:
        return [*lines, "No reference rows: no column here is a metric of samples alone."]
    return [
        *lines,
        "Reference rows, one evaluation each by the same code: `data` puts real examples the metrics "
        "do not compare with in place of G's samples (the training split; for a mixture, fresh draws, "
        "or the points of the fixed training set it trained on); "
        "`memoriser` draws from a Gaussian kernel density estimate of the training examples at the "
        f"bandwidth with the highest held-out likelihood ({header['references']['bandwidth']:.3g}).",
    ]


def write_tables(table, found, columns, header, out: epath.Path, spec: dict, baseline: str, published) -> str:
    """report.md and report.csv (`found`: the records, for the over-training tables); returns
    report.md's text."""
    found_comparisons = comparisons.compare(table, columns, baseline, published, spec)
    of = {(c.kind, c.cell, c.other, c.key): c for c in found_comparisons}
    references = header["references"]
    shown_refs = [k for k in ("data", "memoriser") if any(c in references[k] for c, _ in columns)]
    cells = [row["cell"] for row in table]
    text = [
        *preamble(header, spec, baseline, published, shown_refs),
        "",
        *table_lines(table, columns, of, baseline, published, references, shown_refs),
        "",
        *memoriser_warnings(table, references["memoriser"] if shown_refs else None, columns),
        "",
        *truth_lines(found, spec.get("truth")),
        *forecast.forecast_lines(found),
        "## Comparisons",
        "",
        *[c.line() for c in found_comparisons],
        "",
        *uniform_table(found, cells, header["mode_samples"], header.get("mode_min_high_quality", 0)),
        *trajectory_table(found, cells),
        *evaluation_table(found, cells, columns),
        *change_lines(found, cells, columns),
    ]
    (out / "report.md").write_text("\n".join(text))
    write_csv(csv_rows(table, columns, shown_refs, references, of, baseline), out / "report.csv")
    return "\n".join(text)


DEFAULT_FAILURE = "the run diverged (NaN/Inf in a loss, D output or gradient norm)."


def csv_rows(table, columns, shown_refs, references, of, baseline: str) -> list[list]:
    fields = ("mean", "stderr", "n", "t_vs_baseline", "df", "p", "p_holm")
    rows = [["setting", "seeds", "failed"] + [f"{k} {f}" for k, _ in columns for f in fields] + ["diagnosis"]]
    for row in table:
        values = []
        for key, _ in columns:
            c = of.get(("cell", row["cell"], baseline, key))
            test = (c.test.t, c.test.df, c.p, c.holm) if c else ("", "", "", "")
            values += [row[key].mean, row[key].se, row[key].n, *test]
        rows.append([row["cell"], row["seeds"], row["failed"], *values, row["diagnosis"]])
    for kind in shown_refs:
        values = [v for k, _ in columns for v in (references[kind].get(k, math.nan), "", 1, "", "", "", "")]
        rows.append([f"reference: {kind}", "", "", *values, ""])
    return rows


def write_csv(rows: list[list], path: epath.Path) -> None:
    """`rows` as a CSV file (Excel's dialect), local or on cloud storage."""
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    path.write_text(text.getvalue())


def write_diagnoses(found: list[dict], out: epath.Path) -> None:
    """diagnoses.csv: every finished or diverged run's diagnosis, the numbers that decided it, and
    what the rules read whatever the label (diagnosis.evidence: a run called converged shows how
    near a rule it came)."""
    columns = {  # diagnosis.evidence's key: its column
        "d_real": "d_real_last_quarter",
        "d_fake": "d_fake_last_quarter",
        "g_grad_share": "g_grad_share_last_quarter",
        "modes": "modes_at_end",
    }
    rows = [["setting", "seed", "diagnosis", "reason", *columns.values()]]
    for r in found:
        if r["diagnosis"]:
            seen = diagnosis.evidence(r["metrics"], r["eval"])
            values = [f"{seen[key]:.4g}" for key in columns]
            rows.append([r["cell"], r["seed"], r["diagnosis"].label, r["diagnosis"].reason, *values])
    write_csv(rows, out / "diagnoses.csv")


# ---------------------------------------------------------------------------------------- figures
def write_figures(table, found, columns, header, out: epath.Path) -> None:
    plt = plots.plt  # matplotlib with the Agg backend

    names = [row["cell"] for row in table]
    if columns:  # none when the runs measured none of the report's columns (no evaluation)
        fig, axes = plt.subplots(
            1, len(columns), figsize=(4.5 * len(columns), 3.2 + 0.12 * max(map(len, names)))
        )
        for ax, (key, label) in zip(np.atleast_1d(axes), columns, strict=True):
            means = [row[key].mean for row in table]
            errors = [0 if math.isnan(row[key].se) else row[key].se for row in table]
            ax.bar(range(len(names)), means, yerr=errors, capsize=3)
            ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
            ax.set_title(label)
        plots.save_figure(fig, out / "metrics.png", dpi=90)
    plots.save_trajectories(found, names, out / "trajectories.png")
    sampled = [(r["cell"], np.asarray(r["samples"])) for r in found if "samples" in r]
    if sampled and header["mode_centres"] is not None:
        plots.save_sample_panels(sampled, np.asarray(header["mode_centres"]), out / "samples.png")


# ------------------------------------------------------------------------------------------ render
def render(header: dict, found: list[dict], out: epath.Path, spec: dict, arg: str) -> str:
    """Write the report of `found` (records; `header`: their sweep's) into `out`; `spec`: the
    sweep config's REPORT (studies/<config>.py), `arg` its argument. Returns report.md's text."""
    columns = spec.get("columns", [("equilibrium/d_real", "D(x)"), ("equilibrium/d_fake", "D(G(z))")])
    for r in found:
        ended = r["status"] in ("finished", "diverged")
        r["diagnosis"] = diagnosis.diagnose(r["status"], r["metrics"], r["eval"]) if ended else None
    table = summarise(found, columns, spec.get("failed", lambda r: r["status"] == "diverged"))
    columns = [c for c in columns if any(not math.isnan(row[c[0]].mean) for row in table)]  # measured ones
    cells = [row["cell"] for row in table]
    baseline = spec.get("baseline") if spec.get("baseline") in cells else cells[0]  # a sweep variant's own
    published = spec.get("published", lambda arg: {})(arg)
    trials = spec.get("published_trials")  # a number, or the argument's (a config of several papers' tables)
    spec = {**spec, "published_trials": trials(arg) if callable(trials) else trials}
    out.mkdir(parents=True, exist_ok=True)
    text = write_tables(table, found, columns, header, out, spec, baseline, published)
    write_diagnoses(found, out)
    write_figures(table, found, columns, header, out)
    return text
