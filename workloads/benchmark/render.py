"""A tiny document model rendered to Markdown and to self-contained HTML (images embedded)."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass
class Image:
    path: Path
    """Relative to the document's directory."""
    alt: str


@dataclass
class Links:
    items: list[tuple[str, str]]
    """(text, target relative to the document's directory or an absolute URL)."""


Block = str | Table | Image | Links


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    title: str
    banner: str | None = None
    """Shown first and highlighted (e.g. partial results)."""
    sections: list[Section] = field(default_factory=list)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(doc: Document) -> str:
    out = [f"# {doc.title}", ""]
    if doc.banner:
        out += [f"> **{doc.banner}**", ""]
    for section in doc.sections:
        out += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, Table):
                out.append("| " + " | ".join(_md_cell(h) for h in block.header) + " |")
                out.append("|" + "---|" * len(block.header))
                out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
            elif isinstance(block, Image):
                out.append(f"![{block.alt}]({block.path.as_posix()})")
            elif isinstance(block, Links):
                out += [f"- [{_md_cell(text)}]({target})" for text, target in block.items]
            else:
                out.append(block)
            out.append("")
    return "\n".join(out)


_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f3f3f3}
.banner{background:#fff3cd;border:1px solid #e0b400;padding:.8em;font-weight:bold}
img{max-width:100%}
"""


def to_html(doc: Document, base_dir: Path) -> str:
    esc = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(doc.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{esc(doc.title)}</h1>",
    ]
    if doc.banner:
        out.append(f'<p class="banner">{esc(doc.banner)}</p>')
    for section in doc.sections:
        out.append(f"<h2>{esc(section.title)}</h2>")
        for block in section.blocks:
            if isinstance(block, Table):
                out.append(
                    "<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in block.header) + "</tr></thead><tbody>"
                )
                out += ["<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in block.rows]
                out.append("</tbody></table>")
            elif isinstance(block, Image):
                data = base64.b64encode((base_dir / block.path).read_bytes()).decode("ascii")
                out.append(f'<p><img alt="{esc(block.alt)}" src="data:image/png;base64,{data}"></p>')
            elif isinstance(block, Links):
                items = "".join(f'<li><a href="{esc(target)}">{esc(text)}</a></li>' for text, target in block.items)
                out.append(f"<ul>{items}</ul>")
            else:
                out.append(f"<p>{esc(block)}</p>")
    out.append("</body></html>")
    return "\n".join(out)


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` in one step, so a kill mid-write never leaves a truncated report."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def fmt(value: float | None, digits: int = 1) -> str:
    """A number for a table cell; '-' when unknown."""
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"
