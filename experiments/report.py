r"""Aggregate a sweep's runs into paper-style tables and figures:

    python -m experiments.report --workdir=runs/mode_collapse/ring [--out=docs/study/ring]

Reads <workdir>/sweep.json (written by experiments/sweep.py) and, for every run, its done.json (or
error.json: a run that could not run is listed, not counted),
its last eval_<step>.json and its metrics.jsonl. Writes <out>/report.md and report.csv (per cell:
seeds, failed runs, each column's mean +- standard error over the seeds, and the count of each
diagnosis of gan_jax/diagnosis.py -- why a run failed), diagnoses.csv (each run's diagnosis and the
numbers behind it; REPORT["published"](arg), when the config has it, adds the paper's row under
each cell), and figures: each
column against the cells with error bars, each cell's trajectories over training (mean over seeds) of
D(x) and D(G(z)) against 1/2, of V against -log 4 and of |D - D*| where evaluated, and (2-D data)
G's samples for seed 0 of each cell. The table's columns and the
definition of a failed run come from the config's REPORT dict; by default a run failed when it
diverged (NaN/Inf). Each cell also shows its difference to the baseline cell (REPORT["baseline"],
else the first cell) in standard errors of the difference (Welch), the figure every comparative
sentence in docs/ cites.
"""

import csv
import io
import math
import typing

import numpy as np
from absl import app, flags
from etils import epath

from experiments import cli
from gan_jax import diagnosis, writers
from gan_jax import sweep as sweeps
from gan_jax import workdir as workdirs

_WORKDIR = flags.DEFINE_string("workdir", None, "The sweep's directory.")
_OUT = flags.DEFINE_string("out", None, "Where to write the report (default: <workdir>/report).")
flags.mark_flag_as_required("workdir")


def load_run(run: dict) -> dict:
    """A run's outcome: status, final scalars (last evaluation), logged metric rows and, for a run
    that ended, its diagnosis."""
    from gan_jax import evaluation

    directory = epath.Path(run["dir"])
    done, error = directory / "done.json", directory / "error.json"
    status = workdirs.read_json(done)["status"] if done.exists() else "error" if error.exists() else "missing"
    record = {**run, "status": status}
    evals = sorted(directory.glob("eval_*.json"), key=lambda p: int(p.stem.split("_")[1]))
    record["final"] = evaluation.scalars(workdirs.read_json(evals[-1])) if evals else {}
    for name in ("metrics", "eval"):
        path = directory / f"{name}.jsonl"
        record[name] = writers.read_jsonl(path) if path.exists() else []
    ended = status in ("finished", "diverged")
    record["diagnosis"] = diagnosis.diagnose(status, record["metrics"], record["eval"]) if ended else None
    return record


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


class Stat(typing.NamedTuple):
    """A cell's column: mean and standard error over its `n` measured values."""

    mean: float
    stderr: float
    n: int


def mean_stderr(values: list[float]) -> Stat:
    if not values:
        return Stat(math.nan, math.nan, 0)
    stderr = float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.nan
    return Stat(float(np.mean(values)), stderr, len(values))


def welch_z(cell: Stat, baseline: Stat) -> float:
    """The difference of two means in standard errors of the difference, sqrt(se1^2 + se2^2)
    (Welch); NaN when either has no standard error."""
    spread = math.sqrt(cell.stderr**2 + baseline.stderr**2)
    return (cell.mean - baseline.mean) / spread if spread > 0 else math.nan


def diagnosis_counts(runs: list[dict]) -> str:
    """'7 converged, 3 mode collapse': the runs' diagnoses in the order of diagnosis.LABELS."""
    labels = [r["diagnosis"].label for r in runs]
    return ", ".join(f"{labels.count(name)} {name}" for name in diagnosis.LABELS if name in labels)


def summarise(records: list[dict], columns: list[tuple[str, str]], failed) -> list[dict]:
    cells = {}
    for r in records:
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
            row[key] = mean_stderr([v for v in values if v is not None and not math.isnan(v)])
        table.append(row)
    return table


def format_cell(stat: Stat, seeds: int, z: float | None = None) -> str:
    """'28.0 +- 0.9', then '(n=4)' when fewer values than seeds, then the difference to the
    baseline in standard errors, '[-1.2 s.e.]' (z=None: this is the baseline)."""
    if math.isnan(stat.mean):
        return "-"
    digits = 3 if abs(stat.mean) < 10 else 1
    text = f"{stat.mean:.{digits}f}" + ("" if math.isnan(stat.stderr) else f" +- {stat.stderr:.{digits}f}")
    if stat.n < seeds:
        text += f" (n={stat.n})"
    if z is not None and not math.isnan(z):
        text += f" [{z:+.1f} s.e.]"
    return text


def reference_rows(spec: str, columns: list[tuple[str, str]]) -> tuple[list[dict], float]:
    """The rows `reference: data` and `reference: memoriser` (one evaluation each, by the sweep's
    base config: see Evaluator.references), and the memoriser's bandwidth."""
    import jax

    from gan_jax import evaluation, experiment

    run = experiment.build(cli.load_config(spec), jax.devices()[:1])  # no training: one device
    metrics = evaluation.parse_metrics(run.config.eval.metrics)
    references = evaluation.Evaluator(run.config, run.gan, run.source, metrics).references()
    rows = []
    for kind, result in references.items():
        values = evaluation.scalars(result)
        rows.append(
            {
                "cell": f"reference: {kind}",
                **{k: Stat(values.get(k, math.nan), math.nan, 1) for k, _ in columns},
            }
        )
    return rows, references["memoriser"]["bandwidth"]


def memoriser_warnings(table, references, columns) -> list[str]:
    """The columns on which the memoriser scores at least as well as the best cell."""
    if not references:
        return []
    memoriser = references[-1]
    lines = []
    for key, label in columns:
        best = BETTER.get(key)
        cells = [row[key] for row in table if not math.isnan(row[key].mean)]
        if best is None or not cells or math.isnan(memoriser[key].mean):
            continue
        top = best(cells, key=lambda stat: stat.mean)
        score = memoriser[key].mean
        if best(score, top.mean) == score:
            spread = (
                f"{(score - top.mean) / top.stderr:+.1f} s.e. of that cell" if top.stderr > 0 else "s.e. 0"
            )
            lines.append(
                f"- {label}: the memoriser scores {score:.3g} (one evaluation), as well as or better "
                f"than the best cell ({top.mean:.3g} +- {top.stderr:.2g}; {spread}): {label} cannot "
                "tell a memoriser from a good GAN here."
            )
    return lines


def write_tables(
    table, columns, spec, out: epath.Path, failure_text: str, baseline: str, references, published=None
) -> None:
    """`references`: (rows, bandwidth) of reference_rows; `published`: {cell: the published
    paper's value of each column, as text}, shown under the cell."""
    published = published or {}
    base = next(row for row in table if row["cell"] == baseline)
    header = ["setting", "seeds", "failed"] + [label for _, label in columns] + ["diagnosis"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in table:
        cells = [row["cell"], str(row["seeds"]), f"{row['failed']}/{row['seeds']}"]
        for key, _ in columns:
            z = None if row is base else welch_z(row[key], base[key])
            cells.append(format_cell(row[key], row["seeds"], z))
        lines.append("| " + " | ".join(cells + [row["diagnosis"]]) + " |")
        if row["cell"] in published:
            lines.append(
                "| " + " | ".join([f"published: {row['cell']}", "", "", *published[row["cell"]], ""]) + " |"
            )
    reference_table, bandwidth = references
    if all(math.isnan(row[k].mean) for row in reference_table for k, _ in columns):
        reference_table = []  # no column is a metric of samples alone: nothing to calibrate
    for row in reference_table:
        lines.append(
            "| "
            + " | ".join([row["cell"], "-", "-"] + [format_cell(row[k], 1) for k, _ in columns] + ["-"])
            + " |"
        )
    text = [
        f"Sweep `{spec}`; each cell: mean +- standard error over its seeds (final evaluation); "
        "(n=k): over the k seeds where the metric is defined, when that is not all of them; "
        f"[z s.e.]: the difference to the baseline cell `{baseline}` in standard errors of the "
        "difference (Welch, sqrt(se^2 + se_baseline^2)) -- under about 2, not distinguishable here.",
        f"Failed: {failure_text}",
        "Diagnosis of each run (gan_jax/diagnosis.py; the first rule that holds names it; per run "
        "in diagnoses.csv):",
        *[f"- {rule}" for rule in diagnosis.RULES.splitlines()],
        *(
            ["`published: <cell>`: the paper's number for the same method, under its own protocol."]
            if published
            else []
        ),
        (
            "Reference rows, one evaluation each by the same code: `data` puts real examples the metrics "
            "do not compare with in place of G's samples (the training split; fresh draws for mixtures); "
            "`memoriser` draws from a Gaussian kernel density estimate of the training examples at the "
            f"bandwidth with the highest held-out likelihood ({bandwidth:.3g})."
            if reference_table
            else "No reference rows: no column here is a metric of samples alone."
        ),
        "",
        *lines,
        "",
        *memoriser_warnings(table, reference_table, columns),
    ]
    (out / "report.md").write_text("\n".join(text))
    stats = ("mean", "stderr", "n", "z_vs_baseline")
    rows = [["setting", "seeds", "failed"] + [f"{k} {s}" for k, _ in columns for s in stats] + ["diagnosis"]]
    for row in table:
        values = [(*row[k], welch_z(row[k], base[k])) for k, _ in columns]
        rows.append(
            [row["cell"], row["seeds"], row["failed"]]
            + [v for group in values for v in group]
            + [row["diagnosis"]]
        )
    for row in reference_table:
        rows.append([row["cell"], "", ""] + [v for k, _ in columns for v in (row[k].mean, "", 1, "")])
    write_csv(rows, out / "report.csv")


def write_csv(rows: list[list], path: epath.Path) -> None:
    """`rows` as a CSV file (Excel's dialect), local or on cloud storage."""
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    path.write_text(text.getvalue())


def write_diagnoses(records: list[dict], out: epath.Path) -> None:
    """diagnoses.csv: every finished or diverged run's diagnosis and the numbers behind it."""
    rows = [["setting", "seed", "diagnosis", "reason"]]
    rows += [
        [r["cell"], r["seed"], r["diagnosis"].label, r["diagnosis"].reason] for r in records if r["diagnosis"]
    ]
    write_csv(rows, out / "diagnoses.csv")


def write_figures(table, records, columns, out: epath.Path) -> None:
    plt = writers.plt  # matplotlib with the Agg backend

    names = [row["cell"] for row in table]
    fig, axes = plt.subplots(1, len(columns), figsize=(4.5 * len(columns), 3.2 + 0.12 * max(map(len, names))))
    for ax, (key, label) in zip(np.atleast_1d(axes), columns, strict=True):
        means = [row[key].mean for row in table]
        errors = [0 if math.isnan(row[key].stderr) else row[key].stderr for row in table]
        ax.bar(range(len(names)), means, yerr=errors, capsize=3)
        ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
        ax.set_title(label)
    writers.save_figure(fig, out / "metrics.png", dpi=90)

    writers.save_trajectories(records, names, out / "trajectories.png")

    pictures = []
    for cell in names:
        first = sorted((r for r in records if r["cell"] == cell), key=lambda r: r["seed"])[0]
        found = sorted(
            epath.Path(first["dir"]).glob("eval_*/samples.png"), key=lambda p: int(p.parent.name[5:])
        )
        if found:
            with found[-1].open("rb") as picture:
                pictures.append((cell, plt.imread(picture)))
    if pictures:
        cols = min(len(pictures), 5)
        rows = math.ceil(len(pictures) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3.2 * rows), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for ax, (cell, picture) in zip(axes.flat, pictures, strict=False):  # spare axes stay off
            ax.imshow(picture)
            ax.set_title(cell, fontsize=7)
        writers.save_figure(fig, out / "samples.png", dpi=80)


def main(argv):
    del argv
    workdir = workdirs.resolve(_WORKDIR.value)
    sweep_file = workdir / "sweep.json"
    if not sweep_file.exists():
        raise app.UsageError(f"{workdir} has no sweep.json: run experiments.sweep there first.")
    sweep = workdirs.read_json(sweep_file)
    module, arg = cli.load_config_module(sweep["config"])
    spec = getattr(module, "REPORT", {})
    columns = spec.get("columns", [("equilibrium/d_real", "D(x)"), ("equilibrium/d_fake", "D(G(z))")])
    failed = spec.get("failed", lambda r: r["status"] == "diverged")
    failure_text = spec.get(
        "failure_definition", "the run diverged (NaN/Inf in a loss, D output or gradient norm)."
    )
    runs = [{**run, "dir": str(sweeps.run_dir(workdir, run["dir"]))} for run in sweep["runs"]]
    sweeps.to_train(runs, cli.run_configs(sweep["config"], runs), sweep["config"])  # refuses mixed configs
    records = [load_run(run) for run in runs]
    missing = [r["dir"] for r in records if r["status"] in ("missing", "error")]
    out = workdirs.resolve(_OUT.value) if _OUT.value else workdir / "report"
    out.mkdir(parents=True, exist_ok=True)
    table = summarise(records, columns, failed)
    columns = [c for c in columns if any(not math.isnan(row[c[0]].mean) for row in table)]  # measured ones
    cells = [row["cell"] for row in table]
    baseline = spec.get("baseline") if spec.get("baseline") in cells else cells[0]  # a sweep variant's own
    references = reference_rows(sweep["config"], columns)
    _, configs_dir, tail = sweep["config"].rpartition("configs/")
    shown = configs_dir + tail  # configs/<file>.py:<arg>, wherever the sweep's checkout was
    published = spec.get("published", lambda arg: {})(arg)
    write_tables(table, columns, shown, out, failure_text, baseline, references, published)
    write_diagnoses(records, out)
    write_figures(table, records, columns, out)
    print((out / "report.md").read_text())
    if missing:
        print(
            f"{len(missing)} runs have not finished (rerun experiments.sweep; those that could not run "
            f"say why in their error.json): {missing[:3]}..."
        )


def cli_main() -> None:
    cli.run(main)


if __name__ == "__main__":
    cli_main()
