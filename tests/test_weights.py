"""Weights fetched on request, against a server on 127.0.0.1: a good file is kept and reused; a
corrupted one, a connection cut half-way and no server at all each end in one clear error and
leave nothing in the cache."""

import hashlib
import http.server
import socket
import threading

import pytest

from gan_jax import weights
from gan_jax.errors import DataError, MissingFileError

BLOB = bytes(range(256)) * 4096  # 1 MiB


class Handler(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        Handler.requests.append(self.path)
        body = BLOB[::-1] if self.path == "/corrupted" else BLOB
        self.send_response(200)
        self.send_header("Content-Length", str(len(BLOB)))
        self.end_headers()
        self.wfile.write(body[: len(BLOB) // 2] if self.path == "/cut" else body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def spec(url: str, sha256: str = hashlib.sha256(BLOB).hexdigest()) -> weights.Weights:
    return weights.Weights("w.bin", url, sha256)


def test_a_good_file_is_verified_kept_and_reused(server, tmp_path):
    Handler.requests.clear()
    for _ in range(2):
        path = weights.fetch(spec(f"{server}/good"), str(tmp_path))
        assert path.read_bytes() == BLOB
    assert Handler.requests == ["/good"] and sorted(p.name for p in tmp_path.iterdir()) == ["w.bin"]
    prefix_only = spec(f"{server}/good", hashlib.sha256(BLOB).hexdigest()[:8])  # as pytorch-fid pins it
    assert weights.fetch(prefix_only, str(tmp_path / "other")).read_bytes() == BLOB


@pytest.mark.parametrize("path, message", [("/corrupted", "has SHA-256"), ("/cut", "stopped at 524,288 of")])
def test_a_bad_download_leaves_nothing(server, tmp_path, path, message):
    with pytest.raises(DataError, match=message):
        weights.fetch(spec(f"{server}{path}"), str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_no_network_is_one_line_saying_what_to_do(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(MissingFileError, match="Could not download w.bin .* pass its path instead of 'auto'"):
        weights.fetch(spec(f"http://127.0.0.1:{port}/good"), str(tmp_path), timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_a_cached_file_changed_on_disk_is_refused(server, tmp_path):
    weights.fetch(spec(f"{server}/good"), str(tmp_path))
    (tmp_path / "w.bin").write_bytes(b"changed")
    with pytest.raises(DataError, match="has SHA-256"):
        weights.fetch(spec(f"{server}/good"), str(tmp_path))
