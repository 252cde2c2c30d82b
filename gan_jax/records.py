"""Per-run records: what a report is made from, small enough to commit beside it.

A sweep's runs live in run directories (checkpoints, figures, logs: megabytes each, never
committed). `experiments.report` first reduces them to records -- one JSON object per run: its cell,
seed, overrides and status, every evaluation row, its final evaluation's scalars and its logged
metric rows (at most MAX_ROWS, evenly thinned, without the wall-clock column), the commits of the
code that trained it (`code`: one per start where they differ; records made before it was kept
lack it), and for the first
seed of each cell of 2-D data SAMPLES of G's points -- plus one header (the sweep's config, the
reference rows, the mode centres), and writes them as `runs.jsonl.gz` beside the report. The report
is then rendered from the records alone, so `experiments.report --records=<file>` regenerates it
byte for byte on any machine, without the runs (tests/test_records.py does it for every committed
report).
"""

import gzip
import json
import math
from collections.abc import Sequence

import numpy as np
from etils import epath

from gan_jax import evaluation, writers
from gan_jax import workdir as workdirs
from gan_jax.errors import UserError, WorkdirError

FILE = "runs.jsonl.gz"
MAX_ROWS = 400  # logged metric rows kept a run (the sweeps here log 10-50)
SAMPLES = 500  # G's points kept for the first seed of each cell (2-D data)
DIGITS = 4  # decimals of a kept point: finer than the mixtures' modes (std 0.01-0.05) by far


def thin(rows: list[dict], most: int = MAX_ROWS) -> list[dict]:
    """At most `most` rows, evenly spaced, the first and the last always kept."""
    if len(rows) <= most:
        return rows
    keep = np.unique(np.linspace(0, len(rows) - 1, most).round().astype(int))
    return [rows[i] for i in keep]


def run_record(run: dict, directory: epath.Path) -> dict:
    """The record of one run of a sweep (`run`: its entry in sweep.json) from its directory. A
    finished run whose last evaluation is not of its last step is an error (an interrupted
    boundary once left an earlier evaluation to be reported as the final one)."""
    done, error = directory / "done.json", directory / "error.json"
    status = workdirs.read_json(done)["status"] if done.exists() else "error" if error.exists() else "missing"
    record = {k: run[k] for k in ("cell", "seed", "overrides")} | {"status": status}
    evals = sorted(directory.glob("eval_*.json"), key=lambda p: int(p.stem.split("_")[1]))
    final = workdirs.read_json(evals[-1]) if evals else None
    if status == "finished" and final is not None and (directory / "config.json").exists():
        config = workdirs.read_json(directory / "config.json")
        total = config["train"]["total_steps"]
        if config["eval"]["every"] and final["step"] != total:
            raise WorkdirError(
                f"{directory} finished at step {total}, but its last evaluation is of step {final['step']}: "
                f"python -m experiments.evaluate --workdir={directory} --step={total}"
            )
    record["final"] = evaluation.scalars(final) if final else {}
    record["eval"] = _rows(directory / "eval.jsonl")
    metrics = [
        {k: v for k, v in row.items() if k != "steps_per_sec"} for row in _rows(directory / "metrics.jsonl")
    ]
    record["metrics"] = thin(metrics)
    record["code"] = codes(directory)
    return record


def codes(directory: epath.Path) -> list[str]:
    """The commits that trained a run, once each in the order of its starts (trainer.code_version)."""
    starts = _rows(directory / workdirs.STARTS_FILE)
    return list(dict.fromkeys(row["code"] for row in starts if row.get("code")))


def _rows(path: epath.Path) -> list[dict]:
    return writers.read_jsonl(path) if path.exists() else []


def points(samples: np.ndarray) -> list[list[float]]:
    """G's samples as a record keeps them: the first SAMPLES, rounded to DIGITS decimals."""
    return np.round(np.asarray(samples[:SAMPLES], np.float64), DIGITS).tolist()


def write(path: epath.Path, header: dict, records: list[dict]) -> None:
    """`runs.jsonl.gz`: the header, then a record a line; the same records give the same bytes
    (gzip without a timestamp)."""
    lines = [json.dumps(header, sort_keys=True)] + [json.dumps(r, sort_keys=True) for r in records]
    workdirs.write_atomically(path, gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))


def join(joined: list[tuple[dict, list[dict]]], header: dict, found: list[dict]) -> tuple[dict, list[dict]]:
    """One report's (header, records) from a sweep's and those of earlier reports put before them
    (`joined`): a cell already run in another sweep of the same config file -- an ablation's
    counterpart -- is not rerun to stand beside a new one, and a cell too long for one sitting runs
    as sweeps of its seeds. The protocols must agree (all of the header but its config: references,
    mode centres, mode protocol) and the runs must differ; the header keeps which sweep each joined
    cell came from (`joined`; with its seeds where a cell is split), and the report says so. An
    earlier report that is itself joined joins as the sweeps it was made from, so a table grows one
    sweep at a time."""
    if not joined:
        return header, found
    for other, _ in joined:
        _check_joinable(other, header)
    sweeps = [sweep for other, runs in joined for sweep in _sweeps(other, runs)] + [(header["config"], found)]
    _check_distinct([runs for _, runs in sweeps])
    return _assemble(header, sweeps)


def select(header: dict, found: list[dict], cells: Sequence[str]) -> tuple[dict, list[dict]]:
    """The (header, records) of a report's `cells` alone, in the report's order: a question put to a
    few cells of a table that has grown by joins gets Holm's family of its own comparisons (chosen
    before its runs), not of every cell the sweeps hold. The header names the sweeps that ran the
    kept cells and the cells left out (`left_out`), which the report's first line says."""
    every = _cells(found)
    check_cells(cells, every)
    kept = [(config, [r for r in runs if r["cell"] in cells]) for config, runs in _sweeps(header, found)]
    head, together = _assemble(header, [(config, runs) for config, runs in kept if runs])
    left_out = [c for c in every if c not in cells]
    return ({**head, "left_out": left_out} if left_out else head), together


def check_cells(cells: Sequence[str], known: Sequence[str]) -> None:
    """One line naming a cell of `cells` (--cells) that is not among a report's `known` ones."""
    unknown = [c for c in cells if c not in known]
    if unknown:
        named = ", ".join(dict.fromkeys(known))
        raise UserError(f"--cells: {unknown[0]!r} is not a cell of this report; its cells: {named}.")


def _assemble(header: dict, sweeps: list[tuple[str, list[dict]]]) -> tuple[dict, list[dict]]:
    """One table of `sweeps` ((config, runs), the last one the header's own sweep): the records
    grouped by cell in the order the cells first come, the header naming each earlier sweep's cells."""
    together = [r for _, runs in sweeps for r in runs]
    order = _cells(together)
    split = {c for c in order if sum(c in _cells(runs) for _, runs in sweeps) > 1}
    entries = [_entry(config, runs, split) for config, runs in sweeps[:-1]]
    head = {k: v for k, v in header.items() if k != "joined"} | {"config": sweeps[-1][0]}
    if entries:
        head["joined"] = entries
    return head, sorted(together, key=lambda r: order.index(r["cell"]))


def _sweeps(header: dict, runs: list[dict]) -> list[tuple[str, list[dict]]]:
    """A report's runs as (config, runs) of the sweeps that ran them: those its header says it
    joined (their cells, with their seeds where a cell was split), then its own sweep's, the rest."""
    sweeps, rest = [], runs
    for entry in header.get("joined", []):
        seeds = entry.get("seeds", {})
        ran = [
            r for r in rest if r["cell"] in entry["cells"] and r["seed"] in seeds.get(r["cell"], [r["seed"]])
        ]
        sweeps.append((entry["config"], ran))
        taken = {id(r) for r in ran}
        rest = [r for r in rest if id(r) not in taken]
    return [*sweeps, (header["config"], rest)]


def _check_distinct(sweeps: list[list[dict]]) -> None:
    """One line naming the runs (cell and seed) that two of the joined sweeps both hold, if any."""
    every = [f"{r['cell']} seed {r['seed']}" for runs in sweeps for r in runs]
    twice = list(dict.fromkeys(run for run in every if every.count(run) > 1))
    if twice:
        raise UserError(
            f"--join: {', '.join(twice[:3])}{' ...' if len(twice) > 3 else ''} in two of the sweeps: a "
            "joined report's runs must differ."
        )


def _entry(config: str, runs: list[dict], split: set[str]) -> dict:
    """A joined sweep in the header: its config, its cells, and the seeds of those split by seed."""
    entry = {"config": config, "cells": _cells(runs)}
    seeds = {c: [r["seed"] for r in runs if r["cell"] == c] for c in entry["cells"] if c in split}
    return {**entry, "seeds": seeds} if seeds else entry


def _cells(found: list[dict]) -> list[str]:
    return list(dict.fromkeys(r["cell"] for r in found))


def refuse_selection(other: dict) -> None:
    """One line, if the report of header `other` is a selection of cells: its records are not all
    of its sweeps', so it joins nothing (the report it was selected from does)."""
    if "left_out" in other:
        raise UserError(
            f"--join: the report of {other['config']} is a selection of cells (--cells): join the report "
            "it was selected from."
        )


def _agree(a, b) -> bool:
    """Equal, floats to within float rounding: a reference computed on another machine's BLAS
    differs in its last digits (the memoriser's FD on the digits, 1.5e-14 relative, Intel Xeon
    against AMD EPYC)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_agree(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_agree, a, b))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9) or (math.isnan(a) and math.isnan(b))
    return a == b


def _check_joinable(other: dict, header: dict) -> None:
    """One line on why the report of header `other` cannot join `header`'s, if it cannot."""
    refuse_selection(other)
    config_file = header["config"].partition(":")[0]
    if other["config"].partition(":")[0] != config_file:
        raise UserError(
            f"--join: {other['config']} is not a sweep of {config_file}: join reports of one config file."
        )
    if not _agree(
        {k: v for k, v in other.items() if k not in ("config", "joined")},
        {k: v for k, v in header.items() if k != "config"},
    ):
        raise UserError(
            f"--join: {other['config']}'s protocol (references, mode centres or samples) is not "
            f"{header['config']}'s: their cells cannot share a table."
        )


def read(path: epath.Path) -> tuple[dict, list[dict]]:
    """(header, records) of a `runs.jsonl.gz`."""
    try:
        lines = gzip.decompress(path.read_bytes()).decode().splitlines()
        header, *records = (json.loads(line) for line in lines)
    except (OSError, EOFError, ValueError) as error:
        raise WorkdirError(f"{path} is not a records file of experiments.report ({error}).") from error
    return header, records
