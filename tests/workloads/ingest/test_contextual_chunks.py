"""Contextual chunks: the title and heading path go into the embedding, the clean chunk into the store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.workloads.ingest.ingest_docs import CountingProducer, rows_of
from workloads.ingest.ingest import run_ingest
from workloads.ingest.records import contextual_text
from workloads.ingest.sinks.ogx import AppVectorStoreSink

Open = Callable[[], AppVectorStoreSink]


def test_contextual_text_puts_title_and_headings_first_without_repeating_the_title() -> None:
    assert contextual_text("Sourdough", ("Feeding",), "Feed it.") == "Sourdough > Feeding\nFeed it."
    assert contextual_text("Sourdough", ("Sourdough", "Feeding"), "Feed it.") == "Sourdough > Feeding\nFeed it."
    assert contextual_text("", (), "Feed it.") == "Feed it."


@pytest.mark.slow
def test_the_embedding_carries_title_and_headings_and_the_store_holds_the_clean_text(
    corpus: Path, counting: CountingProducer, open_sink: Open
) -> None:
    sink = open_sink()
    run_ingest(corpus, counting, sink)
    assert sink.live is not None
    rows = rows_of(sink, "lighthouse.md")
    fog = next(r for r in rows if "Fog signals" in r["headings"])
    # Stored (and cited) text: the chunk alone, no heading lines in front of it.
    assert fog["text"].startswith("When fog rolled in"), fog["text"]
    assert "Lighthouse keeping" not in fog["text"] and "Fog signals" not in fog["text"]

    stored = sink.client.query_chunks(sink.live.id, {"type": "eq", "key": "source", "value": "lighthouse.md"}, 100)
    vector = np.array(next(c for c in stored if c["chunk_id"] == fog["id"])["embedding"])
    embedder = counting.inner.embedder
    with_context, alone = embedder.encode(
        [contextual_text(fog["title"], tuple(fog["headings"]), fog["text"]), fog["text"]], 8
    )
    assert np.allclose(vector, with_context, atol=1e-4)  # what was embedded: title > headings, then the text
    assert not np.allclose(vector, alone, atol=1e-2)
