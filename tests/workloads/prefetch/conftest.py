"""Fixtures: a tiny safetensors model built in the test, moto's S3 server, a GCS emulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefetch_helpers import build_tiny_model

from tests.workloads.store_servers import gcs, s3_server, s3_server_session  # noqa: F401 (fixtures)


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    """Two safetensors shards (one above boto3's 8 MiB multipart threshold), configs, a tokenizer, a pooling
    config in a subfolder, and files the default patterns leave out (README.md, .gitattributes, a .bin)."""
    return build_tiny_model(tmp_path / "tiny-model")
