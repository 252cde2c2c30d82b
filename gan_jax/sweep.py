"""Sweeps as lists of override dicts, built with small combinators (as big_vision's `hyper`).

A config may define `get_sweep(arg) -> list[dict]`: each dict maps dotted config keys to values
('model.d.width_mult': 2.0, 'seed': 3) and may name its cell with '_name' (otherwise the cell is named
by its overrides, seed excluded). `experiments/sweep.py` runs every entry in
<workdir>/<cell>/seed_<seed>.

    sweep("loss.g", ["saturating", "non_saturating"])  -> [{"loss.g": "saturating"}, {...}]
    product(a, b)  every combination;  zip_(a, b)  element by element;  chain(a, b)  a then b
"""

import itertools
import json

import ml_collections
from etils import epath

from gan_jax import config as config_lib
from gan_jax import workdir as workdirs
from gan_jax.errors import ConfigError, UserError


def sweep(key: str, values) -> list[dict]:
    return [{key: v} for v in values]


def product(*sweeps: list[dict]) -> list[dict]:
    return [{k: v for d in combo for k, v in d.items()} for combo in itertools.product(*sweeps)]


def zip_(*sweeps: list[dict]) -> list[dict]:
    if len({len(s) for s in sweeps}) > 1:
        raise ConfigError(f"zip_ needs sweeps of one length, got {[len(s) for s in sweeps]}.")
    return [{k: v for d in combo for k, v in d.items()} for combo in zip(*sweeps, strict=True)]


def chain(*sweeps: list[dict]) -> list[dict]:
    return [entry for s in sweeps for entry in s]


def cell_name(entry: dict) -> str:
    """The directory name of an entry's cell: its '_name', or its overrides (seed excluded)."""
    if "_name" in entry:
        return str(entry["_name"])
    parts = [f"{k}={v}" for k, v in sorted(entry.items()) if k != "seed"]
    return ",".join(parts) or "default"


def overrides_of(entry: dict) -> dict:
    """The config overrides of an entry (without its '_name')."""
    return {k: v for k, v in entry.items() if k != "_name"}


def recorded_dir(workdir: epath.Path, run_dir: str) -> str:
    """A run's directory as sweep.json records it: relative to the sweep's, so that a sweep copied
    off an accelerator machine or out of a bucket still reports."""
    return str(epath.Path(run_dir).relative_to(workdir))


def run_dir(workdir: epath.Path, recorded: str) -> epath.Path:
    """`recorded_dir`'s inverse."""
    return workdir / recorded


def to_train(runs: list[dict], configs: list[ml_collections.ConfigDict], spec: str) -> list[dict]:
    """The runs of a sweep (`configs`: what each one's cell asks for) still to train: those
    without done.json, and finished ones whose cell now asks for more steps (they resume). A run
    whose config departs otherwise from its cell's -- a sweep rerun in a directory that holds
    another sweep's runs -- is an error naming the runs and keys, before anything trains: mixing
    them once made a table average 40-step runs with 4,000-step ones, silently."""
    pending, stale = [], {}
    for run, config in zip(runs, configs, strict=True):
        directory = epath.Path(run["dir"])
        done = (directory / "done.json").exists()
        if (directory / "config.json").exists():
            saved = workdirs.read_json(directory / "config.json")
            keys, longer = config_lib.run_conflicts(saved, json.loads(config.to_json_best_effort()), done)
            if keys:
                stale.setdefault(tuple(keys), []).append(run["dir"])
            done = done and not longer
        if not done:
            pending.append(run)
    if stale:
        problems = "; ".join(f"{len(d)} run(s) such as {d[0]} differ in {list(k)}" for k, d in stale.items())
        raise UserError(
            f"Runs here were trained with another config than {spec} asks for ({problems}). Use a new "
            "--workdir for this sweep, or move those runs away."
        )
    return pending
