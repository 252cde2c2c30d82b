"""Command-line helpers shared by the experiment entry points (only experiments/ reads flags).

`run(main)` is every entry point's `app.run`: it normalises the command line first (a
`--config X` written with a space, a config path given relative to the repository while running
elsewhere, mistyped `--config.<key>` overrides), and prints a user error -- a bad config, data,
workdir or checkpoint, a full disk -- as one line and exit status 1, keeping the traceback and
the libraries' own error logs for `--verbose` (or GAN_JAX_VERBOSE=1).
"""

import errno
import importlib.util
import logging as std_logging
import os
import pathlib
import sys
from collections.abc import Callable

import ml_collections
from absl import app, flags, logging
from etils import epath

import gan_jax
from gan_jax import sweep
from gan_jax.errors import UserError

_USER_OS_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)
_JAX_CACHE = flags.DEFINE_string(
    "jax_cache_dir",
    os.path.expanduser("~/.cache/gan_jax/jax"),
    "JAX's persistent compilation cache ('' turns it off): later runs of a config skip compiling.",
)
_VERBOSE = flags.DEFINE_bool(
    "verbose",
    bool(os.environ.get("GAN_JAX_VERBOSE")),
    "Show a user error's traceback and the libraries' error logs, not only the one-line message.",
)


def enable_compilation_cache() -> None:
    """Turn on JAX's persistent compilation cache at --jax_cache_dir (after flags are parsed).
    Every program is cached, however fast it compiled: a run's many small ones (the evaluation's,
    the sampler's) add up -- the smoke DCGAN's second run took 7.2 s with them cached, 12.1 s with
    JAX's default of caching only programs that took 0.5 s or more (AMD EPYC, 2026-11-29)."""
    import jax

    if _JAX_CACHE.value:
        jax.config.update("jax_compilation_cache_dir", _JAX_CACHE.value)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def find_config(path: str) -> epath.Path:
    """A config file as given, else relative to the repository (`--config=configs/x.py` from any
    directory); a missing one is a UserError saying where it was looked for."""
    found = gan_jax.in_repo(path)
    if not found.is_file():
        raise UserError(
            f"No config file {path!r} here ({os.getcwd()}) or in {gan_jax.REPO_ROOT}; give the file's path."
        )
    return found.absolute()


def load_config_module(spec: str):
    """(module, arg) of 'configs/<file>.py[:arg]'."""
    path, _, arg = spec.partition(":")
    path = find_config(path)
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module, arg


def load_config(spec: str) -> ml_collections.ConfigDict:
    """'configs/<file>.py[:arg]' -> get_config(arg), as --config=<spec> loads it."""
    module, arg = load_config_module(spec)
    return module.get_config(arg) if arg else module.get_config()


def normalise_argv(argv: list[str]) -> list[str]:
    """`--config X` -> `--config=X` with X's path resolved (see find_config); then every
    `--config.<key>` override is checked against that config, naming unknown keys."""
    argv = list(argv)
    for i, arg in enumerate(argv[:-1]):
        if arg == "--config":
            argv[i : i + 2] = [f"--config={argv[i + 1]}"]
            break
    for i, arg in enumerate(argv):
        if arg.startswith("--config="):
            path, colon, rest = arg[len("--config=") :].partition(":")
            if not pathlib.Path(path).is_file():  # found in the repository: absolute from here on
                argv[i] = f"--config={find_config(path)}{colon}{rest}"
            keys = [a[len("--config.") :].split("=", 1)[0] for a in argv if a.startswith("--config.")]
            if keys:
                config = load_config(argv[i][len("--config=") :])
                problems = [p for p in (sweep.unknown_key(config, k) for k in keys) if p]
                if problems:
                    raise UserError("\n".join(problems))
    return argv


def _is_user_error(error: BaseException) -> bool:
    return isinstance(error, UserError) or (isinstance(error, OSError) and error.errno in _USER_OS_ERRORS)


def _exit_with(error: BaseException) -> None:
    message = str(error) if isinstance(error, UserError) else f"{error.strerror}: {error.filename}"
    print(f"Error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def run(main: Callable[[list[str]], None]) -> None:
    """app.run(main) for an entry point; see the module docstring."""
    try:
        argv = normalise_argv(sys.argv)
    except UserError as error:
        _exit_with(error)

    def guarded(argv: list[str]) -> None:
        # orbax logs every save at INFO, and each failure that it also raises at ERROR
        logging.set_verbosity(logging.WARNING if _VERBOSE.value else logging.FATAL)
        if not _VERBOSE.value:  # nor asyncio's leftovers of an aborted save
            std_logging.getLogger("asyncio").setLevel(std_logging.CRITICAL)
        try:
            main(argv)
        except (UserError, OSError) as error:
            if _VERBOSE.value or not _is_user_error(error):
                raise
            _exit_with(error)

    app.run(guarded, argv=argv)
