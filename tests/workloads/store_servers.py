"""Real object-store endpoints on 127.0.0.1 for the workload tests: moto's S3 server (ThreadedMotoServer) and
a GCS emulator (gcp-storage-emulator), as pytest fixtures (`s3_server`, `gcs`) that conftests import.

Jobs under test reach it the way they reach S3 in a cluster: boto3's default chain, pointed at the server by
AWS_ENDPOINT_URL. `require_auth()` turns on moto's IAM authentication, so missing, wrong and under-privileged
credentials fail as they do on AWS (InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied).
Needs moto's server extra (flask, flask-cors: see workloads/quantize/requirements-test.txt).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BUCKET = "leanrag-models"
REGION = "us-east-1"
# moto does not check credentials until authentication is turned on; these are placeholders.
OPEN_KEY, OPEN_SECRET = "moto-open-access", "moto-open-secret"


@dataclass(frozen=True)
class AccessKey:
    key_id: str
    secret: str


_REQUEST_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})')


class _RequestLog(logging.Handler):
    """Every request the server answered, from its access log (werkzeug): (method, path, status)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.requests: list[tuple[str, str, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        match = _REQUEST_LINE.search(record.getMessage())
        if match:
            self.requests.append((match["method"], match["path"], int(match["status"])))


class S3Server:
    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self._log = _RequestLog()
        access_log = logging.getLogger("werkzeug")
        access_log.setLevel(logging.INFO)
        access_log.addHandler(self._log)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self.admin = AccessKey(OPEN_KEY, OPEN_SECRET)

    def stop(self) -> None:
        self._server.stop()
        logging.getLogger("werkzeug").removeHandler(self._log)

    def mark(self) -> int:
        """A position in the request log, for `writes`."""
        return len(self._log.requests)

    def writes(self, since: int = 0, bucket: str = BUCKET) -> list[tuple[str, str]]:
        """(method, key) of every successful PUT, POST and DELETE on `bucket` since `mark()`, as the server saw
        them: a multipart upload shows as POST (create), PUT per part, POST (complete); DeleteObjects as
        POST with an empty key."""
        found = []
        for method, path, status in self._log.requests[since:]:
            if method not in ("PUT", "POST", "DELETE") or status >= 300:
                continue
            bucket_path = path.split("?", 1)[0]
            if bucket_path == f"/{bucket}" or bucket_path.startswith(f"/{bucket}/"):
                found.append((method, bucket_path[len(bucket) + 2 :]))
        return found

    def client(self, service: str = "s3", key: AccessKey | None = None) -> Any:
        import boto3

        key = key or self.admin
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            aws_access_key_id=key.key_id,
            aws_secret_access_key=key.secret,
            region_name=REGION,
        )

    def _post(self, path: str, body: bytes = b"") -> None:
        import requests

        requests.post(f"{self.endpoint}{path}", data=body, timeout=10).raise_for_status()

    def reset(self) -> None:
        """Authentication off, every bucket and IAM user gone, then the test bucket created."""
        self._post("/moto-api/reset-auth", b"inf")
        self._post("/moto-api/reset")
        self.admin = AccessKey(OPEN_KEY, OPEN_SECRET)
        self.client().create_bucket(Bucket=BUCKET)

    def user(self, name: str, actions: list[str]) -> AccessKey:
        """An IAM user allowed `actions` on every resource, and its access key (before `require_auth`)."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
        iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy))
        created = iam.create_access_key(UserName=name)["AccessKey"]
        return AccessKey(created["AccessKeyId"], created["SecretAccessKey"])

    def require_auth(self) -> AccessKey:
        """Turn on IAM authentication; the returned admin key (s3:*) keeps working for the test's own checks."""
        admin = self.user("test-admin", ["s3:*"])
        self._post("/moto-api/reset-auth", b"0")
        self.admin = admin
        return admin

    def object_keys(self, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def isolate_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials from this machine: no env keys, no profile files, no instance metadata."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@contextmanager
def running() -> Iterator[S3Server]:
    server = S3Server()
    try:
        yield server
    finally:
        server.stop()


def use_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: S3Server, key: AccessKey | None) -> None:
    """Point boto3's default chain at `server`, with `key` in the environment (None: no credentials at all)."""
    isolate_aws_env(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint)
    if key is not None:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key.key_id)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key.secret)


@pytest.fixture(scope="session")
def s3_server_session() -> Iterator[S3Server]:
    with running() as server:
        yield server


@pytest.fixture
def s3_server(s3_server_session: S3Server) -> S3Server:
    """moto's S3 server on 127.0.0.1, reset, authentication off, with the bucket created."""
    s3_server_session.reset()
    return s3_server_session


@pytest.fixture
def gcs(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A GCS emulator (gcp-storage-emulator, in memory) on 127.0.0.1 with the bucket created; its URL."""
    import socket

    from gcp_storage_emulator.server import create_server

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
