"""The RAG app's vector store as the ingest sink, through the app's own HTTP API (OGX 1.5).

Why it works the way it does (read OGX 1.5's vector_io router and its Milvus provider):

- Chunks go in with ``POST /v1/vector-io/insert``: our deterministic ids (``doc_hash:index``) and our own
  embeddings; the provider upserts by id, so re-sending a chunk is harmless.
- OGX 1.5 has **no HTTP route that deletes chunks** (only whole stores, or the chunks of an attached
  *file*, which inserted chunks are not) and none that lists chunks by metadata. So:

  * what the store holds is recorded in the store's own metadata (``manifest.py``);
  * a run that only adds documents writes into the live store ("in place");
  * a run that must drop chunks (a changed document's old version, pruned documents) builds the next
    *generation*: a new store, named ``<name>.building`` while it fills, gets the new chunks plus the
    unchanged ones copied from the live store (``POST /v1/vector-io/query`` returns them with their
    embeddings: nothing is embedded twice); then it is renamed to ``<name>`` and the old store is deleted.
    Readers find the store by name and take the highest generation, so they never see a half-built store,
    and a failure before the rename leaves the live store untouched. The store id changes with each
    generation; the run summary reports it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from workloads.ingest.app_client import AppClient, AppError, VectorStore
from workloads.ingest.manifest import BUILDING, LIVE, Manifest, ManifestError
from workloads.ingest.records import HEADING_SEPARATOR, EmbeddedDocument, SearchHit, StoredDocument, chunk_id

log = logging.getLogger(__name__)

COPY_BATCH = 1000  # chunks per query when copying into a new generation (Milvus caps a search at 16384)
MAX_SEARCH_RESULTS = 50  # OGX 1.5's limit for max_num_results


class StoreError(Exception):
    """The store cannot be used as asked; the message is one line for the user."""


@dataclass
class WriteOutcome:
    source: str
    error: str | None = None  # None: every chunk of the document was inserted


@dataclass
class CommitResult:
    store_id: str
    generation: int
    replaced_store_id: str | None = None  # the previous generation, deleted
    dropped: list[str] = field(default_factory=list)  # kept documents that could not be copied (re-ingested next run)


@dataclass
class _Pending:
    """A document whose chunks are being inserted (possibly across several batches)."""

    doc: EmbeddedDocument
    sent: int = 0
    error: str | None = None


def _building_name(name: str) -> str:
    return f"{name}.building"


def _model_tail(model: str) -> str:
    return model.rstrip("/").rsplit("/", 1)[-1].casefold()


def _vector_json(vector: list[float]) -> str:
    # 9 significant digits hold a float32 exactly; the store keeps float32. Half the bytes of repr().
    return "[" + ",".join(format(v, ".9g") for v in vector) + "]"


class AppVectorStoreSink:
    """One named vector store of the RAG app, written and read by the ingest job."""

    def __init__(
        self,
        client: AppClient,
        name: str,
        *,
        app_embedding_model: str | None = None,
        provider_id: str | None = None,
        insert_batch: int = 256,
    ) -> None:
        self.client = client
        self.name = name
        self.app_embedding_model = app_embedding_model
        self.provider_id = provider_id
        self.insert_batch = insert_batch
        self.live: VectorStore | None = None
        self.manifest = Manifest(name=name)
        self._target: VectorStore | None = None  # where writes go: the live store, or the building one
        self._target_manifest: Manifest | None = None
        self._buffer: list[tuple[_Pending, bytes]] = []
        self._open_docs: list[_Pending] = []
        self._embedding_model = ""
        self._dim = 0

    # ------------------------------------------------------------------ finding the store

    def describe(self) -> str:
        where = f" ({self.live.id})" if self.live else ""
        return f"vector store {self.name!r}{where} of the RAG app at {self.client.describe()}"

    @property
    def store_id(self) -> str | None:
        return self.live.id if self.live else None

    def _candidates(self) -> tuple[list[tuple[VectorStore, Manifest]], list[VectorStore], list[VectorStore]]:
        """(live stores of ours with this name, stores with this name not made by the job, our interrupted builds)"""
        ours, foreign, building = [], [], []
        for store in self.client.list_vector_stores():
            try:
                manifest = Manifest.from_metadata(store.metadata)
            except ManifestError as err:
                if store.name == self.name:
                    raise StoreError(
                        f"vector store {self.name!r} ({store.id}) has a manifest this job cannot read ({err}); "
                        "pass another --vector-store"
                    ) from None
                continue
            if manifest is None:
                if store.name == self.name:
                    foreign.append(store)
            elif manifest.name == self.name and manifest.role == BUILDING:
                building.append(store)
            elif store.name == self.name and manifest.role == LIVE:
                ours.append((store, manifest))
        ours.sort(key=lambda sm: (sm[1].generation, sm[0].created_at), reverse=True)
        return ours, foreign, building

    def find(self) -> bool:
        """Look the store up by name (read only). True when found."""
        ours, foreign, _ = self._candidates()
        if ours:
            self.live, self.manifest = ours[0]
            self._embedding_model = str(self.live.metadata.get("embedding_model") or "")
            return True
        if foreign:
            raise StoreError(self._foreign_message(foreign[0]))
        return False

    def _foreign_message(self, store: VectorStore) -> str:
        return (
            f"vector store {self.name!r} ({store.id}) exists but was not made by the ingest job (it has no "
            f"{'manifest' if not store.file_count else 'manifest and holds attached files'}); pass another "
            "--vector-store (INGEST_VECTOR_STORE), or delete that store"
        )

    def open(self, *, dim: int, model_identity: str) -> None:
        """Find the store or create it, clean up after interrupted runs, and check the embedding model."""
        ours, foreign, building = self._candidates()
        for store in building:
            log.info("deleting %s (%s), left by an interrupted run", store.name, store.id)
            self.client.delete_vector_store(store.id)
        if not ours and foreign:
            raise StoreError(self._foreign_message(foreign[0]))
        for store, manifest in ours[1:]:
            # A run stopped between renaming the new generation and deleting the old one.
            log.info(
                "deleting generation %d of %r (%s), replaced by a newer one", manifest.generation, self.name, store.id
            )
            self.client.delete_vector_store(store.id)
        if ours:
            self.live, self.manifest = ours[0]
        else:
            self.manifest = Manifest(name=self.name)
            self.live = self._create(self.name, self.manifest, dim, model_identity)
            log.info("created %s", self.describe())
        self._check_model(self.live, dim, model_identity)

    def _create(self, name: str, manifest: Manifest, dim: int, model_identity: str) -> VectorStore:
        store = self.client.create_vector_store(
            name, manifest.to_metadata({}), self.app_embedding_model, self.provider_id
        )
        try:
            self._check_model(store, dim, model_identity)
        except StoreError:
            self.client.delete_vector_store(store.id)  # empty: made a moment ago
            raise
        return store

    def _check_model(self, store: VectorStore, dim: int, model_identity: str) -> None:
        model = str(store.metadata.get("embedding_model") or "")
        held_dim = store.metadata.get("embedding_dimension")
        if held_dim is not None and int(held_dim) != dim:
            raise StoreError(
                f"vector store {store.name!r} ({store.id}) uses the app's embedding model {model or '?'} with "
                f"{held_dim} dimensions, but the job's model {model_identity} makes {dim}: give the job the "
                "model the app uses (--embedding-model) or another --vector-store"
            )
        wanted = self.app_embedding_model or model_identity
        if model and _model_tail(model) != _model_tail(wanted):
            flag = "--app-embedding-model" if self.app_embedding_model else "--embedding-model"
            raise StoreError(
                f"vector store {store.name!r} ({store.id}) is searched with the app's embedding model {model}, "
                f"but the job embeds with {wanted}; queries and chunks must use the same model. If they are the "
                f"same model under two names, pass --app-embedding-model {model}; otherwise fix {flag}"
            )
        self._embedding_model = model or wanted
        self._dim = dim

    # ------------------------------------------------------------------ state

    def stored_documents(self) -> dict[str, StoredDocument]:
        return dict(self.manifest.documents)

    def count(self) -> int:
        return self.manifest.chunk_count

    def state(self) -> tuple[str, str, int]:
        return self.name, self.live.id if self.live else "", self.manifest.generation

    # ------------------------------------------------------------------ writing

    def begin(self, *, new_generation: bool, pending: list[StoredDocument]) -> None:
        """Start writing: into the live store, or into a new generation that replaces it at commit.

        In place, the documents about to be written are first recorded as incomplete, so an interrupted
        run leaves a trace: the next run rewrites them (same ids) or, if they changed, starts a generation.
        """
        if self.live is None:
            raise RuntimeError("open() first")
        if new_generation:
            manifest = Manifest(name=self.name, role=BUILDING, generation=self.manifest.generation + 1)
            # The same embedding model and provider as the live store, whatever the app's defaults are now.
            store = self.client.create_vector_store(
                _building_name(self.name),
                manifest.to_metadata({}),
                str(self.live.metadata.get("embedding_model") or "") or self.app_embedding_model,
                str(self.live.metadata.get("provider_id") or "") or self.provider_id,
            )
            self._target, self._target_manifest = store, manifest
            log.info("writing generation %d of %r into %s (%s)", manifest.generation, self.name, store.name, store.id)
            return
        self._target, self._target_manifest = self.live, self.manifest
        if pending:
            for doc in pending:
                self.manifest.documents[doc.source] = doc
            self._save_manifest(self.live, self.manifest, name=None)

    def _save_manifest(self, store: VectorStore, manifest: Manifest, name: str | None) -> VectorStore:
        updated = self.client.update_vector_store(store.id, name=name, metadata=manifest.to_metadata(store.metadata))
        return updated

    def _encode(self, doc: EmbeddedDocument, index: int) -> bytes:
        chunk, vector = doc.chunks[index], doc.vectors[index]
        cid = chunk_id(doc.doc_hash, chunk.index)
        # `metadata` is what search returns as attributes (and what the app shows the model next to the chunk):
        # only strings, numbers and booleans are allowed there.
        metadata: dict[str, Any] = {
            "document_id": doc.source,  # OGX cites results by document_id
            "source": doc.source,
            "title": doc.title,
            "headings": HEADING_SEPARATOR.join(chunk.headings),
            "chunk_index": chunk.index,
            "chunk_count": len(doc.chunks),
            "doc_hash": doc.doc_hash,
            "pipeline": doc.pipeline,
        }
        if chunk.page is not None:
            metadata["page"] = chunk.page
        body = {
            "chunk_id": cid,
            "content": chunk.text,
            "metadata": metadata,
            "chunk_metadata": {"chunk_id": cid, "document_id": doc.source, "source": doc.source},
            "embedding_model": self._embedding_model,
            "embedding_dimension": len(vector),
        }
        text = json.dumps(body, ensure_ascii=False)
        return (text[:-1] + ',"embedding":' + _vector_json(vector) + "}").encode("utf-8")

    def add(self, doc: EmbeddedDocument) -> list[WriteOutcome]:
        """Queue a document's chunks; insert full batches. Returns the documents finished by this call."""
        if self._target is None:
            raise RuntimeError("begin() first")
        pending = _Pending(doc)
        self._open_docs.append(pending)
        for index in range(len(doc.chunks)):
            self._buffer.append((pending, self._encode(doc, index)))
            if len(self._buffer) >= self.insert_batch:
                self._insert(self._buffer)
                self._buffer = []
        return self._finished()

    def flush(self) -> list[WriteOutcome]:
        if self._buffer:
            self._insert(self._buffer)
            self._buffer = []
        return self._finished()

    def _insert(self, batch: list[tuple[_Pending, bytes]]) -> None:
        assert self._target is not None
        live = [(p, data) for p, data in batch if p.error is None]
        if not live:
            return
        try:
            self.client.insert_chunks(self._target.id, [data for _, data in live])
        except AppError as err:
            if err.status is None or err.status in (401, 403):
                raise  # the app is gone or refuses us: nothing else can be written either
            docs = list({id(p): p for p, _ in live}.values())
            if len(docs) == 1:
                docs[0].error = f"insert into the vector store failed: {err}"
                return
            for doc in docs:  # find the document the app refused; the others go in alone
                self._insert([(p, data) for p, data in live if p is doc])
            return
        for pending, _ in live:
            pending.sent += 1

    def _finished(self) -> list[WriteOutcome]:
        """Documents whose every chunk is inserted, or whose insert failed; the rest wait in the buffer."""
        done, still = [], []
        for pending in self._open_docs:
            if pending.error is not None:
                done.append(WriteOutcome(pending.doc.source, pending.error))
            elif pending.sent == len(pending.doc.chunks):
                done.append(WriteOutcome(pending.doc.source))
                self._record(pending.doc)
            else:
                still.append(pending)
        self._open_docs = still
        self._buffer = [(p, data) for p, data in self._buffer if p.error is None]
        return done

    def _record(self, doc: EmbeddedDocument) -> None:
        assert self._target_manifest is not None
        self._target_manifest.documents[doc.source] = StoredDocument(
            doc.source, doc.doc_hash, doc.pipeline, len(doc.chunks), complete=True
        )

    def forget(self, sources: list[str]) -> None:
        """Drop incomplete manifest entries of documents that were never sent (their write failed early)."""
        assert self._target_manifest is not None
        for source in sources:
            held = self._target_manifest.documents.get(source)
            if held is not None and not held.complete:
                del self._target_manifest.documents[source]

    def commit(self, keep: set[str]) -> CommitResult:
        """Finish the run. In place: record the manifest. New generation: copy the documents in ``keep``
        from the live store, record the manifest, go live, delete the old generation."""
        assert self.live is not None and self._target is not None and self._target_manifest is not None
        self.flush()
        if self._target is self.live:
            self.live = self._save_manifest(self.live, self.manifest, name=None)
            self._target = None
            return CommitResult(self.live.id, self.manifest.generation)
        new, manifest = self._target, self._target_manifest
        dropped = self._copy(keep, new, manifest)
        manifest.role = LIVE
        new = self._save_manifest(new, manifest, name=self.name)  # the commit point: now it is the live store
        old = self.live
        self.live, self.manifest, self._target = new, manifest, None
        log.info("generation %d of %r is live (%s); deleting %s", manifest.generation, self.name, new.id, old.id)
        self.client.delete_vector_store(old.id)
        return CommitResult(new.id, manifest.generation, replaced_store_id=old.id, dropped=dropped)

    def _copy(self, keep: set[str], target: VectorStore, manifest: Manifest) -> list[str]:
        """Copy the kept documents' chunks (with their embeddings) from the live store into target."""
        assert self.live is not None
        docs = [
            d
            for s in sorted(keep)
            if (d := self.manifest.documents.get(s)) is not None and d.complete and d.chunk_count
        ]
        if not docs:
            return []
        started, copied, dropped = time.monotonic(), 0, []
        for group, rows in self.stored_rows(docs):
            by_hash: dict[str, list[dict[str, Any]]] = {}
            for row in rows:
                by_hash.setdefault(str((row.get("metadata") or {}).get("doc_hash")), []).append(row)
            good: list[bytes] = []
            for doc in group:
                found = by_hash.get(doc.doc_hash, [])
                expected = {chunk_id(doc.doc_hash, i) for i in range(doc.chunk_count or 0)}
                if {str(r.get("chunk_id")) for r in found} != expected:
                    log.warning(
                        "%s: the live store holds %d of its %d chunks; it is dropped and re-ingested next run",
                        doc.source,
                        len(found),
                        doc.chunk_count,
                    )
                    dropped.append(doc.source)
                    continue
                good += [json.dumps(r, ensure_ascii=False).encode("utf-8") for r in found]
                manifest.documents[doc.source] = doc
            for start in range(0, len(good), self.insert_batch):
                self.client.insert_chunks(target.id, good[start : start + self.insert_batch])
            copied += len(good)
        log.info("copied %d unchanged chunks into the new generation in %.1f s", copied, time.monotonic() - started)
        return dropped

    def stored_rows(self, docs: list[StoredDocument]) -> Iterator[tuple[list[StoredDocument], list[dict[str, Any]]]]:
        """The live store's chunks of `docs` as the app returns them (content, metadata, vector), a group of
        documents at a time (at most COPY_BATCH chunks per query; a larger document alone, in pages)."""
        assert self.live is not None
        for group in _copy_groups(docs):
            if len(group) == 1 and (group[0].chunk_count or 0) > COPY_BATCH:
                yield group, self._query_large(group[0])
            else:
                filters = {"type": "in", "key": "doc_hash", "value": sorted({d.doc_hash for d in group})}
                wanted = sum(d.chunk_count or 0 for d in group)
                yield group, self.client.query_chunks(self.live.id, filters, max_chunks=wanted + 1)

    def _query_large(self, doc: StoredDocument) -> list[dict[str, Any]]:
        assert self.live is not None
        rows: list[dict[str, Any]] = []
        for start in range(0, doc.chunk_count or 0, COPY_BATCH):
            filters = {
                "type": "and",
                "filters": [
                    {"type": "eq", "key": "doc_hash", "value": doc.doc_hash},
                    {"type": "gte", "key": "chunk_index", "value": start},
                    {"type": "lt", "key": "chunk_index", "value": start + COPY_BATCH},
                ],
            }
            rows += self.client.query_chunks(self.live.id, filters, max_chunks=COPY_BATCH + 1)
        return rows

    def abort(self) -> None:
        """Give up a new generation (the live store was never touched); in place, nothing to undo."""
        target, self._target = self._target, None
        self._buffer, self._open_docs = [], []
        if target is not None and self.live is not None and target.id != self.live.id:
            try:
                self.client.delete_vector_store(target.id)
            except AppError as err:
                log.warning(
                    "could not delete the unfinished %s (%s): %s; the next run deletes it", target.name, target.id, err
                )

    # ------------------------------------------------------------------ reading

    def search(self, query: str, k: int) -> list[SearchHit]:
        if self.live is None:
            raise RuntimeError("find() or open() first")
        hits = []
        for rank, item in enumerate(self.client.search(self.live.id, query, min(k, MAX_SEARCH_RESULTS)), start=1):
            attrs = item.get("attributes") or {}
            content = item.get("content") or []
            headings = str(attrs.get("headings") or "")
            page = attrs.get("page")
            doc_hash, index = str(attrs.get("doc_hash") or ""), attrs.get("chunk_index")
            hits.append(
                SearchHit(
                    rank=rank,
                    score=float(item.get("score") or 0.0),
                    source=str(attrs.get("source") or item.get("file_id") or ""),
                    title=str(attrs.get("title") or ""),
                    text="".join(str(c.get("text") or "") for c in content),
                    headings=tuple(headings.split(HEADING_SEPARATOR)) if headings else (),
                    page=int(page) if page is not None else None,
                    chunk_id=chunk_id(doc_hash, int(index)) if doc_hash and index is not None else "",
                )
            )
        return hits

    def chunks(self) -> Iterator[dict[str, Any]]:
        """Every stored chunk without its vector (for export), document by document."""
        return (export_row(row) for row in self.stored_chunks())

    def stored_chunks(self) -> Iterator[dict[str, Any]]:
        """Every stored chunk as the app returns it (vector included), document by document in source order."""
        if self.live is None:
            raise RuntimeError("find() or open() first")
        docs = [d for d in self.manifest.documents.values() if d.complete and d.chunk_count]
        for _, rows in self.stored_rows(sorted(docs, key=lambda d: d.source)):
            yield from rows

    def close(self) -> None:
        self.client.close()


def export_row(row: dict[str, Any]) -> dict[str, Any]:
    """A stored chunk as the export (and `KeywordIndex.from_rows`) takes it: text and metadata, no vector."""
    meta = row.get("metadata") or {}
    headings = str(meta.get("headings") or "")
    return {
        "id": str(row.get("chunk_id")),
        "text": row.get("content"),
        "source": meta.get("source"),
        "title": meta.get("title"),
        "headings": headings.split(HEADING_SEPARATOR) if headings else [],
        "page": meta.get("page"),
        "chunk_index": int(meta.get("chunk_index", 0)),
        "chunk_count": int(meta.get("chunk_count", 0)),
        "doc_hash": meta.get("doc_hash"),
    }


def _copy_groups(docs: list[StoredDocument]) -> Iterator[list[StoredDocument]]:
    """Documents in groups of at most COPY_BATCH chunks; a larger document alone."""
    group: list[StoredDocument] = []
    size = 0
    for doc in docs:
        n = doc.chunk_count or 0
        if group and size + n > COPY_BATCH:
            yield group
            group, size = [], 0
        group.append(doc)
        size += n
    if group:
        yield group
