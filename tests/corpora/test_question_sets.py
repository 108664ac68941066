"""The labelled question sets of both corpora: well formed, and every phrase really in its document.

The phrase check reads the documents themselves (HTML and Markdown as text; DOCX and PPTX from their
XML; the generated PDFs from the Markdown they were rendered from, see corpus/LICENSES.md), so a label
that names the wrong document or a phrase the document lacks fails here, without ingesting anything.
Whether the phrase also lands inside one chunk is measured by the ingest evaluation.
"""

from __future__ import annotations

import html
import importlib.util
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "corpus"
POSTGRES = ROOT / "corpora" / "postgresql"
SETS = {
    "bundled": (BUNDLED / "questions.yaml", BUNDLED / "docs"),
    "postgresql": (POSTGRES / "questions.yaml", POSTGRES / "docs"),
}
KEYS = {"question", "source", "sources", "phrase", "heading"}

_TAG = re.compile(r"<[^>]+>")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


def _norm(text: str) -> str:
    return " ".join(text.replace("¶", " ").split()).casefold()


def document_text(path: Path) -> str:
    """The plain text of a corpus document, normalised like the evaluation does (case, whitespace)."""
    suffix = path.suffix.lower()
    if suffix in {".html", ".md"}:
        raw = path.read_text(encoding="utf-8")
        text = html.unescape(_TAG.sub(" ", raw)) if suffix == ".html" else raw
    elif suffix in {".docx", ".pptx"}:
        with zipfile.ZipFile(path) as z:
            parts = sorted(n for n in z.namelist() if re.fullmatch(r"(word/document|ppt/slides/slide\d+)\.xml", n))
            # runs of one paragraph sit in separate tags: join them without a space, paragraphs with one
            xml = " ".join(z.read(n).decode("utf-8") for n in parts)
        text = html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"</(w|a):p>", " ", xml)))
    elif suffix == ".pdf":
        source = BUNDLED / "src" / (path.stem + ".md")  # the generated PDFs are rendered from these texts
        text = _MD_LINK.sub(r"\1", source.read_text(encoding="utf-8"))
    else:
        raise AssertionError(f"{path}: no text reader for {suffix}")
    return _norm(re.sub(r"[*`]", "", text) if suffix in {".md", ".pdf"} else text)


def load(name: str) -> tuple[list[dict], Path]:
    path, docs = SETS[name]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data["questions"], docs


def sources(item: dict) -> list[str]:
    return list(item["sources"]) if "sources" in item else [item["source"]]


@pytest.mark.parametrize("name", sorted(SETS))
def test_questions_are_well_formed(name: str) -> None:
    items, docs = load(name)
    problems = []
    for n, item in enumerate(items, start=1):
        where = f"{name} question {n}"
        if set(item) - KEYS:
            problems.append(f"{where}: unknown keys {sorted(set(item) - KEYS)}")
        if not isinstance(item.get("question"), str) or not item["question"].strip():
            problems.append(f"{where}: no question text")
        if ("source" in item) == ("sources" in item):
            problems.append(f"{where}: give exactly one of source / sources")
            continue
        if "sources" in item:
            if not isinstance(item["sources"], list) or len(item["sources"]) < 2:
                problems.append(f"{where}: sources must list two or more documents (else use source)")
            elif len(set(item["sources"])) != len(item["sources"]):
                problems.append(f"{where}: sources repeats a document")
            if "phrase" in item or "heading" in item:
                problems.append(f"{where}: phrase/heading apply to a single source only")
        problems += [f"{where}: {s!r} is not a file in {docs}" for s in sources(item) if not (docs / s).is_file()]
    assert not problems, "\n".join(problems)
    questions = [_norm(i["question"]) for i in items]
    assert len(questions) == len(set(questions)), "a question is asked twice"


@pytest.mark.parametrize("name", sorted(SETS))
def test_every_phrase_is_in_its_document(name: str) -> None:
    items, docs = load(name)
    texts = {p.name: document_text(p) for p in docs.iterdir()}
    missing = [
        f"{item['source']}: {item['phrase']!r}"
        for item in items
        if "phrase" in item and _norm(item["phrase"]) not in texts[item["source"]]
    ]
    assert not missing, "phrases not found in their documents:\n" + "\n".join(missing)
    headings = [
        f"{item['source']}: {item['heading']!r}"
        for item in items
        if "heading" in item and _norm(item["heading"]) not in texts[item["source"]]
    ]
    assert not headings, "headings not found in their documents:\n" + "\n".join(headings)


def test_phrase_check_rejects_a_wrong_label() -> None:
    """The check above can fail: a phrase of one page is not found in a similar page."""
    right = document_text(POSTGRES / "docs" / "app-pg-dumpall.html")
    wrong = document_text(POSTGRES / "docs" / "app-pgdump.html")
    phrase = _norm("Dump only global objects (roles and tablespaces), no databases")
    assert phrase in right
    assert phrase not in wrong


def test_sets_cover_the_issue_minimum() -> None:
    """Issue 15: at least 100 questions over at least 30 documents in all; 30+ on the bundled corpus."""
    counts = {name: load(name)[0] for name in SETS}
    answered = {(name, s) for name, items in counts.items() for item in items for s in sources(item)}
    assert len(counts["bundled"]) >= 30
    assert sum(len(items) for items in counts.values()) >= 100
    assert len(answered) >= 30
    # every page of the PostgreSQL corpus answers at least one question: no unused filler documents
    pages = {p.name for p in (POSTGRES / "docs").iterdir()}
    assert pages == {s for name, s in answered if name == "postgresql"}


@pytest.mark.slow
def test_postgresql_docs_are_unchanged_copies_of_the_pinned_package() -> None:
    """build.py --check downloads postgresql-doc-15 (pinned) and compares every page byte for byte."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        pytest.skip("needs Debian's apt-get and dpkg-deb")
    spec = importlib.util.spec_from_file_location("corpora_postgresql_build", POSTGRES / "build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    policy = subprocess.run(["apt-cache", "policy", build.PACKAGE], capture_output=True, text=True).stdout
    if build.VERSION not in policy:
        pytest.skip(f"{build.PACKAGE} {build.VERSION} is not in this machine's apt lists (run apt-get update)")
    done = subprocess.run(
        [sys.executable, str(POSTGRES / "build.py"), "--check"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "48 pages" in done.stdout
