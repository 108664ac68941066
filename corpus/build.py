"""Build the DOCX, PDF and PPTX files of the sample corpus from the real texts in corpus/src/.

The texts are project READMEs (PyPI long descriptions, see LICENSES.md). This script renders them
into other formats so that ingest is exercised on every format Docling reads; the outputs are
committed, so the demo and the tests need none of these converters.

    .venvs/ingest/bin/python corpus/build.py        # rewrites corpus/docs/*.{docx,pdf,pptx}

Needs reportlab, python-docx and python-pptx (workloads/ingest/requirements-test.txt). The output
is byte-for-byte reproducible (fixed dates), so an unchanged build does not trigger a re-ingest.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
DOCS = HERE / "docs"
FIXED_DATE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)

# source text -> (output format, document title)
TARGETS: dict[str, tuple[str, str]] = {
    "llm-compressor.md": ("docx", "LLM Compressor"),
    "redis-py.md": ("docx", "redis-py"),
    "guidellm.md": ("pdf", "GuideLLM"),
    "pulumi-kubernetes.md": ("pdf", "Pulumi Kubernetes Resource Provider"),
    "pymilvus.md": ("pptx", "Milvus Python SDK"),
    "docling-core.md": ("pptx", "Docling Core"),
}


# ---------------------------------------------------------------- a small Markdown reader


@dataclass
class Block:
    kind: str  # heading | para | bullet | code | table
    text: str = ""
    level: int = 0
    rows: list[list[str]] = field(default_factory=list)


_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_TAG = re.compile(r"<[^>]+>")
_COMMENT = re.compile(r"<!--.*?-->", re.S)


def clean_inline(text: str) -> str:
    """Plain text of a Markdown line: no images, badges, link targets, tags or emphasis markers."""
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _TAG.sub("", text)
    text = html.unescape(text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", text)
    text = text.replace("`", "")
    return re.sub(r"[ \t]+", " ", text).strip()


def parse_markdown(source: str) -> list[Block]:
    source = _COMMENT.sub("", source)
    blocks: list[Block] = []
    para: list[str] = []
    lines = source.splitlines()

    def flush() -> None:
        text = clean_inline(" ".join(para))
        if text:
            blocks.append(Block("para", text))
        para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            code: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                code.append(lines[i])
                i += 1
            blocks.append(Block("code", "\n".join(code).rstrip()))
        elif m := re.match(r"^(#{1,6})\s+(.*)$", stripped):
            flush()
            text = clean_inline(m.group(2))
            if text:
                blocks.append(Block("heading", text, level=len(m.group(1))))
        elif stripped.startswith("|"):
            flush()
            rows: list[list[str]] = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                cells = [clean_inline(c) for c in lines[i].strip().strip("|").split("|")]
                if not all(re.fullmatch(r":?-{2,}:?", c.replace(" ", "")) for c in cells):
                    rows.append(cells)
                i += 1
            blocks.append(Block("table", rows=rows))
            continue
        elif m := re.match(r"^(\s*)([-*+]|\d+[.)])\s+(.*)$", line):
            flush()
            text = clean_inline(m.group(3))
            if text:
                blocks.append(Block("bullet", text, level=len(m.group(1)) // 2))
        elif not stripped or stripped == "---":
            flush()
        else:
            para.append(stripped)
        i += 1
    flush()
    # Start at level 1: a document whose first heading is "##" would otherwise have its sections
    # nested under whatever precedes them (Docling attaches a level-2 heading to an open list).
    top = min((b.level for b in blocks if b.kind == "heading"), default=1)
    for b in blocks:
        if b.kind == "heading":
            b.level -= top - 1
    return blocks


# ---------------------------------------------------------------- writers


def _fix_zip_dates(path: Path) -> None:
    """Rewrite a DOCX/PPTX zip with fixed timestamps so the bytes do not change between builds."""
    with zipfile.ZipFile(path) as zin:
        entries = [(info.filename, zin.read(info.filename)) for info in zin.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in entries:
            zout.writestr(zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)


def write_docx(blocks: list[Block], title: str, out: Path) -> None:
    import docx
    from docx.shared import Pt

    document = docx.Document()
    props = document.core_properties
    props.title, props.author = title, "corpus/build.py"
    props.created = props.modified = props.last_printed = FIXED_DATE.replace(tzinfo=None)
    document.add_heading(title, level=0)
    for block in blocks:
        if block.kind == "heading":
            document.add_heading(block.text, level=min(block.level, 4))
        elif block.kind == "para":
            document.add_paragraph(block.text)
        elif block.kind == "bullet":
            style = "List Bullet" if block.level == 0 else "List Bullet 2"
            document.add_paragraph(block.text, style=style)
        elif block.kind == "code":
            run = document.add_paragraph().add_run(block.text)
            run.font.name, run.font.size = "Courier New", Pt(8)
        elif block.kind == "table" and block.rows:
            width = max(len(r) for r in block.rows)
            table = document.add_table(rows=len(block.rows), cols=width)
            table.style = "Table Grid"
            for r, row in enumerate(block.rows):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
    document.save(str(out))
    _fix_zip_dates(out)


def _pdf_text(text: str) -> str:
    """Escape for reportlab's paragraph markup; drop characters the standard fonts cannot draw."""
    text = text.encode("cp1252", "ignore").decode("cp1252")
    return html.escape(text, quote=False)


def write_pdf(blocks: list[Block], title: str, out: Path) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, Preformatted, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    story: list = [Paragraph(_pdf_text(title), styles["Title"])]
    for block in blocks:
        if block.kind == "heading":
            story.append(Paragraph(_pdf_text(block.text), styles[f"Heading{min(block.level, 3)}"]))
        elif block.kind == "para":
            story.append(Paragraph(_pdf_text(block.text), styles["BodyText"]))
        elif block.kind == "bullet":
            indent = 12 + 12 * block.level
            story.append(Paragraph(_pdf_text(block.text), styles["BodyText"], bulletText="-"))
            story[-1].style = story[-1].style.clone("b", leftIndent=indent, bulletIndent=indent - 10)
        elif block.kind == "code":
            code = block.text.encode("cp1252", "ignore").decode("cp1252")
            story.append(Preformatted(code, styles["Code"], maxLineLength=95))
        elif block.kind == "table" and block.rows:
            cell = styles["BodyText"].clone("cell", fontSize=6, leading=7)
            data = [[Paragraph(_pdf_text(c), cell) for c in row] for row in block.rows]
            table = Table(data, repeatRows=1)
            table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey)]))
            story += [table, Spacer(1, 6)]
    doc = SimpleDocTemplate(str(out), pagesize=A4, title=title, author="corpus/build.py", invariant=1)
    doc.build(story)


def _slides(blocks: list[Block], max_lines: int = 9) -> Iterator[tuple[str, list[tuple[int, str]]]]:
    """Group blocks into slides: one per level-1/2 heading, split when a slide gets too long."""
    title, lines = "", []
    for block in blocks:
        if block.kind == "heading" and block.level <= 2:
            if lines or title:
                yield title, lines
            title, lines = block.text, []
            continue
        if block.kind == "heading":
            lines.append((0, block.text))
        elif block.kind in ("para", "bullet"):
            lines.append((min(block.level + (block.kind == "bullet"), 2), block.text))
        elif block.kind == "code":
            lines += [(1, ln) for ln in block.text.splitlines() if ln.strip()]
        elif block.kind == "table":
            lines += [(1, "; ".join(c for c in row if c)) for row in block.rows]
        if len(lines) >= max_lines:
            yield title, lines
            lines = []
    if lines or title:
        yield title, lines


def write_pptx(blocks: list[Block], title: str, out: Path) -> None:
    from pptx import Presentation
    from pptx.util import Pt

    deck = Presentation()
    props = deck.core_properties
    props.title, props.author = title, "corpus/build.py"
    props.created = props.modified = props.last_printed = FIXED_DATE.replace(tzinfo=None)
    cover = deck.slides.add_slide(deck.slide_layouts[0])
    cover.shapes.title.text = title
    cover.placeholders[1].text = "Generated from the project's README (see corpus/LICENSES.md)"
    for slide_title, lines in _slides(blocks):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = slide_title or title
        frame = slide.placeholders[1].text_frame
        for n, (level, text) in enumerate(lines):
            paragraph = frame.paragraphs[0] if n == 0 else frame.add_paragraph()
            paragraph.text, paragraph.level = text, level
            for run in paragraph.runs:
                run.font.size = Pt(12)
    deck.save(str(out))
    _fix_zip_dates(out)


WRITERS = {"docx": write_docx, "pdf": write_pdf, "pptx": write_pptx}


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    for name, (fmt, title) in TARGETS.items():
        blocks = parse_markdown((SRC / name).read_text(encoding="utf-8"))
        out = DOCS / f"{Path(name).stem}.{fmt}"
        WRITERS[fmt](blocks, title, out)
        print(f"wrote {out.relative_to(HERE.parent)} ({out.stat().st_size // 1024} KiB, {len(blocks)} blocks)")


if __name__ == "__main__":
    main()
