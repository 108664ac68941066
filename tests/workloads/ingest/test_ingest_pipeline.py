"""Ingest for real: Docling on documents written in the test, MiniLM embeddings, Milvus Lite."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.workloads.ingest.ingest_docs import CountingProducer, rows_of, write_pdf
from workloads.ingest.ingest import run_ingest
from workloads.ingest.produce import ChunkProducer
from workloads.ingest.search import search
from workloads.ingest.sinks.milvus import MilvusSink

pytestmark = pytest.mark.slow

ALL = ["glacier.pdf", "guides/beekeeping.docx", "guides/sourdough.html", "lighthouse.md"]


def test_ingest_four_formats_and_find_the_right_chunk(
    corpus: Path, counting: CountingProducer, open_sink: Callable[[], MilvusSink]
) -> None:
    sink = open_sink()
    summary = run_ingest(corpus, counting, sink)

    assert sorted(summary.ingested) == ALL
    assert not summary.skipped and not summary.failed
    assert summary.chunks_written == summary.chunks_total == sink.count() > 4

    cases = {
        "How often should the fog horn sound?": ("lighthouse.md", "two blasts every minute"),
        "What flour do I feed a sourdough starter with?": ("guides/sourdough.html", "rye flour"),
        "How much honey should bees keep for winter?": ("guides/beekeeping.docx", "twenty kilograms"),
        "How do you haul a climber out of a crevasse?": ("glacier.pdf", "three to one ratio"),
    }
    for question, (source, phrase) in cases.items():
        top = search(question, counting.inner, sink, k=1)[0]
        assert top.source == source, question
        assert phrase in " ".join(top.text.split()), question

    md = rows_of(sink, "lighthouse.md")
    assert {r["title"] for r in md} == {"Lighthouse keeping"}
    assert any("Fog signals" in r["headings"] for r in md)
    assert all(r["page"] is None for r in md)
    assert sorted(r["chunk_index"] for r in md) == list(range(md[0]["chunk_count"]))
    pdf = rows_of(sink, "glacier.pdf")
    assert {r["title"] for r in pdf} == {"Glacier field notes"}  # from the PDF's metadata
    assert {r["page"] for r in pdf} == {1, 2}  # each chunk carries the page it starts on
    assert next(r for r in pdf if "three to one ratio" in " ".join(r["text"].split()))["page"] == 2
    docx = rows_of(sink, "guides/beekeeping.docx")
    assert any("Winter preparation" in r["headings"] for r in docx)


def test_second_run_changes_nothing_and_embeds_nothing(
    corpus: Path, counting: CountingProducer, open_sink: Callable[[], MilvusSink]
) -> None:
    first = run_ingest(corpus, counting, open_sink())
    ids_before = {r["id"] for r in open_sink().client.query("test_chunks", filter="", output_fields=["id"])}
    counting.produced.clear()

    second = run_ingest(corpus, counting, open_sink())

    assert counting.produced == []  # nothing converted or embedded
    assert second.ingested == [] and second.chunks_written == 0
    assert sorted(second.unchanged) == ALL
    assert second.chunks_total == first.chunks_total
    ids_after = {r["id"] for r in open_sink().client.query("test_chunks", filter="", output_fields=["id"])}
    assert ids_after == ids_before


def test_changed_document_replaces_its_chunks(
    corpus: Path, counting: CountingProducer, open_sink: Callable[[], MilvusSink]
) -> None:
    run_ingest(corpus, counting, open_sink())
    old = rows_of(open_sink(), "lighthouse.md")
    (corpus / "lighthouse.md").write_text(
        "# Lighthouse keeping\n\n## Automation\n\n"
        "Since the lights were automated, a solar panel charges the battery bank and a photocell "
        "switches the lantern on at dusk.\n",
        encoding="utf-8",
    )
    counting.produced.clear()

    summary = run_ingest(corpus, counting, open_sink())

    assert counting.produced == ["lighthouse.md"]
    assert summary.ingested == ["lighthouse.md"] and len(summary.unchanged) == 3
    sink = open_sink()
    new = rows_of(sink, "lighthouse.md")
    assert {r["doc_hash"] for r in new} != {r["doc_hash"] for r in old}
    assert len({r["doc_hash"] for r in new}) == 1 and len(new) == new[0]["chunk_count"]
    assert not any("diaphone" in r["text"] for r in new)
    top = search("What turns the lantern on at night?", counting.inner, sink, k=1)[0]
    assert top.source == "lighthouse.md" and "photocell" in top.text
    fog = search("diaphone horn two blasts every minute in fog", counting.inner, sink, k=5)
    assert all("diaphone" not in hit.text for hit in fog)


def test_removed_document_is_pruned_only_when_asked(
    corpus: Path, counting: CountingProducer, open_sink: Callable[[], MilvusSink]
) -> None:
    first = run_ingest(corpus, counting, open_sink())
    sourdough = len(rows_of(open_sink(), "guides/sourdough.html"))
    (corpus / "guides" / "sourdough.html").unlink()

    kept = run_ingest(corpus, counting, open_sink())
    assert kept.not_in_corpus == ["guides/sourdough.html"] and kept.pruned == []
    assert kept.chunks_total == first.chunks_total

    pruned = run_ingest(corpus, counting, open_sink(), prune=True)
    assert pruned.pruned == ["guides/sourdough.html"]
    assert rows_of(open_sink(), "guides/sourdough.html") == []
    assert pruned.chunks_total == first.chunks_total - sourdough


def test_identical_files_are_stored_once(
    corpus: Path, counting: CountingProducer, open_sink: Callable[[], MilvusSink]
) -> None:
    (corpus / "copy-of-lighthouse.md").write_bytes((corpus / "lighthouse.md").read_bytes())
    first = run_ingest(corpus, counting, open_sink())
    assert first.duplicates == [{"source": "lighthouse.md", "same_as": "copy-of-lighthouse.md"}]
    assert rows_of(open_sink(), "lighthouse.md") == []
    counting.produced.clear()
    again = run_ingest(corpus, counting, open_sink())
    assert counting.produced == [] and again.chunks_total == first.chunks_total


def test_changed_chunking_reembeds_and_leaves_no_stale_chunk(
    corpus: Path, producer: ChunkProducer, open_sink: Callable[[], MilvusSink]
) -> None:
    from workloads.ingest import cli
    from workloads.ingest.produce import ProducerSettings

    small = cli._producer(ProducerSettings(producer.embedder.name, chunk_tokens=48))
    assert small.pipeline != producer.pipeline
    many = run_ingest(corpus, small, open_sink())

    # Back to the model's window: fewer chunks per document, so the old tail chunks must go.
    summary = run_ingest(corpus, producer, open_sink())

    assert sorted(summary.ingested) == ALL
    assert summary.chunks_total < many.chunks_total
    sink = open_sink()
    for source in ALL:
        rows = rows_of(sink, source)
        assert len(rows) == rows[0]["chunk_count"], source
    assert summary.chunks_total == sink.count() == summary.chunks_written


def test_bad_files_are_reported_and_the_rest_ingested(
    corpus: Path, counting: CountingProducer, open_sink: Callable[[], MilvusSink]
) -> None:
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7\n garbage that is no PDF body\n%%EOF\n")
    (corpus / "empty.md").write_bytes(b"")
    (corpus / "notes.txt").write_text("plain text is not a supported format")
    write_pdf(corpus / "locked.pdf", ["Encrypted page."], password="secret")
    (corpus / "guides" / "lighthouse-2.md").write_text((corpus / "lighthouse.md").read_text() + "\nA second edition.\n")

    summary = run_ingest(corpus, counting, open_sink())

    reasons = {s["source"]: s["reason"] for s in summary.skipped}
    assert set(reasons) == {"broken.pdf", "empty.md", "notes.txt", "locked.pdf"}
    assert reasons["empty.md"] == "empty file (0 bytes)"
    assert reasons["locked.pdf"].startswith("encrypted PDF")
    assert sorted(summary.ingested) == sorted([*ALL, "guides/lighthouse-2.md"])
    assert summary.failed


def test_a_fresh_sink_searches_without_prepare(
    corpus: Path, counting: CountingProducer, open_sink: Callable[[], MilvusSink]
) -> None:
    """Milvus Lite opens a stored collection released; search must load it (evaluate --no-ingest did not)."""
    run_ingest(corpus, counting, open_sink())
    fresh = open_sink()
    # A new process finds the stored collection released (in this process Milvus Lite still has it loaded).
    fresh.client.release_collection("test_chunks")
    assert fresh.client.get_load_state("test_chunks")["state"].name == "NotLoad"

    top = search("How often should the fog horn sound?", counting.inner, fresh, k=1)[0]

    assert top.source == "lighthouse.md"
    fresh.client.release_collection("test_chunks")
    again = open_sink()
    assert again.count() == len(list(again.chunks())) > 4  # queries load it too
