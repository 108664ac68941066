"""Milvus sink: a Milvus server (credentials from the environment) or a Milvus Lite file."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from workloads.ingest.records import EmbeddedDocument, SearchHit, StoredDocument, chunk_id

log = logging.getLogger(__name__)

SERVER_SCHEMES = ("http", "https", "tcp", "grpc", "grpcs")
MAX_TEXT_BYTES = 65_535
MAX_SOURCE_BYTES = 1_024
_FIELDS = ("text", "source", "title", "headings", "page")
_COLLECTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")


class _DropIteratorNoise(logging.Filter):
    """Milvus Lite has no server timestamp for iterators; pymilvus warns about it on every query."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "failed to get mvccTs" not in record.getMessage()


def _token_from_file(path: str) -> str:
    """The token in the file `path` (empty path: none); a clear error when it cannot be read."""
    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise SystemExit(
            f"error: MILVUS_TOKEN_FILE {path}: cannot be read ({e}); mount the token's Secret there"
        ) from None


@dataclass(frozen=True)
class MilvusSettings:
    uri: str
    collection: str
    db_name: str = ""
    token: str = field(default="", repr=False)
    user: str = field(default="", repr=False)
    password: str = field(default="", repr=False)

    @classmethod
    def from_env(
        cls, uri: str, collection: str, db_name: str = "", environ: Mapping[str, str] = os.environ
    ) -> MilvusSettings:
        """Read credentials from MILVUS_TOKEN (or the file MILVUS_TOKEN_FILE names: how the cluster Job passes it, a
        Secret mounted as a file), or MILVUS_USER and MILVUS_PASSWORD; check the rest."""
        settings = cls(
            uri=uri,
            collection=collection,
            db_name=db_name,
            token=environ.get("MILVUS_TOKEN", "") or _token_from_file(environ.get("MILVUS_TOKEN_FILE", "")),
            user=environ.get("MILVUS_USER", ""),
            password=environ.get("MILVUS_PASSWORD", ""),
        )
        settings.validate()
        return settings

    @property
    def is_lite(self) -> bool:
        return urlsplit(self.uri).scheme.lower() not in SERVER_SCHEMES

    def validate(self) -> None:
        problems = []
        if not _COLLECTION_NAME.match(self.collection):
            problems.append(
                f"--collection {self.collection!r}: use letters, digits and underscores, not starting with a digit"
            )
        if self.is_lite and not self.uri.endswith(".db"):
            problems.append(
                f"--milvus-uri {self.uri!r}: a Milvus Lite file must end in .db; a server URI starts "
                f"with one of {', '.join(s + '://' for s in SERVER_SCHEMES)}"
            )
        if bool(self.user) != bool(self.password):
            problems.append("MILVUS_USER and MILVUS_PASSWORD must be set together (or use MILVUS_TOKEN)")
        if self.token and self.user:
            problems.append("set either MILVUS_TOKEN or MILVUS_USER/MILVUS_PASSWORD, not both")
        if problems:
            raise SystemExit("error: " + "\n       ".join(problems))

    def redacted_uri(self) -> str:
        """The URI without any user:password part, safe to log."""
        parts = urlsplit(self.uri)
        if parts.username or parts.password:
            netloc = "***@" + (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
            return urlunsplit(parts._replace(netloc=netloc))
        return self.uri


def _literal(value: str) -> str:
    """A Milvus filter string literal (Milvus Lite does not support filter templates)."""
    return json.dumps(value, ensure_ascii=False)


def _clip(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", "ignore")


class MilvusSink:
    def __init__(self, settings: MilvusSettings) -> None:
        from pymilvus import MilvusClient

        logging.getLogger("pymilvus.client.iterator.query_iterator").addFilter(_DropIteratorNoise())
        self.settings = settings
        if settings.is_lite:
            Path(settings.uri).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        self.client = MilvusClient(
            uri=settings.uri,
            token=settings.token,
            user=settings.user,
            password=settings.password,
            db_name=settings.db_name,
        )
        self.collection = settings.collection
        self._loaded = False

    def describe(self) -> str:
        kind = "Milvus Lite" if self.settings.is_lite else "Milvus"
        return f"{kind} {self.settings.redacted_uri()} collection {self.collection}"

    # ------------------------------------------------------------------ schema

    def prepare(self, dim: int) -> None:
        from pymilvus import DataType, MilvusClient

        if self.client.has_collection(self.collection):
            held = self._vector_dim()
            if held != dim:
                raise SystemExit(
                    f"error: collection {self.collection!r} holds {held}-dim vectors but the embedding "
                    f"model makes {dim}-dim ones; pass another --collection (or drop this one)"
                )
            self._load()
            return
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=128)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT_BYTES)
        schema.add_field("source", DataType.VARCHAR, max_length=MAX_SOURCE_BYTES)
        schema.add_field("title", DataType.VARCHAR, max_length=1024)
        schema.add_field("headings", DataType.JSON)
        schema.add_field("page", DataType.INT64, nullable=True)
        schema.add_field("doc_hash", DataType.VARCHAR, max_length=64)
        schema.add_field("pipeline", DataType.VARCHAR, max_length=64)
        schema.add_field("chunk_index", DataType.INT64)
        schema.add_field("chunk_count", DataType.INT64)
        index = self.client.prepare_index_params()
        index.add_index(field_name="vector", index_type="AUTOINDEX", metric_type="COSINE")
        self.client.create_collection(self.collection, schema=schema, index_params=index, consistency_level="Strong")
        log.info("created collection %s (dim %d)", self.collection, dim)
        self._loaded = True  # create_collection with an index loads it

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self._load()

    def _load(self) -> None:
        """Load the collection for search. A Milvus (Lite) collection opened by a new process is released,
        and searching a released collection fails ("collection is in state 'released'")."""
        self.client.load_collection(self.collection)
        self._loaded = True

    def _vector_dim(self) -> int:
        info = self.client.describe_collection(self.collection)
        for f in info["fields"]:
            if f["name"] == "vector":
                return int(f["params"]["dim"])
        raise SystemExit(
            f"error: collection {self.collection!r} was not made by this job (no 'vector' field); "
            "pass another --collection"
        )

    # ------------------------------------------------------------------ state

    def _rows(self, fields: list[str], filter_: str = "") -> Iterator[dict[str, Any]]:
        self._ensure_loaded()
        iterator = self.client.query_iterator(self.collection, batch_size=2000, filter=filter_, output_fields=fields)
        try:
            while batch := iterator.next():
                yield from batch
        finally:
            iterator.close()

    def stored_documents(self) -> dict[str, StoredDocument]:
        docs: dict[str, StoredDocument] = {}
        for row in self._rows(["source", "doc_hash", "pipeline", "chunk_count"]):
            source = row["source"]
            docs.setdefault(source, StoredDocument(source)).add_row(
                row["doc_hash"], row["pipeline"], int(row["chunk_count"])
            )
        return docs

    def chunks(self) -> Iterator[dict[str, Any]]:
        """Every stored chunk without its vector: id, text, source, title, headings, page, chunk_index."""
        yield from self._rows(["id", *_FIELDS, "chunk_index", "chunk_count", "doc_hash"])

    def count(self) -> int:
        self._ensure_loaded()
        result = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(result[0]["count(*)"])

    # ------------------------------------------------------------------ writes

    def write(self, doc: EmbeddedDocument, batch_size: int = 256) -> None:
        if len(doc.source.encode("utf-8")) > MAX_SOURCE_BYTES:
            raise ValueError(f"source path longer than {MAX_SOURCE_BYTES} bytes")
        rows = [
            {
                "id": chunk_id(doc.doc_hash, chunk.index),
                "vector": vector,
                "text": _clip(chunk.text, MAX_TEXT_BYTES),
                "source": doc.source,
                "title": _clip(doc.title, 1024),
                "headings": list(chunk.headings),
                "page": chunk.page,
                "doc_hash": doc.doc_hash,
                "pipeline": doc.pipeline,
                "chunk_index": chunk.index,
                "chunk_count": len(doc.chunks),
            }
            for chunk, vector in zip(doc.chunks, doc.vectors, strict=True)
        ]
        for start in range(0, len(rows), batch_size):
            self.client.upsert(self.collection, rows[start : start + batch_size])
        # Only now drop what is stale, so readers never see the document vanish.
        stale = (
            f"source == {_literal(doc.source)} and (doc_hash != {_literal(doc.doc_hash)} or "
            f"pipeline != {_literal(doc.pipeline)} or chunk_index >= {len(doc.chunks)})"
        )
        self.client.delete(self.collection, filter=stale)

    def delete(self, source: str) -> None:
        self.client.delete(self.collection, filter=f"source == {_literal(source)}")

    # ------------------------------------------------------------------ reads

    def search(self, vector: list[float], k: int) -> list[SearchHit]:
        self._ensure_loaded()
        results = self.client.search(
            self.collection, data=[vector], limit=k, output_fields=list(_FIELDS), anns_field="vector"
        )
        hits = []
        for rank, hit in enumerate(results[0], start=1):
            entity = hit["entity"]
            hits.append(
                SearchHit(
                    rank=rank,
                    score=float(hit["distance"]),
                    source=entity["source"],
                    title=entity["title"],
                    text=entity["text"],
                    headings=tuple(entity.get("headings") or ()),
                    page=entity.get("page"),
                    chunk_id=str(hit["id"]),
                )
            )
        return hits

    def close(self) -> None:
        self.client.close()
