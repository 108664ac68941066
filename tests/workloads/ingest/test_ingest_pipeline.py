"""Ingest for real: Docling on documents written in the test, MiniLM embeddings, the RAG app (OGX 1.5) as the
store, and every check made through the app's own API (its search, its vector-io query)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.workloads.ingest.app_servers import RagApp
from tests.workloads.ingest.ingest_docs import PDF_PARAGRAPHS, CountingProducer, all_chunk_ids, rows_of, write_pdf
from workloads.ingest.app_client import AppClient, AppError, AppSettings
from workloads.ingest.convert_worker import ConvertJob, ConvertPool, WorkerSettings
from workloads.ingest.ingest import IngestOptions, PruneRefused, run_ingest
from workloads.ingest.manifest import BUILDING, Manifest
from workloads.ingest.produce import ChunkProducer
from workloads.ingest.records import chunk_id
from workloads.ingest.search import search
from workloads.ingest.sinks.ogx import AppVectorStoreSink, StoreError

pytestmark = pytest.mark.slow

ALL = ["glacier.pdf", "guides/beekeeping.docx", "guides/sourdough.html", "lighthouse.md"]
Open = Callable[[], AppVectorStoreSink]


def _expected_ids(sink: AppVectorStoreSink) -> set[str]:
    """The chunk ids the manifest says the store holds."""
    return {
        chunk_id(d.doc_hash, i)
        for d in sink.stored_documents().values()
        if d.complete
        for i in range(d.chunk_count or 0)
    }


def test_ingest_four_formats_and_find_the_right_chunk_through_the_apps_search(
    corpus: Path, counting: CountingProducer, open_sink: Open
) -> None:
    sink = open_sink()
    summary = run_ingest(corpus, counting, sink)

    assert sorted(summary.ingested) == ALL
    assert not summary.skipped and not summary.failed
    assert summary.chunks_written == summary.chunks_total == sink.count() > 4
    assert summary.vector_store_id == sink.store_id and summary.generation == 1
    assert all_chunk_ids(sink) == _expected_ids(sink)  # the store holds exactly what the manifest says

    cases = {
        "How often should the fog horn sound?": ("lighthouse.md", "two blasts every minute"),
        "What flour do I feed a sourdough starter with?": ("guides/sourdough.html", "rye flour"),
        "How much honey should bees keep for winter?": ("guides/beekeeping.docx", "twenty kilograms"),
        "How do you haul a climber out of a crevasse?": ("glacier.pdf", "three to one ratio"),
    }
    reader = open_sink()  # another run of the job: it finds the store by name
    assert reader.find() and reader.store_id == sink.store_id
    for question, (source, phrase) in cases.items():
        top = search(question, reader, k=1)[0]
        assert top.source == source, question
        assert phrase in " ".join(top.text.split()), question

    md = rows_of(sink, "lighthouse.md")
    assert {r["title"] for r in md} == {"Lighthouse keeping"}
    assert any("Fog signals" in r["headings"] for r in md)
    assert all(r["page"] is None for r in md)
    assert [r["chunk_index"] for r in md] == list(range(md[0]["chunk_count"]))
    assert {r["pipeline"] for r in md} == {counting.pipeline}
    assert all(r["id"] == chunk_id(r["doc_hash"], r["chunk_index"]) for r in md)
    pdf = rows_of(sink, "glacier.pdf")
    assert {r["title"] for r in pdf} == {"Glacier field notes"}  # from the PDF's metadata
    assert {r["page"] for r in pdf} == {1, 2}  # each chunk carries the page it starts on
    assert next(r for r in pdf if "three to one ratio" in " ".join(r["text"].split()))["page"] == 2
    docx = rows_of(sink, "guides/beekeeping.docx")
    assert any("Winter preparation" in r["headings"] for r in docx)


def test_second_run_changes_nothing_and_embeds_nothing(
    corpus: Path, counting: CountingProducer, open_sink: Open
) -> None:
    first = run_ingest(corpus, counting, open_sink())
    ids_before = all_chunk_ids(open_sink())
    counting.produced.clear()

    second = run_ingest(corpus, counting, open_sink())

    assert counting.produced == []  # nothing converted or embedded
    assert second.ingested == [] and second.chunks_written == 0
    assert sorted(second.unchanged) == ALL
    assert second.chunks_total == first.chunks_total
    assert second.vector_store_id == first.vector_store_id and second.replaced_vector_store_id is None
    assert all_chunk_ids(open_sink()) == ids_before


def test_a_new_document_is_added_in_place(corpus: Path, counting: CountingProducer, open_sink: Open) -> None:
    first = run_ingest(corpus, counting, open_sink())
    (corpus / "notes.md").write_text("# Tide tables\n\nSpring tides come twice a month, at new and full moon.\n")
    counting.produced.clear()

    second = run_ingest(corpus, counting, open_sink())

    assert counting.produced == ["notes.md"] and second.ingested == ["notes.md"]
    assert second.vector_store_id == first.vector_store_id and second.generation == first.generation
    sink = open_sink()
    assert sink.find() and all_chunk_ids(sink) == _expected_ids(sink)
    assert search("When do spring tides happen?", sink, k=1)[0].source == "notes.md"


def test_changed_document_replaces_its_chunks(
    corpus: Path, counting: CountingProducer, open_sink: Open, app: RagApp
) -> None:
    first = run_ingest(corpus, counting, open_sink())
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
    # OGX 1.5 cannot delete chunks: the change went into a new generation of the store, which replaced the old.
    assert summary.generation == 2 and summary.replaced_vector_store_id == first.vector_store_id
    assert summary.vector_store_id != first.vector_store_id
    with pytest.raises(AppError, match=r"404|400"):
        AppClient(AppSettings(app.url, app.api_key)).get_vector_store(first.vector_store_id)
    sink = open_sink()
    assert sink.find() and sink.store_id == summary.vector_store_id
    new = rows_of(sink, "lighthouse.md")
    assert {r["doc_hash"] for r in new} != {r["doc_hash"] for r in old}
    assert len({r["doc_hash"] for r in new}) == 1 and len(new) == new[0]["chunk_count"]
    assert not any("diaphone" in r["text"] for r in new)
    assert all_chunk_ids(sink) == _expected_ids(sink)  # the unchanged documents came along, nothing stale
    assert rows_of(sink, "guides/beekeeping.docx")
    top = search("What turns the lantern on at night?", sink, k=1)[0]
    assert top.source == "lighthouse.md" and "photocell" in top.text
    fog = search("diaphone horn two blasts every minute in fog", sink, k=5)
    assert all("diaphone" not in hit.text for hit in fog)


def test_removed_document_is_pruned_only_when_asked(corpus: Path, counting: CountingProducer, open_sink: Open) -> None:
    first = run_ingest(corpus, counting, open_sink())
    sourdough = len(rows_of(open_sink(), "guides/sourdough.html"))
    (corpus / "guides" / "sourdough.html").unlink()

    kept = run_ingest(corpus, counting, open_sink())
    assert kept.not_in_corpus == ["guides/sourdough.html"] and kept.pruned == []
    assert kept.chunks_total == first.chunks_total and kept.vector_store_id == first.vector_store_id

    pruned = run_ingest(corpus, counting, open_sink(), IngestOptions(prune=True))
    assert pruned.pruned == ["guides/sourdough.html"]
    sink = open_sink()
    assert sink.find() and rows_of(sink, "guides/sourdough.html") == []
    assert pruned.chunks_total == first.chunks_total - sourdough == len(all_chunk_ids(sink))


def test_prune_refuses_an_empty_source_and_a_mostly_empty_one_unless_forced(
    corpus: Path, counting: CountingProducer, open_sink: Open, tmp_path: Path
) -> None:
    first = run_ingest(corpus, counting, open_sink())
    ids = all_chunk_ids(open_sink())
    empty = tmp_path / "empty"
    empty.mkdir()

    with pytest.raises(PruneRefused, match="holds no documents"):
        run_ingest(empty, counting, open_sink(), IngestOptions(prune=True))
    for name in ("glacier.pdf", "guides/beekeeping.docx", "guides/sourdough.html"):
        (corpus / name).unlink()
    with pytest.raises(PruneRefused, match=r"would delete 3 of 4 stored documents .* > --max-prune-fraction 0.5"):
        run_ingest(corpus, counting, open_sink(), IngestOptions(prune=True))
    assert all_chunk_ids(open_sink()) == ids  # nothing was deleted

    allowed = run_ingest(corpus, counting, open_sink(), IngestOptions(prune=True, max_prune_fraction=0.95))
    assert sorted(allowed.pruned) == ["glacier.pdf", "guides/beekeeping.docx", "guides/sourdough.html"]
    forced = run_ingest(empty, counting, open_sink(), IngestOptions(prune=True, force_prune=True))
    assert forced.pruned == ["lighthouse.md"] and forced.chunks_total == 0
    assert all_chunk_ids(open_sink()) == set() and first.chunks_total > 0


def test_identical_files_are_stored_once(corpus: Path, counting: CountingProducer, open_sink: Open) -> None:
    (corpus / "copy-of-lighthouse.md").write_bytes((corpus / "lighthouse.md").read_bytes())
    first = run_ingest(corpus, counting, open_sink())
    assert first.duplicates == [{"source": "lighthouse.md", "same_as": "copy-of-lighthouse.md"}]
    assert rows_of(open_sink(), "lighthouse.md") == []
    counting.produced.clear()
    again = run_ingest(corpus, counting, open_sink())
    assert counting.produced == [] and again.chunks_total == first.chunks_total


def test_changed_chunking_reembeds_and_leaves_no_stale_chunk(
    corpus: Path, producer: ChunkProducer, open_sink: Open
) -> None:
    from workloads.ingest import cli
    from workloads.ingest.produce import ProducerSettings

    small = cli.cached_producer(
        ProducerSettings(producer.settings.embedding_model, chunk_tokens=48, log_level="WARNING")
    )
    assert small.pipeline != producer.pipeline
    many = run_ingest(corpus, small, open_sink())

    # Back to the model's window: fewer chunks per document, so the old tail chunks must go.
    summary = run_ingest(corpus, producer, open_sink())

    assert sorted(summary.ingested) == ALL
    assert summary.chunks_total < many.chunks_total
    sink = open_sink()
    assert sink.find()
    for source in ALL:
        rows = rows_of(sink, source)
        assert len(rows) == rows[0]["chunk_count"], source
    assert summary.chunks_total == sink.count() == summary.chunks_written == len(all_chunk_ids(sink))


def test_bad_files_are_reported_and_the_rest_ingested(
    corpus: Path, counting: CountingProducer, open_sink: Open
) -> None:
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7\n garbage that is no PDF body\n%%EOF\n")
    (corpus / "empty.md").write_bytes(b"")
    (corpus / "notes.txt").write_text("plain text is not a supported format")
    write_pdf(corpus / "locked.pdf", ["Encrypted page."], password="secret")
    (corpus / "guides" / "lighthouse-2.md").write_text((corpus / "lighthouse.md").read_text() + "\nA second edition.\n")
    (corpus / "latin1.html").write_bytes(
        "<html><body><h1>Crème brûlée</h1><p>Le pâtissier caramélise la crème à la flamme, très doucement.</p>"
        "</body></html>".encode("latin-1")
    )

    summary = run_ingest(corpus, counting, open_sink())

    reasons = {s["source"]: s["reason"] for s in summary.skipped}
    assert set(reasons) == {"broken.pdf", "empty.md", "notes.txt", "locked.pdf"}
    assert reasons["empty.md"] == "empty file (0 bytes)"
    assert reasons["locked.pdf"].startswith("encrypted PDF")
    assert sorted(summary.ingested) == sorted([*ALL, "guides/lighthouse-2.md", "latin1.html"])
    assert summary.warnings == [
        {
            "source": "latin1.html",
            "warning": "not UTF-8 and no usable charset declared: decoded as cp1252 (guessed, French); declare "
            "the charset or save the file as UTF-8 to be sure",
        }
    ]
    rows = rows_of(open_sink(), "latin1.html")
    # decoded right: the body in the stored text, the title in the headings (stored text is the clean chunk)
    assert "caramélise la crème" in " ".join(r["text"] for r in rows)
    assert "Crème brûlée" in [h for r in rows for h in r["headings"]]
    assert summary.failed


class _FailingClient(AppClient):
    """The app goes away after `inserts` insert requests (a real client, a real app, then a dead link)."""

    def __init__(self, settings: AppSettings, inserts: int) -> None:
        super().__init__(settings)
        self.inserts = inserts

    def insert_chunks(self, store_id: str, encoded_chunks: list[bytes]) -> None:
        if self.inserts == 0:
            raise AppError("cannot reach the RAG app (simulated)")
        self.inserts -= 1
        super().insert_chunks(store_id, encoded_chunks)


def test_a_run_that_fails_half_way_loses_nothing(
    corpus: Path, counting: CountingProducer, open_sink: Open, app: RagApp, store_name: str
) -> None:
    first = run_ingest(corpus, counting, open_sink())
    before = all_chunk_ids(open_sink())
    # A changed document (a new generation) and a new one; the app goes away after one insert.
    (corpus / "lighthouse.md").write_text("# Lighthouse keeping\n\nThe keeper now reads the weather report aloud.\n")
    write_pdf(corpus / "extra.pdf", ["A new page about harbour cranes and how they lift containers."] * 3)
    broken = AppVectorStoreSink(
        _FailingClient(AppSettings(app.url, app.api_key), inserts=1), store_name, insert_batch=1
    )

    with pytest.raises(AppError, match="simulated"):
        run_ingest(corpus, counting, broken)

    sink = open_sink()
    assert sink.find() and sink.store_id == first.vector_store_id  # the live store was never touched
    assert all_chunk_ids(sink) == before
    assert any("diaphone" in r["text"] for r in rows_of(sink, "lighthouse.md"))
    names = [s.name for s in AppClient(AppSettings(app.url, app.api_key)).list_vector_stores()]
    assert f"{store_name}.building" not in names  # the unfinished generation was removed

    # In place (only a new document): the interrupted write is recorded and the next run completes it.
    (corpus / "lighthouse.md").unlink()
    run_ingest(corpus, counting, open_sink(), IngestOptions(prune=True))
    write_pdf(corpus / "more.pdf", PDF_PARAGRAPHS[::-1], title="Two chunks at least")
    broken = AppVectorStoreSink(
        _FailingClient(AppSettings(app.url, app.api_key), inserts=1), store_name, insert_batch=1
    )
    with pytest.raises(AppError, match="simulated"):
        run_ingest(corpus, counting, broken)
    sink = open_sink()
    assert sink.find() and not sink.stored_documents()["more.pdf"].complete
    done = run_ingest(corpus, counting, open_sink())
    assert "more.pdf" in done.ingested
    sink = open_sink()
    assert sink.find() and all_chunk_ids(sink) == _expected_ids(sink)


def test_leftovers_of_an_interrupted_generation_are_cleaned_up(
    corpus: Path, counting: CountingProducer, open_sink: Open, app: RagApp, store_name: str
) -> None:
    first = run_ingest(corpus, counting, open_sink())
    client = AppClient(AppSettings(app.url, app.api_key))
    leftover = client.create_vector_store(
        f"{store_name}.building", Manifest(store_name, role=BUILDING, generation=2).to_metadata({}), None, None
    )

    again = run_ingest(corpus, counting, open_sink())

    assert again.vector_store_id == first.vector_store_id
    assert leftover.id not in {s.id for s in client.list_vector_stores()}


def test_a_store_the_job_did_not_make_is_refused(
    corpus: Path, counting: CountingProducer, app: RagApp, store_name: str
) -> None:
    client = AppClient(AppSettings(app.url, app.api_key))
    client.create_vector_store(store_name, {"owner": "someone else"}, None, None)
    sink = AppVectorStoreSink(AppClient(AppSettings(app.url, app.api_key)), store_name)
    with pytest.raises(StoreError, match="exists but was not made by the ingest job"):
        run_ingest(corpus, counting, sink)


def test_another_embedding_model_than_the_apps_is_refused(
    corpus: Path, counting: CountingProducer, app: RagApp, store_name: str
) -> None:
    run_ingest(corpus, counting, AppVectorStoreSink(AppClient(AppSettings(app.url, app.api_key)), store_name))
    other = AppVectorStoreSink(
        AppClient(AppSettings(app.url, app.api_key)), store_name, app_embedding_model="embeddings/bge-small"
    )
    with pytest.raises(StoreError, match="queries and chunks must use the same model"):
        run_ingest(corpus, counting, other)


def test_a_slow_file_is_stopped_at_the_time_limit_and_progress_is_shown(
    tmp_path: Path, producer: ChunkProducer, caplog: pytest.LogCaptureFixture
) -> None:
    big = tmp_path / "big.md"
    big.write_text("# Big\n" + "".join(f"\n## Part {i}\n\n" + "word " * 400 + "\n" for i in range(600)))
    small = tmp_path / "small.md"
    small.write_text("# Small\n\nA small document that converts at once, with enough words to make a chunk.\n")
    info = producer.info
    pool = ConvertPool(WorkerSettings(str(info.location), producer.tokens, None, "WARNING"), heartbeat_s=0.5)
    jobs = [ConvertJob("big.md", str(big), big.stat().st_size, "h1"), ConvertJob("small.md", str(small), 10, "h2")]
    try:
        with caplog.at_level(logging.INFO, logger="workloads.ingest.convert_worker"):
            pool.start()
            results = {r.job.source: r for r in pool.run(jobs, time_limit_s=4.0)}
    finally:
        pool.close()
    assert results["big.md"].error is not None and results["big.md"].error.startswith("took longer than 4 s")
    assert results["small.md"].error is None and results["small.md"].chunks  # the next file still converts
    assert any("still converting big.md" in r.getMessage() for r in caplog.records)
