"""Sample documents and helpers for the ingest tests (written here, so every format is real)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workloads.ingest.convert_worker import ConvertJob
from workloads.ingest.produce import ChunkProducer, Produced
from workloads.ingest.sinks.ogx import HEADING_SEPARATOR, AppVectorStoreSink

# --------------------------------------------------------------------- documents


def write_markdown(path: Path) -> Path:
    path.write_text(
        "# Lighthouse keeping\n\n"
        "A short guide to the old trade of keeping coastal lights.\n\n"
        "## Lamp maintenance\n\n"
        "The keeper trimmed the wick every evening and polished the Fresnel lens so the beam "
        "reached ships twenty nautical miles away.\n\n"
        "## Fog signals\n\n"
        "When fog rolled in, the keeper started the diaphone horn, which sounded two blasts every "
        "minute until visibility returned.\n",
        encoding="utf-8",
    )
    return path


def write_html(path: Path) -> Path:
    path.write_text(
        "<!DOCTYPE html><html><head><title>Sourdough baking</title></head><body>"
        "<h1>Sourdough baking</h1>"
        "<h2>Feeding the starter</h2>"
        "<p>Feed the starter with equal weights of rye flour and water, then leave it at room "
        "temperature until it doubles in volume.</p>"
        "<h2>Shaping the loaf</h2>"
        "<p>Pre-shape the dough into a loose round, rest it for twenty minutes on the bench, then "
        "tighten the surface with a bench scraper.</p>"
        "</body></html>",
        encoding="utf-8",
    )
    return path


def write_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Beekeeping basics", level=1)
    document.add_heading("Hive inspection", level=2)
    document.add_paragraph(
        "Inspect the hive every nine days in spring: look for queen cells, capped brood and "
        "enough stored honey, and use the smoker sparingly to keep the colony calm."
    )
    document.add_heading("Winter preparation", level=2)
    document.add_paragraph(
        "Before winter, reduce the entrance, remove the queen excluder and leave at least twenty "
        "kilograms of honey for the bees."
    )
    document.save(str(path))
    return path


def write_pdf(path: Path, paragraphs: list[str], title: str = "Test PDF", password: str | None = None) -> Path:
    """A text PDF with one page per paragraph (reportlab); encrypted when a password is given."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.utils import simpleSplit
    from reportlab.pdfgen import canvas

    style = getSampleStyleSheet()["BodyText"]
    pdf = canvas.Canvas(str(path), pagesize=A4, encrypt=password)
    pdf.setTitle(title)
    for text in paragraphs:
        y = 780
        for line in simpleSplit(text, style.fontName, 11, 460):
            pdf.setFont(style.fontName, 11)
            pdf.drawString(60, y, line)
            y -= 15
        pdf.showPage()
    pdf.save()
    return path


PDF_PARAGRAPHS = [
    # Page 1 (~230 tokens) is long enough that page 2 (~85) cannot join it in one 256-token chunk.
    "Glacier field notes. The expedition set up its base camp on a moraine below the ice fall, "
    "where the tents were anchored with snow stakes and the kitchen was dug into a wind-sheltered "
    "pit. Each morning the team checked the weather radio, measured the snow temperature and "
    "recorded how far the glacier had moved along a line of bamboo markers. Porters carried fuel, "
    "food and rope up from the valley every third day, and the doctor kept a log of each member's "
    "pulse and oxygen saturation to catch altitude sickness early. In the afternoons the team "
    "practised self-arrest with ice axes on a slope above camp, roped up in teams of three, and "
    "repaired crampons and harnesses worn by the rough ice. Evenings were spent melting snow for "
    "drinking water, drying boots beside the stove and planning the next day's route on a "
    "hand-drawn map, marking seracs, open crevasses and the safest line through the broken ice "
    "near the headwall, where avalanches were most likely after a warm afternoon.",
    "Rescue practice. On the second week the guides taught the group how to build snow anchors, "
    "how to keep the rope tight while crossing snow bridges, and how to signal with whistles when "
    "the wind drowned out voices. Crevasse rescue requires a pulley system: anchor two ice screws, "
    "clip a prusik to the rope and haul in a three to one ratio until the climber reaches the lip "
    "of the crevasse.",
]


class CountingProducer:
    """Wraps the producer and records which files it was asked to convert and embed."""

    def __init__(self, inner: ChunkProducer) -> None:
        self.inner = inner
        self.produced: list[str] = []
        self.pipeline = inner.pipeline

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def model_identity(self) -> str:
        return self.inner.model_identity

    def describe_pdf(self) -> str:
        return self.inner.describe_pdf()

    def produce(self, jobs: list[ConvertJob]) -> Iterator[Produced]:
        self.produced += [job.source for job in jobs]
        return self.inner.produce(jobs)


def rows_of(sink: AppVectorStoreSink, source: str) -> list[dict[str, Any]]:
    """Every chunk the app's store holds for a source path, read through the app (vector-io query)."""
    assert sink.live is not None or sink.find()
    assert sink.live is not None
    chunks = sink.client.query_chunks(sink.live.id, {"type": "eq", "key": "source", "value": source}, 5000)
    rows = []
    for c in chunks:
        meta = c["metadata"]
        headings = str(meta.get("headings") or "")
        rows.append(
            {
                "id": c["chunk_id"],
                "text": c["content"],
                "source": meta["source"],
                "title": meta["title"],
                "headings": headings.split(HEADING_SEPARATOR) if headings else [],
                "page": meta.get("page"),
                "chunk_index": int(meta["chunk_index"]),
                "chunk_count": int(meta["chunk_count"]),
                "doc_hash": meta["doc_hash"],
                "pipeline": meta["pipeline"],
            }
        )
    return sorted(rows, key=lambda r: r["chunk_index"])


def all_chunk_ids(sink: AppVectorStoreSink) -> set[str]:
    """Every chunk id in the store, whatever the manifest says (a filter every chunk passes)."""
    assert sink.live is not None or sink.find()
    assert sink.live is not None
    chunks = sink.client.query_chunks(sink.live.id, {"type": "gte", "key": "chunk_index", "value": 0}, 16000)
    return {c["chunk_id"] for c in chunks}
