"""The ingest manifest: which documents a vector store holds, kept in the store's own metadata.

OGX 1.5 offers no way to list the chunks of a store by metadata (search and query only return the nearest
ones), so the job records what it wrote in the store itself: one metadata key holding, per source path,
the content hash, the pipeline fingerprint, the chunk count, and whether the write finished. The chunk ids
follow from it (``doc_hash:00000`` ...). A write first records the document as incomplete, then inserts
its chunks, then marks it complete, so an interrupted run leaves a trace the next run repairs.

The metadata of a store made by this job::

    {"leanrag_ingest": {"format": 1, "name": "docs", "role": "live", "generation": 3,
                        "documents": {"guide.md": ["<sha256>", "<pipeline>", 12, true], ...}},
     "embedding_model": ..., "embedding_dimension": ..., "provider_id": ...}   # OGX's own keys, kept

About 120 bytes per document: 10 000 documents make a 1.2 MB metadata value, which OGX returns with the
store in every listing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workloads.ingest.records import StoredDocument

MARKER = "leanrag_ingest"
FORMAT = 1
LIVE = "live"
BUILDING = "building"


class ManifestError(Exception):
    """The store's manifest is unreadable (written by another tool or a newer version of the job)."""


@dataclass
class Manifest:
    name: str  # the store name the job was given (a building store carries another name until it goes live)
    role: str = LIVE
    generation: int = 1
    documents: dict[str, StoredDocument] = field(default_factory=dict)

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> Manifest | None:
        """The manifest in a store's metadata, or None when the store was not made by this job."""
        data = metadata.get(MARKER)
        if data is None:
            return None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise ManifestError(f"manifest format {found!r} is not {FORMAT}")
        documents = {}
        for source, entry in (data.get("documents") or {}).items():
            try:
                doc_hash, pipeline, count, complete = entry
                documents[source] = StoredDocument(
                    source=source,
                    doc_hash=str(doc_hash),
                    pipeline=str(pipeline),
                    chunk_count=None if count is None else int(count),
                    complete=bool(complete),
                )
            except (TypeError, ValueError):
                raise ManifestError(f"manifest entry for {source!r} is malformed: {entry!r}") from None
        return cls(
            name=str(data.get("name") or ""),
            role=str(data.get("role") or LIVE),
            generation=int(data.get("generation") or 1),
            documents=documents,
        )

    def to_metadata(self, store_metadata: dict[str, Any]) -> dict[str, Any]:
        """The store's metadata with this manifest in it (OGX replaces metadata whole: keep its own keys)."""
        documents = {
            d.source: [d.doc_hash, d.pipeline, d.chunk_count, d.complete]
            for d in sorted(self.documents.values(), key=lambda d: d.source)
        }
        manifest = {
            "format": FORMAT,
            "name": self.name,
            "role": self.role,
            "generation": self.generation,
            "documents": documents,
        }
        return {**store_metadata, MARKER: manifest}

    @property
    def chunk_count(self) -> int:
        return sum(d.chunk_count or 0 for d in self.documents.values() if d.complete)
