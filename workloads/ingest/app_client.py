"""HTTP client for the RAG app (OGX 1.5, the Llama Stack project): vector stores, chunk inserts, search.

Only the routes the ingest job needs, as OGX 1.5 serves them:

- ``GET/POST /v1/vector_stores``, ``GET/POST/DELETE /v1/vector_stores/{id}``: find, create, update (name,
  metadata) and delete a store;
- ``POST /v1/vector-io/insert``: chunks with ids and precomputed embeddings (upsert by ``chunk_id``);
- ``POST /v1/vector-io/query``: chunks (with their embeddings) matching a metadata filter;
- ``POST /v1/vector_stores/{id}/search``: what the app serves to its users.

httpx (a dependency of the job, pinned in requirements.txt) keeps one connection open for the whole run.
Every failure becomes ``AppError`` with one line that names the URL, the status and the fix; the API key
is sent as a Bearer header and appears in no message. The key comes from an environment variable, or from the
file that ``<variable>_FILE`` names (``api_key_from``: how the cluster Job passes it, a Secret mounted as a file).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

log = logging.getLogger(__name__)
RETRIES = 3  # attempts for idempotent requests when the app cannot be reached or answers 502-504


class AppError(Exception):
    """The app could not be reached or refused a request; the message is one line for the user.

    ``status`` is the HTTP status when the app answered, None when it could not be reached.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


KEY_FILE_SUFFIX = "_FILE"
"""`INGEST_APP_API_KEY_FILE` names the file that holds the key the variable `INGEST_APP_API_KEY` would."""


class KeyFileError(ValueError):
    """The key file cannot be read or is empty; the message is one line naming the variable, the path and the fix."""


def api_key_from(environ: Mapping[str, str], var: str) -> tuple[str, str]:
    """(the app's API key, where it came from): the variable `var` when set, else the file `<var>_FILE` names
    (stripped of surrounding whitespace), else no key."""
    if environ.get(var):
        return environ[var], var
    file_var = var + KEY_FILE_SUFFIX
    path = environ.get(file_var)
    if not path:
        return "", var
    try:
        key = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or "not UTF-8 text"
        raise KeyFileError(
            f"{file_var} {path}: cannot read the API key file ({reason}); mount the key there or unset {file_var}"
        ) from None
    if not key:
        raise KeyFileError(f"{file_var} {path}: the file is empty; it must hold the app's API key")
    return key, file_var


@dataclass(frozen=True)
class AppSettings:
    url: str  # base URL without /v1, e.g. http://ogx.rag.svc:8321
    api_key: str = field(default="", repr=False)
    api_key_env: str = "INGEST_APP_API_KEY"  # where the key came from, for messages
    timeout_s: float = 120.0

    def validate(self) -> list[str]:
        parts = urlsplit(self.url)
        problems = []
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(f"--app-url {self.url!r}: give the app's base URL, e.g. http://127.0.0.1:8321")
        elif parts.username or parts.password:
            problems.append(
                f"--app-url must not carry credentials; put the API key in the environment variable {self.api_key_env}"
            )
        if self.timeout_s <= 0:
            problems.append(f"--app-timeout {self.timeout_s}: must be a positive number of seconds")
        return problems

    @property
    def base(self) -> str:
        url = self.url.rstrip("/")
        return url.removesuffix("/v1")


@dataclass(frozen=True)
class VectorStore:
    id: str
    name: str
    created_at: int
    metadata: dict[str, Any]
    file_count: int

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> VectorStore:
        return cls(
            id=str(data["id"]),
            name=str(data.get("name") or ""),
            created_at=int(data.get("created_at") or 0),
            metadata=dict(data.get("metadata") or {}),
            file_count=int((data.get("file_counts") or {}).get("total") or 0),
        )


def _detail(response: httpx.Response) -> str:
    """The app's error message, on one line and short."""
    try:
        body = response.json()
    except ValueError:
        text = response.text
    else:
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            text = str(error.get("message") or error)
        elif isinstance(body, dict) and "detail" in body:
            text = json.dumps(body["detail"]) if not isinstance(body["detail"], str) else body["detail"]
        else:
            text = json.dumps(body)
    text = " ".join(text.split())
    return text[:300] + ("..." if len(text) > 300 else "")


class AppClient:
    def __init__(self, settings: AppSettings) -> None:
        self.settings = settings
        headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        self._http = httpx.Client(base_url=settings.base, headers=headers, timeout=settings.timeout_s)

    def close(self) -> None:
        self._http.close()

    def describe(self) -> str:
        return self.settings.base

    # ------------------------------------------------------------------ transport

    def _request(
        self, method: str, path: str, *, json_body: Any = None, content: bytes | None = None, retry: bool = True
    ) -> Any:
        """One request; idempotent ones (retry=True) are retried with a short back-off on transport errors."""
        headers = {"Content-Type": "application/json"} if content is not None else None
        attempts = RETRIES if retry else 1
        for attempt in range(1, attempts + 1):
            try:
                response = self._http.request(method, path, json=json_body, content=content, headers=headers)
            except httpx.TimeoutException:
                raise AppError(
                    f"the RAG app at {self.settings.base} did not answer {method} {path} within "
                    f"{self.settings.timeout_s:.0f} s; raise --app-timeout (INGEST_APP_TIMEOUT) or check the app"
                ) from None
            except httpx.HTTPError as err:
                if attempt < attempts:
                    log.warning("the RAG app did not answer (%s); retrying", type(err).__name__)
                    time.sleep(attempt)
                    continue
                raise AppError(
                    f"cannot reach the RAG app at {self.settings.base} ({type(err).__name__}: {err}); "
                    "check --app-url (INGEST_APP_URL) and that the app is running"
                ) from None
            if response.status_code in (502, 503, 504) and attempt < attempts:
                log.warning("the RAG app answered %d; retrying", response.status_code)
                time.sleep(attempt)
                continue
            break
        if response.status_code == 401:
            hint = (
                f"the key in {self.settings.api_key_env} was refused"
                if self.settings.api_key
                else f"set the app's API key in the environment variable {self.settings.api_key_env}"
            )
            raise AppError(f"the RAG app at {self.settings.base} answered 401 (not authorised): {hint}", 401)
        if response.status_code == 403:
            raise AppError(
                f"the RAG app at {self.settings.base} answered 403 to {method} {path}: the key in "
                f"{self.settings.api_key_env} may not {method} there",
                403,
            )
        if response.status_code >= 400:
            raise AppError(
                f"the RAG app answered {response.status_code} to {method} {path}: {_detail(response)}",
                response.status_code,
            )
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise AppError(f"the RAG app answered {method} {path} with something that is not JSON") from None

    # ------------------------------------------------------------------ vector stores

    def list_vector_stores(self) -> Iterator[VectorStore]:
        after: str | None = None
        while True:
            path = "/v1/vector_stores?limit=100&order=asc" + (f"&after={after}" if after else "")
            page = self._request("GET", path)
            for item in page.get("data", []):
                yield VectorStore.from_api(item)
            if not page.get("has_more") or not page.get("last_id"):
                return
            after = str(page["last_id"])

    def get_vector_store(self, store_id: str) -> VectorStore:
        return VectorStore.from_api(self._request("GET", f"/v1/vector_stores/{store_id}"))

    def create_vector_store(
        self, name: str, metadata: dict[str, Any], embedding_model: str | None, provider_id: str | None
    ) -> VectorStore:
        """A new store; the app fills in its default embedding model, dimension and provider when not given."""
        body: dict[str, Any] = {"name": name, "metadata": metadata}
        if embedding_model:
            body["embedding_model"] = embedding_model
        if provider_id:
            body["provider_id"] = provider_id
        return VectorStore.from_api(self._request("POST", "/v1/vector_stores", json_body=body, retry=False))

    def update_vector_store(self, store_id: str, *, name: str | None, metadata: dict[str, Any]) -> VectorStore:
        """Replace the store's metadata (OGX replaces it whole) and optionally rename it."""
        body: dict[str, Any] = {"metadata": metadata}
        if name is not None:
            body["name"] = name
        return VectorStore.from_api(self._request("POST", f"/v1/vector_stores/{store_id}", json_body=body))

    def delete_vector_store(self, store_id: str) -> None:
        self._request("DELETE", f"/v1/vector_stores/{store_id}")

    # ------------------------------------------------------------------ chunks

    def insert_chunks(self, store_id: str, encoded_chunks: list[bytes]) -> None:
        """Insert chunks already encoded as JSON objects (see sinks/ogx.py: vectors are written compactly)."""
        body = b'{"vector_store_id":' + json.dumps(store_id).encode() + b',"chunks":['
        body += b",".join(encoded_chunks) + b"]}"
        self._request("POST", "/v1/vector-io/insert", content=body)

    def query_chunks(self, store_id: str, filters: dict[str, Any], max_chunks: int) -> list[dict[str, Any]]:
        """Every chunk matching the filter, with its embedding (vector mode; the query text is irrelevant
        because a filtered exact search with a limit above the match count returns all matches)."""
        body = {
            "vector_store_id": store_id,
            "query": "document",
            "params": {"max_chunks": max_chunks, "mode": "vector", "filters": filters, "score_threshold": 0.0},
        }
        result = self._request("POST", "/v1/vector-io/query", json_body=body)
        return list(result.get("chunks", []))

    def search(self, store_id: str, query: str, k: int) -> list[dict[str, Any]]:
        body = {"query": query, "max_num_results": k, "search_mode": "vector"}
        result = self._request("POST", f"/v1/vector_stores/{store_id}/search", json_body=body)
        return list(result.get("data", []))
