"""Installs tests/fake_gcs.py's offline gs:// in every Python process started with this directory
on PYTHONPATH and FAKE_GCS_ROOT set (the cloud-workdir tests' subprocesses)."""

import os
import sys

if os.environ.get("FAKE_GCS_ROOT"):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import fake_gcs

    fake_gcs.install(os.environ["FAKE_GCS_ROOT"])
