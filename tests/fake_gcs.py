"""gs:// without a network, for the cloud-workdir tests.

`install(root)` serves every gs://<bucket>/<path> from the local file root/<bucket>/<path>:
fsspec's `gs`/`gcs` protocols become a DirFileSystem over `root` (what etils.epath, and so the
project's writers, use for gs://), and the two orbax calls that would reach Google's service --
the tensorstore kvstore spec and the bucket's hierarchical-namespace query -- point at the same
files. Everything else is the real gs:// code: epath's fsspec backend, orbax's object-store path
(commit_success.txt markers instead of directory renames), tensorboardX's dispatch by scheme.

A subprocess gets the same fake through tests/fake_gcs_site/sitecustomize.py when it runs with
that directory on PYTHONPATH and FAKE_GCS_ROOT set (the sweep's worker processes included).
"""

import importlib
from collections.abc import Callable

from etils.epath import backend
from fsspec.implementations.dirfs import DirFileSystem
from fsspec.implementations.local import LocalFileSystem
from orbax.checkpoint._src.path import gcs_utils

PROTOCOLS = ("gs", "gcs")


def install(root: str) -> Callable[[], None]:
    """Serve gs:// from `root`; returns the function that undoes it."""

    class FakeGCS(DirFileSystem):
        protocol = PROTOCOLS

        def __init__(self, *args, **kwargs):  # gcsfs's options (finalize_on_close, ...) ignored
            super().__init__(path=root, fs=LocalFileSystem())

        @classmethod
        def _strip_protocol(cls, path):
            for prefix in ("gs://", "gcs://"):
                path = path.removeprefix(prefix)
            return path

    registry = importlib.import_module("fsspec.registry")._registry  # `fsspec.registry` is a view
    saved = {name: registry.get(name) for name in PROTOCOLS}
    saved_orbax = gcs_utils.get_kvstore_for_gcs, gcs_utils.is_hierarchical_namespace_enabled
    registry.update(dict.fromkeys(PROTOCOLS, FakeGCS))
    gcs_utils.get_kvstore_for_gcs = lambda path: {"driver": "file", "path": f"{root}/{path[len('gs://') :]}"}
    gcs_utils.is_hierarchical_namespace_enabled = lambda path: False
    backend.fsspec_backend._get_filesystem.cache_clear()  # epath caches the filesystem per protocol

    def undo() -> None:
        for name, value in saved.items():
            if value is None:
                del registry[name]
            else:
                registry[name] = value
        gcs_utils.get_kvstore_for_gcs, gcs_utils.is_hierarchical_namespace_enabled = saved_orbax
        backend.fsspec_backend._get_filesystem.cache_clear()

    return undo
