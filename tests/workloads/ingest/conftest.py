"""Fixtures for the ingest tests: real documents written here, the real model and Docling, the real RAG app."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.workloads.ingest.app_servers import APP_KEY_ENV, RagApp, rag_app
from tests.workloads.ingest.ingest_docs import (
    PDF_PARAGRAPHS,
    CountingProducer,
    write_docx,
    write_html,
    write_markdown,
    write_pdf,
)
from workloads.ingest.app_client import AppClient, AppSettings
from workloads.ingest.embed import DEFAULT_MODEL
from workloads.ingest.produce import ChunkProducer, ProducerSettings
from workloads.ingest.sinks.ogx import AppVectorStoreSink


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
def producer() -> Iterator[ChunkProducer]:
    """The real producer (MiniLM, Docling workers), shared by the session; the CLI's cache hands out the same."""
    from workloads.ingest import cli

    yield cli.cached_producer(ProducerSettings(DEFAULT_MODEL, log_level="WARNING"))


@pytest.fixture
def counting(producer: ChunkProducer) -> CountingProducer:
    return CountingProducer(producer)


# --------------------------------------------------------------------- the RAG app


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RagApp]:
    """OGX 1.5 with the generated run config and the MiniLM embeddings endpoint, for the whole session."""
    with rag_app(tmp_path_factory.mktemp("rag-app")) as running:
        yield running


@pytest.fixture
def app_env(app: RagApp, monkeypatch: pytest.MonkeyPatch) -> RagApp:
    """The app's API key in the environment, where the job reads it."""
    monkeypatch.setenv(APP_KEY_ENV, app.api_key)
    return app


@pytest.fixture
def store_name() -> str:
    """A fresh vector store name per test (the app is shared by the session)."""
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def open_sink(app: RagApp, store_name: str) -> Iterator[Callable[[], AppVectorStoreSink]]:
    """Opens sinks on this test's store, as separate runs of the job would."""
    opened: list[AppVectorStoreSink] = []

    def _open() -> AppVectorStoreSink:
        sink = AppVectorStoreSink(AppClient(AppSettings(app.url, app.api_key)), store_name, insert_batch=16)
        opened.append(sink)
        return sink

    yield _open
    for sink in opened:
        sink.close()
