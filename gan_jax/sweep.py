"""Sweeps as lists of override dicts, built with small combinators (as big_vision's `hyper`).

A config may define `get_sweep(arg) -> list[dict]`: each dict maps dotted config keys to values
('model.d.width_mult': 2.0, 'seed': 3) and may name its cell with '_name' (otherwise the cell is named
by its overrides, seed excluded). `experiments/sweep.py` runs every entry in
<workdir>/<cell>/seed_<seed>.

    sweep("loss.g", ["saturating", "non_saturating"])  -> [{"loss.g": "saturating"}, {...}]
    product(a, b)  every combination;  zip_(a, b)  element by element;  chain(a, b)  a then b
"""

import itertools
import os

import ml_collections
from etils import epath

from gan_jax import workdir as workdirs
from gan_jax.errors import ConfigError


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


def apply_overrides(config: ml_collections.ConfigDict, overrides: dict) -> ml_collections.ConfigDict:
    """Set dotted keys ('model.d.width_mult': 2.0); an unknown key is an error naming it."""
    for key, value in overrides.items():
        problem = unknown_key(config, key)
        if problem:
            raise ConfigError(problem)
        *path, leaf = key.split(".")
        node = config
        for part in path:
            node = node[part]
        node[leaf] = value
    return config


def unknown_key(config: ml_collections.ConfigDict, key: str) -> str | None:
    """Why `--config.<key>=...` names no field of `config` (None when it does)."""
    node, walked = config, []
    for part in key.split("."):
        if not isinstance(node, ml_collections.ConfigDict) or part not in node:
            where = ".".join(walked) or "the config"
            options = sorted(node.keys()) if isinstance(node, ml_collections.ConfigDict) else []
            return f"Unknown config key {key!r}: {where} has no field {part!r}" + (
                f" (it has {options})." if options else "."
            )
        node = node[part]
        walked.append(part)
    return None


def recorded_dir(workdir: epath.Path, run_dir: str) -> str:
    """A run's directory as sweep.json records it: relative to the sweep's, so that a sweep copied
    off an accelerator machine or out of a bucket still reports."""
    return str(epath.Path(run_dir).relative_to(workdir))


def run_dir(workdir: epath.Path, recorded: str) -> epath.Path:
    """`recorded_dir`'s inverse; sweeps before it recorded absolute paths, which stay as they are."""
    absolute = workdirs.is_remote(recorded) or os.path.isabs(recorded)
    return epath.Path(recorded) if absolute else workdir / recorded
