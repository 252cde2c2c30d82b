r"""Aggregate a sweep's runs into paper-style tables, comparisons and figures:

    python -m experiments.report --workdir=runs/mode_collapse/ring --out=docs/study/ring
    python -m experiments.report --records=docs/study/ring/runs.jsonl.gz --out=<dir>
    python -m experiments.report --workdir=runs/ablation --join=docs/study/ring/runs.jsonl.gz --out=<dir>
    python -m experiments.report --records=<dir>/runs.jsonl.gz --cells=DCGAN,PacDCGAN2 --out=<other>

With --workdir: reads <workdir>/sweep.json (written by experiments/sweep.py) and every run's
directory, reduces them to per-run records (gan_jax/records.py) and writes them as
<out>/runs.jsonl.gz; a run trained under another config than its cell asks for, or a finished run
whose last evaluation is not of its last step, is an error. With --records: starts from such a
file. Either way the report is rendered from the records alone, so the second command reproduces
the first's files byte for byte (tests/test_records.py checks every committed report). With --join,
the records of earlier reports of the same config file come before the sweep's, in one table and
one family of comparisons (gan_jax/records.py join): a cell needs no rerun to stand beside a new one,
and a cell longer than one sitting runs as sweeps of its seeds. With --cells, only those cells'
records are written and reported, so the comparisons Holm's adjustment runs over are a question's
own, chosen before its runs, and not every cell a joined table has gathered; the first line names
the cells left out.

Writes <out>/report.md (the table, its published and reference rows, and every comparison it
makes with its statistics), report.csv, diagnoses.csv and figures: gan_jax/report.py says what each
holds.
"""

from collections.abc import Sequence

import ml_collections
import numpy as np
from absl import flags
from etils import epath

from experiments import cli
from gan_jax import records
from gan_jax import report as report_lib
from gan_jax import sweep as sweeps
from gan_jax import workdir as workdirs
from gan_jax.errors import UserError


# ---------------------------------------------------------------------------------------- records
def collect(workdir: epath.Path) -> tuple[dict, list[dict]]:
    """(header, records) of the sweep in `workdir`, from its run directories."""
    sweep = read_sweep(workdir)
    runs = [{**run, "dir": str(sweeps.run_dir(workdir, run["dir"]))} for run in sweep["runs"]]
    sweeps.to_train(runs, cli.run_configs(sweep["config"], runs), sweep["config"])  # refuses mixed configs
    found = [records.run_record(run, epath.Path(run["dir"])) for run in runs]
    config = cli.load_config(sweep["config"])
    references, centres = reference_values(config)
    if centres is not None:  # 1-D, 2-D data: G's points of each cell's first seed, for the figure
        for cell in dict.fromkeys(r["cell"] for r in found):
            done = [
                (r, run)
                for r, run in zip(found, runs, strict=True)
                if r["cell"] == cell and workdirs.has_checkpoint(epath.Path(run["dir"]))
            ]
            if done:
                record, run = min(done, key=lambda pair: pair[0]["seed"])
                samples = final_samples(run["dir"])
                if samples.shape[1:] == (len(centres[0]),):  # not a cell on other data than the sweep's
                    record["samples"] = records.points(samples)
    _, configs_dir, tail = sweep["config"].rpartition("configs/")
    header = {
        "config": configs_dir + tail,
        "references": references,
        "mode_centres": centres,
        "mode_samples": config.eval.mode_samples,  # the mode metrics' protocol
        "mode_min_high_quality": config.eval.mode_min_high_quality,
    }
    return header, found


def read_sweep(workdir: epath.Path) -> dict:
    """The sweep.json experiments.sweep wrote in `workdir`: its config and its runs."""
    sweep_file = workdir / "sweep.json"
    if not sweep_file.exists():
        raise UserError(f"{workdir} has no sweep.json: run experiments.sweep there first.")
    return workdirs.read_json(sweep_file)


def reference_values(config: ml_collections.ConfigDict) -> tuple[dict, list | None]:
    """The scalars of the two reference stand-ins for G (Evaluator.references: held-out `data` and
    a `memoriser`) under the sweep's base config, the memoriser's bandwidth, and the mode centres
    of 1-D and 2-D data (else None)."""
    import jax

    from gan_jax import evaluation, experiment

    run = experiment.build(config, jax.devices()[:1])  # no training: one device
    metrics = evaluation.parse_metrics(run.config.eval.metrics)
    found = evaluation.Evaluator(run.config, run.gan, run.source, metrics).references()
    values = {kind: evaluation.scalars(result) for kind, result in found.items()}
    values["bandwidth"] = found["memoriser"]["bandwidth"]
    mixture = run.source.mixture
    drawn = mixture is not None and mixture.means.shape[1] <= 2  # a line or a plane
    return values, (mixture.means.tolist() if drawn else None)


def final_samples(run_dir: str) -> np.ndarray:
    """G's samples at a run's last checkpoint from the run's fixed noise (its sample figures' z),
    by the generator its evaluations used (the EMA one where kept)."""
    import jax

    from gan_jax import state as state_lib
    from gan_jax import trainer
    from gan_jax.models import apply

    config, gan, _, state = trainer.restore_run(run_dir, devices=jax.devices()[:1])
    z = state_lib.fixed_noise(config.seed, records.SAMPLES, gan)
    y = apply.balanced_labels(gan, records.SAMPLES)
    variables = state.g_ema if state.g_ema is not None else state.g.variables
    return np.asarray(apply.make_sampler(gan)(variables, z, y, state.vbn_reference))


def make(
    workdir: str | None = None,
    records_file: str | None = None,
    join: Sequence[str] = (),
    out: str | None = None,
    cells: Sequence[str] = (),
) -> str:
    """Write the report of a sweep's directory or of a report's records (one of them) to `out`,
    of its `cells` alone if given; returns what the command prints. The command's flags, as
    arguments: tests call it in-process."""
    if bool(workdir) == bool(records_file):
        raise UserError(
            "Give --workdir (a sweep's directory) or --records (a report's runs.jsonl.gz), one of them."
        )
    if join and not workdir:
        raise UserError("--join puts earlier reports' records beside a sweep's runs: give it with --workdir.")
    if workdir:
        sweep_dir = workdirs.resolve(workdir)
        destination = workdirs.resolve(out) if out else sweep_dir / "report"
        joined = [records.read(workdirs.resolve(path)) for path in join]
        for other, _ in joined:  # before the sweep's runs are read
            records.refuse_selection(other)
        if cells:
            ran = [run["cell"] for run in read_sweep(sweep_dir)["runs"]]
            records.check_cells(cells, [r["cell"] for _, runs in joined for r in runs] + ran)
        found = records.join(joined, *collect(sweep_dir))
    else:
        source = workdirs.resolve(records_file)
        destination = workdirs.resolve(out) if out else source.parent
        if cells and destination == source.parent:
            raise UserError(
                "--cells with --records writes a new report: give --out, a directory other than the records'."
            )
        found = records.read(source)
    if cells:
        found = records.select(*found, cells)
    if workdir or cells:  # new records: the report is rendered from them as written
        destination.mkdir(parents=True, exist_ok=True)
        records.write(destination / records.FILE, *found)
        found = records.read(destination / records.FILE)
    header, found = found
    arg = header["config"].partition(":")[2]
    text = report_lib.render(header, found, destination, cli.load_study(header["config"]), arg)
    missing = [f"{r['cell']}/seed_{r['seed']}" for r in found if r["status"] in ("missing", "error")]
    if missing:
        text += (
            f"\n{len(missing)} runs have not finished (rerun experiments.sweep; those that could not run "
            f"say why in their error.json): {missing[:3]}..."
        )
    return text


def cli_main() -> None:
    """The command. Its flags are defined here, not on import: tests call `make` in-process beside
    experiments.sweep, whose --workdir would clash."""
    workdir = flags.DEFINE_string("workdir", None, "The sweep's directory: its runs become the records.")
    records_file = flags.DEFINE_string(
        "records", None, "A report's runs.jsonl.gz: regenerate it from the records."
    )
    join = flags.DEFINE_list(
        "join", [], "Earlier reports' runs.jsonl.gz whose cells come before the sweep's (with --workdir)."
    )
    out = flags.DEFINE_string(
        "out", None, "Where to write the report (default: <workdir>/report, or beside --records)."
    )
    cells = flags.DEFINE_list(
        "cells",
        [],
        "Only these cells, and only their comparisons in Holm's family (default: all). A name with a "
        """comma in double quotes: --cells=DCGAN,'"Unrolled GAN (10 steps, D held fixed)"'.""",
    )
    cli.run(lambda argv: print(make(workdir.value, records_file.value, join.value, out.value, cells.value)))


if __name__ == "__main__":
    cli_main()
