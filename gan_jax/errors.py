"""The errors a user can fix, as opposed to bugs.

The command-line entry points (experiments/cli.py) print a `UserError` as its message alone,
one line naming the problem and the fix, and keep the traceback for `--verbose`; anything else
is a bug and keeps its traceback. Each class also derives from the built-in type the failure
would otherwise have had, so `except ValueError` and `pytest.raises(ValueError)` keep working.
"""


class UserError(Exception):
    """A problem in the input (config, data, workdir, checkpoint) that the message tells how to fix."""


class ConfigError(UserError, ValueError):
    """A config value (or a combination of values) that cannot run."""


class DataError(UserError, ValueError):
    """A data set that is missing, damaged or does not fit the config."""


class WorkdirError(UserError, OSError):
    """A workdir that cannot be used: not a directory, not writable, or held by another run."""


class WriteError(UserError, OSError):
    """A file of the run (metrics, figures, evaluations) could not be written: a full disk, say."""


class CheckpointError(UserError, RuntimeError):
    """A checkpoint that cannot be restored: damaged, or written by a different model/config."""


class NonFiniteError(UserError, FloatingPointError):
    """Training diverged (NaN/Inf); nothing non-finite was saved."""


class MissingFileError(UserError, FileNotFoundError):
    """A file the config names (data, classifier, weights) is not there; the message says where to get it."""
