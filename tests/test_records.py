"""Every committed report regenerates from its committed records, byte for byte; records are
deterministic and thinned as documented."""

import gzip
import json
import re
import subprocess

import pytest
from helpers import REPO

from experiments import cli
from gan_jax import records, report, workdir
from gan_jax.errors import UserError

COMMITTED = sorted(p.relative_to(REPO) for p in (REPO / "docs").rglob(records.FILE))
TABLES = ("report.md", "report.csv", "diagnoses.csv")
FIGURES = ("metrics.png", "trajectories.png", "samples.png")


def regenerate(path, out, outputs) -> None:
    """Render the committed records at `path` into `out` and compare `outputs` byte for byte."""
    header, found = records.read(REPO / path)
    report.render(header, found, out, cli.load_study(header["config"]), header["config"].partition(":")[2])
    committed = REPO / path.parent
    for name in outputs:
        if (committed / name).exists() or (out / name).exists():
            assert (out / name).read_bytes() == (committed / name).read_bytes(), f"{path.parent}/{name}"


@pytest.mark.parametrize("path", COMMITTED, ids=[str(p.parent) for p in COMMITTED])
def test_a_committed_report_regenerates_from_its_records(path, tmp_path, no_figures):
    """The tables; the figures have their own test in the slow tier (CI runs both)."""
    regenerate(path, tmp_path, TABLES)


@pytest.mark.slow
@pytest.mark.parametrize("path", COMMITTED, ids=[str(p.parent) for p in COMMITTED])
def test_a_committed_reports_figures_regenerate_from_its_records(path, tmp_path, monkeypatch):
    """The figures alone: the tables, which the test above compares, are not written again."""
    monkeypatch.setattr(report, "write_tables", lambda *args: "")
    monkeypatch.setattr(report, "write_diagnoses", lambda *args: None)
    regenerate(path, tmp_path, FIGURES)


def test_every_report_in_docs_has_its_records():
    """A sweep's report has its runs.jsonl.gz; the metric bench's, its data sets' records."""
    reports = {p.parent.relative_to(REPO) for p in (REPO / "docs").rglob("report.md")}
    assert reports == {p.parent.relative_to(REPO) for p in (REPO / "docs").rglob("*.jsonl.gz")}


def test_records_are_the_same_bytes_for_the_same_runs(tmp_path):
    header = {"config": "configs/gan_mlp.py:smoke", "references": {}, "mode_centres": None}
    runs = [{"cell": "a", "seed": 0, "metrics": [{"step": 1, "d_loss": 0.5}]}]
    records.write(tmp_path / "one.gz", header, runs)
    records.write(tmp_path / "two.gz", header, runs)
    assert (tmp_path / "one.gz").read_bytes() == (tmp_path / "two.gz").read_bytes()  # no timestamp
    assert gzip.decompress((tmp_path / "one.gz").read_bytes()).decode().count("\n") == 2
    assert records.read(tmp_path / "one.gz") == (header, runs)


def test_a_record_keeps_the_code_of_each_start(tmp_path):
    """A run's record names the commits that trained it, once each, in the order of its starts
    (starts.jsonl's `code`; a start outside a git checkout has none)."""
    rows = [
        {"step": 0, "code": "aaa"},
        {"step": 20, "code": "aaa"},
        {"step": 40, "code": None},
        {"step": 60, "code": "bbb+"},
    ]
    (tmp_path / workdir.STARTS_FILE).write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "done.json").write_text('{"status": "finished"}')
    record = records.run_record({"cell": "a", "seed": 0, "overrides": {}}, tmp_path)
    assert record["code"] == ["aaa", "bbb+"] and record["status"] == "finished"


def test_a_run_knows_the_commit_it_runs_from_or_the_one_declared_outside_a_checkout(monkeypatch, tmp_path):
    from gan_jax import trainer

    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True)
    edited = subprocess.run(["git", "-C", str(REPO), "diff", "--quiet", "HEAD", "--"]).returncode
    trainer.code_version.cache_clear()
    assert trainer.code_version() == head.stdout.strip() + ("+" if edited else "")
    (tmp_path / "gan_jax").mkdir()  # a copied tree: its files, no checkout of its own
    monkeypatch.setattr(trainer, "__file__", str(tmp_path / "gan_jax" / "trainer.py"))
    trainer.code_version.cache_clear()
    assert trainer.code_version() is None
    monkeypatch.setenv("GAN_JAX_CODE", "abc1234")  # what a copy's maker declares (device/*.sh)
    trainer.code_version.cache_clear()
    assert trainer.code_version() == "abc1234"
    monkeypatch.undo()
    trainer.code_version.cache_clear()


def test_thinning_keeps_the_first_and_the_last_rows_evenly():
    rows = [{"step": i} for i in range(1000)]
    kept = records.thin(rows, most=5)
    assert [r["step"] for r in kept] == [0, 250, 500, 749, 999]
    assert records.thin(rows[:3], most=5) == rows[:3]


def test_a_cell_that_diverged_before_logging_or_saving_is_reported(tmp_path):
    """A run that stopped before its first logged row adds no trajectory row, and one that saved
    no checkpoint gives no samples (a sweep's report once failed on both)."""
    found = [
        {"cell": "blew up", "metrics": []},
        {"cell": "fine", "metrics": [{"step": 10, "d_real": 0.5}, {"step": 20, "d_real": 0.25}]},
    ]
    lines = report.trajectory_table(found, ["blew up", "fine"])
    assert [line for line in lines if line.startswith("| blew up")] == []
    assert "| fine | 20 | 0.25 |" in lines
    (tmp_path / "checkpoints").mkdir()
    assert not workdir.has_checkpoint(tmp_path)
    (tmp_path / "checkpoints" / "20").mkdir()
    assert workdir.has_checkpoint(tmp_path)


def test_a_join_refuses_another_config_file_or_protocol_and_keeps_each_cells_sweep():
    """Reports of one config file and protocol join, the earlier cells first; another config file, or
    other references, mode centres or mode protocol, cannot share a table."""
    header = {
        "config": "configs/pacgan.py:grid,ablation",
        "references": {"bandwidth": 0.1},
        "mode_samples": 2500,
    }
    earlier = (header, [{"cell": "GAN", "seed": 0}, {"cell": "PacGAN4", "seed": 0}])
    new = {**header, "config": "configs/pacgan.py:grid,packs_ablation"}
    joined, found = records.join([earlier], new, [{"cell": "fixed", "seed": 0}])
    assert [r["cell"] for r in found] == ["GAN", "PacGAN4", "fixed"]
    assert joined == {**new, "joined": [{"config": header["config"], "cells": ["GAN", "PacGAN4"]}]}
    assert records.join([], new, found) == (new, found)
    # a reference recomputed on another machine, equal but for float rounding, joins
    rounded = {**new, "references": {"bandwidth": 0.1 * (1 + 1e-14)}}
    _, rounded_runs = records.join([earlier], rounded, [{"cell": "fixed", "seed": 0}])
    assert rounded_runs[-1]["cell"] == "fixed"
    for other, refusal in (
        ({**new, "config": "configs/unrolled.py:grid"}, "ablation is not a sweep of configs/unrolled.py"),
        (
            {**new, "references": {"bandwidth": 0.1 * (1 + 1e-6)}},
            "protocol (references, mode centres or samples)",
        ),
        ({**new, "mode_samples": 5000}, "protocol (references, mode centres or samples)"),
    ):
        with pytest.raises(UserError, match=re.escape(refusal)):
            records.join([earlier], other, [{"cell": "fixed", "seed": 0}])


def test_a_cell_split_by_seed_between_sweeps_joins_in_seed_order_and_a_run_in_two_is_refused():
    """A cell too long for one sitting, run as sweeps of its seeds: its records come together, in
    the sweeps' order, and the header keeps which seeds each joined sweep ran; the same run in two
    sweeps is refused, naming it."""
    header = {"config": "configs/stacked_mnist.py:quarter,cpu,seeds=2", "references": {"bandwidth": 0.1}}
    earlier = (header, [{"cell": c, "seed": s} for c in ("DCGAN", "Unrolled") for s in (0, 1)])
    new = {**header, "config": "configs/stacked_mnist.py:quarter,cpu,first_seed=2,seeds=2"}
    joined, found = records.join([earlier], new, [{"cell": "Unrolled", "seed": s} for s in (2, 3)])
    assert [(r["cell"], r["seed"]) for r in found] == [("DCGAN", 0), ("DCGAN", 1)] + [
        ("Unrolled", s) for s in range(4)
    ]
    entry = {"config": header["config"], "cells": ["DCGAN", "Unrolled"], "seeds": {"Unrolled": [0, 1]}}
    assert joined == {**new, "joined": [entry]}
    assert report.joined_cell("Unrolled", entry["seeds"]) == "`Unrolled` (seeds 0-1)"
    assert report.joined_cell("x", {"x": [0, 2]}) == "`x` (seeds 0, 2)"
    assert report.joined_cell("DCGAN", entry["seeds"]) == "`DCGAN`"
    with pytest.raises(UserError, match=re.escape("--join: Unrolled seed 1 in two of the sweeps")):
        records.join([earlier], new, [{"cell": "Unrolled", "seed": s} for s in (1, 2)])


def test_a_joined_report_joins_as_the_sweeps_it_was_made_from():
    """A table that grows one sweep a session: joining the last joined report gives the header and
    records that joining every sweep's own report would -- each sweep named with its cells, and its
    seeds where a cell is split -- and a run it already holds is refused."""
    header = {"config": "configs/stacked_mnist.py:quarter,cpu,seeds=2", "references": {"bandwidth": 0.1}}
    first = (header, [{"cell": c, "seed": s} for c in ("DCGAN", "Unrolled") for s in (0, 1)])
    second = (
        {**header, "config": "configs/stacked_mnist.py:b"},
        [{"cell": "Unrolled", "seed": s} for s in (2, 3)],
    )
    third = {**header, "config": "configs/stacked_mnist.py:c"}
    found = [{"cell": "Unrolled", "seed": 4}, {"cell": "DCGAN", "seed": 2}]
    first_two = records.join([first], *second)
    assert records.join([first_two], third, found) == records.join([first, second], third, found)
    joined, together = records.join([first_two], third, found)
    assert joined["joined"] == [
        {
            "config": header["config"],
            "cells": ["DCGAN", "Unrolled"],
            "seeds": {"DCGAN": [0, 1], "Unrolled": [0, 1]},
        },
        {"config": "configs/stacked_mnist.py:b", "cells": ["Unrolled"], "seeds": {"Unrolled": [2, 3]}},
    ]
    assert [(r["cell"], r["seed"]) for r in together] == [("DCGAN", s) for s in range(3)] + [
        ("Unrolled", s) for s in range(5)
    ]
    with pytest.raises(UserError, match=re.escape("--join: Unrolled seed 3 in two of the sweeps")):
        records.join([first_two], third, [{"cell": "Unrolled", "seed": 3}])


def test_a_selection_keeps_its_cells_records_and_sweeps_and_names_the_cells_left_out():
    """--cells: the kept cells' records, each with the sweep that ran it (the last kept sweep
    becomes the header's own where none of the own sweep's cells is kept); a cell no sweep ran, or
    joining a selection in place of the report it was selected from, is refused in one line."""
    header = {"config": "configs/stacked_mnist.py:a", "references": {"bandwidth": 0.1}}
    first = (header, [{"cell": c, "seed": s} for c in ("DCGAN", "Unrolled") for s in (0, 1)])
    second = ({**header, "config": "configs/stacked_mnist.py:b"}, [{"cell": "DCGAN", "seed": 2}])
    third = {**header, "config": "configs/stacked_mnist.py:c"}
    joined = records.join([first, second], third, [{"cell": "Fixed", "seed": s} for s in (0, 1)])
    kept, found = records.select(*joined, ["Fixed", "DCGAN"])
    assert [(r["cell"], r["seed"]) for r in found] == [("DCGAN", s) for s in range(3)] + [
        ("Fixed", 0),
        ("Fixed", 1),
    ]
    assert kept == {
        **third,
        "joined": [
            {"config": header["config"], "cells": ["DCGAN"], "seeds": {"DCGAN": [0, 1]}},
            {"config": second[0]["config"], "cells": ["DCGAN"], "seeds": {"DCGAN": [2]}},
        ],
        "left_out": ["Unrolled"],
    }
    assert records.select(*joined, ["Unrolled"]) == (
        {**header, "left_out": ["DCGAN", "Fixed"]},
        first[1][2:],
    )
    assert records.select(*joined, ["DCGAN", "Unrolled", "Fixed"]) == joined
    with pytest.raises(
        UserError, match=re.escape("--cells: 'Fixd' is not a cell of this report; its cells: DCGAN, ")
    ):
        records.select(*joined, ["Fixed", "Fixd"])
    with pytest.raises(
        UserError, match=re.escape("the report of configs/stacked_mnist.py:c is a selection of cells")
    ):
        records.join([(kept, found)], {**header, "config": "configs/stacked_mnist.py:d"}, [])
