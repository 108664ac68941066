"""Amazon S3 (or an S3-compatible endpoint) through boto3, imported lazily.

Credentials and region come from boto3's default chain: IRSA or EKS Pod Identity in the cluster, the
usual environment variables or a profile elsewhere. AWS_ENDPOINT_URL points it at another endpoint.
Uploads are multipart above 8 MiB with boto3's retries; each object records its sha256 as user metadata.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from workloads.artifacts.errors import UserError
from workloads.artifacts.object_store import SHA256_METADATA, ObjectInfo
from workloads.artifacts.progress import ByteProgress, mb

log = logging.getLogger(__name__)

HOW_TO_PROVIDE = (
    "in the cluster, run the Job as the model-store ServiceAccount (IRSA or EKS Pod Identity provide them); "
    "locally, set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
    "(and AWS_ENDPOINT_URL for an S3-compatible store)"
)
REJECTED_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "TokenRefreshRequired",
    "AuthorizationHeaderMalformed",
    "InvalidClientTokenId",
}
PROGRESS_MIN_BYTES = 64 * 1024 * 1024
"""Files at least this large log their upload progress while it runs."""


class S3Backend:
    scheme = "s3"

    def __init__(self, bucket: str, client: Any = None) -> None:
        self.bucket = bucket
        self.session: Any = None
        if client is None:
            import boto3
            from botocore.exceptions import BotoCoreError, PartialCredentialsError

            try:
                self.session = boto3.session.Session()
                client = self.session.client("s3")
            except PartialCredentialsError as exc:
                raise UserError(f"s3://{bucket}: incomplete AWS credentials ({exc}); {HOW_TO_PROVIDE}") from None
            except BotoCoreError as exc:  # ProfileNotFound, bad config file, no region for a custom endpoint
                raise UserError(f"s3://{bucket}: the AWS configuration cannot be used: {exc}") from None
        self.client = client

    def location(self, prefix: str) -> str:
        return f"s3://{self.bucket}/{prefix}"

    def _credential_source(self) -> str:
        try:
            creds = self.session.get_credentials() if self.session is not None else None
        except Exception:
            return "the configured credentials"
        method = getattr(creds, "method", None)
        return f"credentials from {method}" if method else "the configured credentials"

    def check_credentials(self) -> None:
        """Fail early, on one line, when boto3's chain finds no credentials or only half of them."""
        if self.session is None:  # a client handed in (tests): its credentials are its own
            return
        from botocore.exceptions import BotoCoreError, PartialCredentialsError

        try:
            creds = self.session.get_credentials()
        except PartialCredentialsError as exc:
            raise UserError(f"s3://{self.bucket}: incomplete AWS credentials ({exc}); {HOW_TO_PROVIDE}") from None
        except BotoCoreError as exc:
            raise UserError(f"s3://{self.bucket}: AWS credentials cannot be loaded: {exc}; {HOW_TO_PROVIDE}") from None
        if creds is None:
            raise UserError(f"s3://{self.bucket}: no AWS credentials found; {HOW_TO_PROVIDE}")

    def explain(self, exc: BaseException) -> str | None:
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
        )

        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return f"no usable AWS credentials ({exc}); {HOW_TO_PROVIDE}"
        if isinstance(exc, EndpointConnectionError):
            return f"cannot reach the S3 endpoint ({exc}); check AWS_ENDPOINT_URL, AWS_REGION and the network"
        if isinstance(exc, S3UploadFailedError):  # boto3 wraps the ClientError of a failed upload in text
            text = str(exc)
            code = next((c for c in (*REJECTED_CODES, "AccessDenied", "NoSuchBucket") if c in text), None)
            return self._explain_code(code, text) if code else text
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            return self._explain_code(code, f"{exc.operation_name}: {code}: {error.get('Message', '')}".strip())
        if isinstance(exc, BotoCoreError):
            return str(exc)
        return None

    def _explain_code(self, code: str, detail: str) -> str:
        if code in REJECTED_CODES:
            return (
                f"the {self._credential_source()} were rejected ({code}); check AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY or AWS_PROFILE locally, the ServiceAccount's role in the cluster"
            )
        if code in ("AccessDenied", "403", "Forbidden", "AllAccessDisabled"):
            return (
                f"access denied ({detail}); the identity needs s3:ListBucket on arn:aws:s3:::{self.bucket} and "
                f"s3:GetObject, s3:PutObject and s3:DeleteObject on arn:aws:s3:::{self.bucket}/*"
            )
        if code == "NoSuchBucket":
            return f"bucket {self.bucket} does not exist; check the URI (and AWS_ENDPOINT_URL for another store)"
        return detail

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    def stat(self, key: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return ObjectInfo(int(head["ContentLength"]), (head.get("Metadata") or {}).get(SHA256_METADATA))

    def list_sizes(self, prefix: str) -> dict[str, int]:
        paginator = self.client.get_paginator("list_objects_v2")
        return {
            item["Key"]: int(item["Size"])
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        }

    def list_keys(self, prefix: str) -> list[str]:
        return list(self.list_sizes(prefix))

    def get_bytes(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def upload_file(self, path: Path, key: str, sha256: str | None = None) -> None:
        size = path.stat().st_size
        progress = ByteProgress(log, f"upload {path.name}", size) if size >= PROGRESS_MIN_BYTES else None
        extra = {"Metadata": {SHA256_METADATA: sha256}} if sha256 else None
        self.client.upload_file(str(path), self.bucket, key, ExtraArgs=extra, Callback=progress)
        if progress is not None:
            progress.finish()
        else:
            log.debug("uploaded %s (%s) to %s", path.name, mb(size), self.location(key))

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def delete(self, keys: list[str]) -> None:
        from botocore.exceptions import ClientError

        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            response = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            errors = response.get("Errors") or []
            if errors:  # DeleteObjects answers 200 and lists per-key failures (AccessDenied) in the body
                first = errors[0]
                raise ClientError(
                    {
                        "Error": {
                            "Code": first.get("Code", ""),
                            "Message": f"{first.get('Key')}: {first.get('Message')}",
                        }
                    },
                    "DeleteObjects",
                )
