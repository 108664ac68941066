"""Fixtures: tiny Llama checkpoints built offline from a config, an in-process S3 (moto), moto's S3 server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from quantize_helpers import BUCKET, build_tiny_llama

from tests.workloads.store_servers import gcs, s3_server, s3_server_session  # noqa: F401 (fixtures)

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hidden_size 128: the default W4A16 group size (128) fits."""
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama-128"), 128, 256)


@pytest.fixture(scope="session")
def tiny_llama_64(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hidden_size 64: smaller than the default W4A16 group size."""
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama-64"), 64, 128)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An S3 client on moto's in-process backend, with the bucket created."""
    import boto3
    from moto import mock_aws

    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client
