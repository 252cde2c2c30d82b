"""gan_jax: GANs in JAX/Flax for reproducing papers and studying why GAN training fails."""

import pathlib

from etils import epath

# The source checkout that holds configs/ and the committed classifiers/; relative paths to them
# are tried here when they are not found from the working directory (runs from any directory).
REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def in_repo(path: str | pathlib.Path) -> epath.Path:
    """`path` (with `~` expanded) if it exists as given, else the same relative path under
    REPO_ROOT when that exists; otherwise `path` unchanged, for the caller's not-found message.
    A URI (gs://...) is returned as it is."""
    from gan_jax.workdir import is_remote  # here: gan_jax.workdir imports this package

    path = epath.Path(path)
    if is_remote(path):
        return path
    path = path.expanduser()
    if not path.exists() and not path.is_absolute() and (REPO_ROOT / path).exists():
        return epath.Path(REPO_ROOT / path)
    return path
