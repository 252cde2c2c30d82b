"""Command-line helpers shared by the experiment entry points (only experiments/ reads flags)."""

import importlib.util
import os
import pathlib
import sys

import ml_collections
from absl import flags

from gan_jax import sweep

_JAX_CACHE = flags.DEFINE_string(
    "jax_cache_dir",
    os.path.expanduser("~/.cache/gan_jax/jax"),
    "JAX's persistent compilation cache ('' turns it off): later runs of a config skip compiling.",
)


def enable_compilation_cache() -> None:
    """Turn on JAX's persistent compilation cache at --jax_cache_dir (after flags are parsed)."""
    import jax

    if _JAX_CACHE.value:
        jax.config.update("jax_compilation_cache_dir", _JAX_CACHE.value)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def load_config_module(spec: str):
    """(module, arg) of 'configs/<file>.py[:arg]'."""
    path, _, arg = spec.partition(":")
    if not pathlib.Path(path).is_file():
        raise FileNotFoundError(f"No config file {path!r} (from --config={spec}).")
    module_spec = importlib.util.spec_from_file_location(pathlib.Path(path).stem, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module, arg


def load_config(spec: str) -> ml_collections.ConfigDict:
    """'configs/<file>.py[:arg]' -> get_config(arg), as --config=<spec> loads it."""
    module, arg = load_config_module(spec)
    return module.get_config(arg) if arg else module.get_config()


def check_overrides(argv: list[str]) -> None:
    """Exit with a message naming any --config.<key> override that the config does not have.

    ml_collections reports these as a bare KeyError deep in a traceback; this runs first.
    """
    specs = [a.split("=", 1)[1] for a in argv if a.startswith("--config=")]
    keys = [a[len("--config.") :].split("=", 1)[0] for a in argv if a.startswith("--config.")]
    if not specs or not keys:
        return
    config = load_config(specs[-1])
    problems = [p for p in (sweep.unknown_key(config, k) for k in keys) if p]
    if problems:
        sys.exit("\n".join(problems))
