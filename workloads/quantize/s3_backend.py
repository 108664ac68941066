"""Amazon S3 (or an S3-compatible endpoint) through boto3, imported lazily.

Credentials and region come from boto3's default chain: IRSA or EKS Pod Identity in the cluster, the
usual environment variables or profile elsewhere. AWS_ENDPOINT_URL points it at another endpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class S3Backend:
    scheme = "s3"

    def __init__(self, bucket: str, client: Any = None) -> None:
        self.bucket = bucket
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.client = client

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def list_keys(self, prefix: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        return [
            item["Key"]
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]

    def upload_file(self, path: Path, key: str) -> None:
        # Multipart for large files, with boto3's retries.
        self.client.upload_file(str(path), self.bucket, key)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
