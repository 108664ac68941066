"""Fixtures for the ingest tests: real documents written here, the real model, Milvus Lite files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.workloads.ingest.ingest_docs import (
    PDF_PARAGRAPHS,
    CountingProducer,
    write_docx,
    write_html,
    write_markdown,
    write_pdf,
)
from workloads.ingest.embed import DEFAULT_MODEL
from workloads.ingest.produce import ChunkProducer, ProducerSettings
from workloads.ingest.sinks.milvus import MilvusSettings, MilvusSink


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Four real documents, one per format the tests need: Markdown, HTML, DOCX and a text PDF."""
    root = tmp_path / "corpus"
    (root / "guides").mkdir(parents=True)
    write_markdown(root / "lighthouse.md")
    write_html(root / "guides" / "sourdough.html")
    write_docx(root / "guides" / "beekeeping.docx")
    write_pdf(root / "glacier.pdf", PDF_PARAGRAPHS, title="Glacier field notes")
    return root


# --------------------------------------------------------------------- pipeline


@pytest.fixture(scope="session")
def producer() -> ChunkProducer:
    """The real producer (MiniLM, Docling), loaded once; the CLI's cache hands out the same one."""
    from workloads.ingest import cli

    return cli._producer(ProducerSettings(DEFAULT_MODEL))


@pytest.fixture
def counting(producer: ChunkProducer) -> CountingProducer:
    return CountingProducer(producer)


@pytest.fixture
def lite_uri(tmp_path: Path) -> str:
    return str(tmp_path / "milvus" / "test.db")


@pytest.fixture
def open_sink(lite_uri: str) -> Iterator[Callable[[], MilvusSink]]:
    """Opens Milvus Lite sinks on one file; Milvus Lite allows one client at a time, so close first."""
    opened: list[MilvusSink] = []

    def _open() -> MilvusSink:
        for sink in opened:
            sink.close()
        opened.clear()
        sink = MilvusSink(MilvusSettings(uri=lite_uri, collection="test_chunks"))
        opened.append(sink)
        return sink

    yield _open
    for sink in opened:
        sink.close()
