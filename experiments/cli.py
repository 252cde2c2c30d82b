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
import re
import sys
import threading
import types
from collections.abc import Callable

import ml_collections
from absl import app, flags, logging
from etils import epath
from ml_collections import config_flags

import gan_jax
from gan_jax import config as config_lib
from gan_jax import memory
from gan_jax.errors import UserError
from gan_jax.preemption import Interrupted

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
    the sampler's) add up (README, Performance: a smoke run's second start, with and without)."""
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


def _exec_file(path) -> types.ModuleType:
    """The module a Python file defines. A file that does not load -- a syntax error, an exception
    at import -- is a UserError naming it and the problem (its traceback follows under --verbose).
    The directory above the file's (the repository, for configs/ and studies/) is importable
    first, so that `from configs import ...` works from any working directory."""
    root = str(path.parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        module_spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    except Exception as error:
        raise UserError(
            f"File {path} does not load: {type(error).__name__}: {error}. Fix it (--verbose "
            "shows the traceback)."
        ) from error
    return module


def load_config_module(spec: str):
    """(module, arg) of 'configs/<file>.py[:arg]'; a file without get_config is a UserError."""
    path, _, arg = spec.partition(":")
    path = find_config(path)
    module = _exec_file(path)
    if not callable(getattr(module, "get_config", None)):
        raise UserError(
            f"{path} is not a config file: it defines no get_config(). Give a file of configs/ "
            "(README, Configs)."
        )
    return module, arg


def load_study(spec: str) -> dict:
    """The report spec (REPORT) of the config 'configs/<file>.py[:arg]': studies/<file>.py beside
    its configs/ directory; {} (the report's defaults) when it has none."""
    path = find_config(spec.partition(":")[0])
    study = path.parent.parent / "studies" / path.name
    return getattr(_exec_file(study), "REPORT", {}) if study.exists() else {}


def load_config(spec: str) -> ml_collections.ConfigDict:
    """'configs/<file>.py[:arg]' -> get_config(arg), as --config=<spec> loads it; whatever goes
    wrong is a UserError naming the file (a config's own ConfigError already does)."""
    module, arg = load_config_module(spec)
    try:
        config = module.get_config(arg) if arg else module.get_config()
    except UserError:
        raise
    except Exception as error:
        call = f"get_config({arg!r})" if arg else "get_config()"
        raise UserError(
            f"{module.__file__}: {call} raised {type(error).__name__}: {error} (--verbose shows the "
            "traceback)."
        ) from error
    if not isinstance(config, ml_collections.ConfigDict):
        raise UserError(
            f"{module.__file__}: get_config() returned {type(config).__name__}, not an "
            "ml_collections.ConfigDict."
        )
    return config


def run_configs(spec: str, runs: list[dict]) -> list[ml_collections.ConfigDict]:
    """The config of each run of a sweep: its config file's, with the run's overrides."""
    module, arg = load_config_module(spec)
    return [config_lib.apply_overrides(module.get_config(arg), r["overrides"]) for r in runs]


class _LoadedConfigParser(flags.ArgumentParser):
    """The parser of a `--config=<file>[:arg]` flag, taking the config that `normalise_argv`
    already loaded and checked: get_config runs once, and a bad file or argument is one line
    (absl's own parser printed a 13-line FATAL block with the traceback)."""

    def parse(self, spec: str) -> ml_collections.ConfigDict:
        config = _LOADED.pop(spec, None) or load_config(spec)
        config.lock()
        return config

    def flag_type(self) -> str:
        return "config object"


_LOADED: dict[str, ml_collections.ConfigDict] = {}  # --config's value -> its config, for the parser


def define_config_flag(name: str, help_string: str):
    """`config_flags.DEFINE_config_file`, its file loaded by `load_config` (see _LoadedConfigParser)."""
    holder = config_flags.DEFINE_config_file(name, None, help_string)
    flags.FLAGS[name].parser = _LoadedConfigParser()
    return holder


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
            spec = argv[i][len("--config=") :]
            config = _LOADED[spec] = load_config(spec)
            keys = [a[len("--config.") :].split("=", 1)[0] for a in argv if a.startswith("--config.")]
            problems = [p for p in (config_lib.unknown_key(config, k) for k in keys) if p]
            if problems:
                raise UserError("\n".join(problems))
    return argv


def _is_user_error(error: BaseException) -> bool:
    return isinstance(error, UserError) or (isinstance(error, OSError) and error.errno in _USER_OS_ERRORS)


def _out_of_memory(error: BaseException) -> UserError | None:
    """XLA's RESOURCE_EXHAUSTED (an evaluation or a sample count too large for the device) as a
    UserError; None for any other error. (The train step is checked before it runs:
    gan_jax/memory.py.)"""
    text = str(error)
    if type(error).__name__ not in ("JaxRuntimeError", "XlaRuntimeError") or "RESOURCE_EXHAUSTED" not in text:
        return None
    wanted = re.search(r"allocating (\d+) bytes", text)
    size = f" (it asked for {int(wanted.group(1)) / 2**30:,.1f} GiB)" if wanted else ""
    return UserError(
        f"The device ran out of memory{size}. Lower what sets the size: config.train.batch_size, the "
        "evaluation's sample counts (config.eval.*), or the command's --n."
    )


def _exit_with(error: BaseException) -> None:
    if isinstance(error, UserError):
        message = str(error)
    else:
        message = error.strerror + (f": {error.filename}" if error.filename else "")
    print(f"Error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def _thread_failed(args: threading.ExceptHookArgs) -> None:
    print(
        f"Warning: a background thread failed: {args.exc_type.__name__}: {args.exc_value} (--verbose "
        "shows the traceback).",
        file=sys.stderr,
        flush=True,
    )


def _verbose_requested(argv: list[str]) -> bool:
    """--verbose before absl has parsed it (for errors met while loading the config)."""
    return bool(os.environ.get("GAN_JAX_VERBOSE")) or any(a in ("--verbose", "--verbose=true") for a in argv)


def run(main: Callable[[list[str]], None]) -> None:
    """app.run(main) for an entry point; see the module docstring. A Ctrl-C ends with status 130
    and one line (the trainer's, saying what it saved), not a traceback. Freed host memory is kept
    for reuse from the start (memory.reuse_freed_host_memory), before any thread allocates."""
    memory.reuse_freed_host_memory()
    try:
        argv = normalise_argv(sys.argv)
    except UserError as error:
        if _verbose_requested(sys.argv):
            raise
        _exit_with(error)

    def guarded(argv: list[str]) -> None:
        # orbax logs every save at INFO, and each failure that it also raises at ERROR
        logging.set_verbosity(logging.WARNING if _VERBOSE.value else logging.FATAL)
        if not _VERBOSE.value:  # nor the leftovers of an aborted save: asyncio's logs, the
            # "Event loop is closed" of orbax's threads at exit (errors Python ignores anyway), and
            # a background thread's traceback (its failure reaches the command as an error of its own)
            std_logging.getLogger("asyncio").setLevel(std_logging.CRITICAL)
            sys.unraisablehook = lambda unraisable: None
            threading.excepthook = _thread_failed
        try:
            main(argv)
        except KeyboardInterrupt as interrupt:
            if _VERBOSE.value:
                raise
            if not isinstance(interrupt, Interrupted):  # the trainer's has said what it saved
                print("\nInterrupted.", file=sys.stderr, flush=True)
            sys.exit(130)
        except Exception as error:
            if _VERBOSE.value:
                raise
            error = _out_of_memory(error) or error
            if not _is_user_error(error):
                raise
            _exit_with(error)

    app.run(guarded, argv=argv)
