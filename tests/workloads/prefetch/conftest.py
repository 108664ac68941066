"""Fixtures: a tiny safetensors model built in the test, moto's S3 server, a GCS emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prefetch_helpers import build_tiny_model

from tests.workloads.s3_server import s3_server, s3_server_session  # noqa: F401 (fixtures)


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    """Two safetensors shards (one above boto3's 8 MiB multipart threshold), configs, a tokenizer, a pooling
    config in a subfolder, and files the default patterns leave out (README.md, .gitattributes, a .bin)."""
    return build_tiny_model(tmp_path / "tiny-model")


@pytest.fixture
def gcs(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A GCS emulator (gcp-storage-emulator, in memory) on 127.0.0.1 with the bucket created; its URL."""
    import socket

    from gcp_storage_emulator.server import create_server

    from tests.workloads.s3_server import BUCKET

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket=BUCKET)
    server.start()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "leanrag-test")
    try:
        yield url
    finally:
        server.stop()
