"""Chunking with Docling's HybridChunker, sized by the embedding model's own tokenizer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workloads.ingest.records import Chunk
from workloads.ingest.torch_compat import hide_broken_torchvision

if TYPE_CHECKING:
    from docling_core.types.doc import DoclingDocument
    from transformers import PreTrainedTokenizerBase


def _plain_serializer_provider() -> Any:
    """Serialize chunks as plain text: link targets and emphasis markers only add noise to embeddings."""
    from docling_core.transforms.chunker.hierarchical_chunker import (
        ChunkingDocSerializer,
        ChunkingSerializerProvider,
    )

    class PlainChunkingProvider(ChunkingSerializerProvider):
        def get_serializer(self, doc: DoclingDocument) -> ChunkingDocSerializer:
            serializer = ChunkingDocSerializer(doc=doc)
            serializer.params = serializer.params.model_copy(
                update={"include_hyperlinks": False, "include_formatting": False}
            )
            return serializer

    return PlainChunkingProvider()


class Chunker:
    """Turns a DoclingDocument into chunks of at most max_tokens tokens (headings included)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_tokens: int) -> None:
        hide_broken_torchvision()
        import transformers
        from docling_core.transforms.chunker.hybrid_chunker import HybridChunker
        from docling_core.transforms.chunker.tokenizer.huggingface import HuggingFaceTokenizer

        # The chunker measures over-long texts before splitting them; that is not an error.
        transformers.logging.set_verbosity_error()
        self.max_tokens = max_tokens
        self._chunker = HybridChunker(
            tokenizer=HuggingFaceTokenizer(tokenizer=tokenizer, max_tokens=max_tokens),
            merge_peers=True,
            serializer_provider=_plain_serializer_provider(),
        )

    def chunk(self, doc: DoclingDocument) -> list[Chunk]:
        from docling_core.transforms.chunker.doc_chunk import DocChunk
        from docling_core.types.doc import DocItemLabel

        heading_only = {DocItemLabel.TITLE, DocItemLabel.SECTION_HEADER, DocItemLabel.PAGE_HEADER}
        chunks: list[Chunk] = []
        for raw in self._chunker.chunk(dl_doc=doc):
            if not isinstance(raw, DocChunk):
                raise TypeError(f"HybridChunker returned {type(raw).__name__}, expected DocChunk")
            # A heading with no body, or a lone word or two (an image's alt text), answers nothing;
            # headings still reach the following chunks as their context.
            if all(item.label in heading_only for item in raw.meta.doc_items) or len(raw.text.split()) < 3:
                continue
            # The clean text is stored and cited; the heading path is prepended only for embedding (records.py).
            text = _clean(raw.text)
            if not text:
                continue
            pages = [prov.page_no for item in raw.meta.doc_items for prov in item.prov]
            chunks.append(
                Chunk(
                    index=len(chunks),
                    text=text,
                    headings=tuple(h for h in map(_clean, raw.meta.headings or ()) if h),
                    page=min(pages) if pages else None,
                )
            )
        return chunks


def _clean(text: str) -> str:
    """Drop pilcrows (permalink anchors in Sphinx HTML): they are markup, not content."""
    return text.replace("\u00b6", "").replace(" \n", "\n").strip()
