"""Public weights fetched on request (`--inception_weights=auto`), verified, never half-written.

Nothing here runs unless a user asks for `auto`: the tests and the quick start stay offline. A
download goes to a temporary file beside its destination, is hashed as it streams, and is renamed
into place only when it is whole (as many bytes as the server announced) and its SHA-256 matches
the pinned value; otherwise the temporary file is removed and the error says what to do. A file
already in the cache is verified again before use.
"""

import dataclasses
import hashlib
import http.client
import os
import urllib.error
import urllib.request

from etils import epath

from gan_jax.errors import DataError, MissingFileError

CACHE = os.path.expanduser("~/.cache/gan_jax/weights")
CHUNK = 1 << 20


@dataclasses.dataclass(frozen=True)
class Weights:
    """A weights file: its name in the cache, where it is published, and the SHA-256 it must have
    (`sha256` may be a prefix: pytorch-fid names its file after the first 8 hex digits of its
    hash, and torch.hub's `check_hash` checks exactly that prefix)."""

    name: str
    url: str
    sha256: str


INCEPTION = Weights(
    "pt_inception-2015-12-05-6726825d.pth",
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
    "6726825d",
)
AUTO = {"inception": INCEPTION}


def _check(digest: str, weights: Weights, where: str, fix: str) -> None:
    if not digest.startswith(weights.sha256):
        raise DataError(
            f"{where} has SHA-256 {digest}, not the {weights.sha256}... published for {weights.name}: "
            f"damaged or replaced. {fix}"
        )


def _sha256(path: epath.Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(weights: Weights, part: epath.Path, timeout: float) -> str:
    """Streams the file into `part`; returns its SHA-256. A short read is an error."""
    digest, size, expected = hashlib.sha256(), 0, None
    try:
        with urllib.request.urlopen(weights.url, timeout=timeout) as response, part.open("wb") as file:
            expected = response.headers.get("Content-Length")
            for chunk in iter(lambda: response.read(CHUNK), b""):
                digest.update(chunk)
                file.write(chunk)
                size += len(chunk)
    except http.client.IncompleteRead as error:
        size += len(error.partial)
    if expected is not None and size != int(expected):
        raise DataError(
            f"The download of {weights.name} from {weights.url} stopped at {size:,} of {int(expected):,} "
            "bytes (the connection was cut). Nothing was kept; try again."
        )
    return digest.hexdigest()


def fetch(weights: Weights, cache: str = CACHE, timeout: float = 60.0) -> epath.Path:
    """The verified path of `weights` in `cache`, downloaded first when it is not there."""
    path = epath.Path(cache) / weights.name
    if path.exists():
        _check(_sha256(path), weights, str(path), "Delete it: the next run downloads it again.")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.parent / f".{weights.name}.part-{os.getpid()}"
    try:
        fix = f"Nothing was kept; try again, or fetch it from {weights.url} yourself and pass its path."
        _check(_download(weights, part, timeout), weights, f"The download from {weights.url}", fix)
        part.rename(path)
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise MissingFileError(
            f"Could not download {weights.name} from {weights.url} ({reason}). Without a network here, "
            f"download it on a machine that has one and pass its path instead of 'auto'."
        ) from error
    finally:
        if part.exists():
            part.unlink()
    return path
