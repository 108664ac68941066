"""Fast tests of the pieces around the pipeline: file checks, hashing, settings, metrics, summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.workloads.ingest.ingest_docs import write_markdown, write_pdf
from workloads.ingest.convert import BadDocument, check_file, detect_pdf_mode, has_pdf_models
from workloads.ingest.discover import SourceFile, content_hash, discover
from workloads.ingest.evaluate import Evaluation, Question, QuestionResult, answers, load_questions
from workloads.ingest.records import SearchHit, StoredDocument, chunk_id
from workloads.ingest.sinks.milvus import MilvusSettings
from workloads.ingest.summary import Summary


def _file(path: Path, root: Path) -> SourceFile:
    return SourceFile(path=path, source=path.relative_to(root).as_posix(), size=path.stat().st_size)


# --------------------------------------------------------------------- discovery and hashing


def test_discover_lists_files_by_relative_path_and_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "b" / "z.md").write_text("z")
    (tmp_path / "a.md").write_text("a")
    (tmp_path / ".hidden.md").write_text("h")
    (tmp_path / ".git" / "config").write_text("c")
    assert [f.source for f in discover(tmp_path)] == ["a.md", "b/z.md"]


def test_discover_rejects_missing_root(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        discover(tmp_path / "nope")


def test_content_hash_follows_bytes_not_name(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.md", tmp_path / "b.md", tmp_path / "c.md"
    a.write_text("same text")
    b.write_text("same text")
    c.write_text("other text")
    assert content_hash(a) == content_hash(b) != content_hash(c)
    assert len(content_hash(a)) == 64


def test_chunk_ids_are_deterministic_and_ordered() -> None:
    assert chunk_id("ab" * 32, 7) == "ab" * 32 + ":00007"
    assert chunk_id("ab" * 32, 7) == chunk_id("ab" * 32, 7)
    assert chunk_id("ab" * 32, 2) < chunk_id("ab" * 32, 10)


def test_stored_document_is_current_only_when_complete_and_alone() -> None:
    doc = StoredDocument("a.md")
    for _ in range(3):
        doc.add_row("h1", "p1", chunk_count=3)
    assert doc.is_current("h1", "p1")
    assert not doc.is_current("h2", "p1")  # content changed
    assert not doc.is_current("h1", "p2")  # model or chunking changed
    partial = StoredDocument("b.md")
    partial.add_row("h1", "p1", chunk_count=3)
    assert not partial.is_current("h1", "p1")  # an interrupted write left it incomplete
    mixed = StoredDocument("c.md")
    mixed.add_row("h1", "p1", chunk_count=1)
    mixed.add_row("h0", "p1", chunk_count=1)
    assert not mixed.is_current("h1", "p1")  # stale chunks of an older version remain


# --------------------------------------------------------------------- bad files


def test_check_file_reasons(tmp_path: Path) -> None:
    (tmp_path / "empty.md").write_bytes(b"")
    (tmp_path / "blank.html").write_text("  \n\t ")
    (tmp_path / "notes.txt").write_text("plain text")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7\n this is not a real pdf body \n%%EOF")
    (tmp_path / "fake.pdf").write_text("<html>not a pdf</html>")
    (tmp_path / "locked.docx").write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 512)
    (tmp_path / "broken.pptx").write_bytes(b"PK\x03\x04 truncated zip")
    write_pdf(tmp_path / "secret.pdf", ["Top secret text."], password="hunter2")
    write_markdown(tmp_path / "good.md")
    write_pdf(tmp_path / "good.pdf", ["A readable page."])

    def reason(name: str) -> str:
        with pytest.raises(BadDocument) as err:
            check_file(_file(tmp_path / name, tmp_path))
        return str(err.value)

    assert reason("empty.md") == "empty file (0 bytes)"
    assert reason("blank.html") == "empty file (only whitespace)"
    assert "unsupported extension '.txt'" in reason("notes.txt")
    assert reason("broken.pdf").startswith("corrupt PDF:")
    assert "no %PDF- header" in reason("fake.pdf")
    assert reason("locked.docx").startswith("password-protected (encrypted)")
    assert reason("broken.pptx").startswith("corrupt .pptx")
    assert reason("secret.pdf").startswith("encrypted PDF")
    check_file(_file(tmp_path / "good.md", tmp_path))
    check_file(_file(tmp_path / "good.pdf", tmp_path))


# --------------------------------------------------------------------- PDF model detection


def _fake_models(folder: Path) -> Path:
    from workloads.ingest.convert import _TABLE_MODEL_FOLDER, _layout_folder

    for name in (_layout_folder(), _TABLE_MODEL_FOLDER):
        (folder / name).mkdir(parents=True)
        (folder / name / "model.safetensors").write_bytes(b"weights")
    return folder


def test_pdf_models_detected_from_env_or_fall_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("workloads.ingest.convert.DEFAULT_ARTIFACTS", tmp_path / "default")
    monkeypatch.setenv("DOCLING_ARTIFACTS_PATH", str(tmp_path / "empty"))
    assert detect_pdf_mode(None).native

    models = _fake_models(tmp_path / "models")
    assert has_pdf_models(models)
    monkeypatch.setenv("DOCLING_ARTIFACTS_PATH", str(models))
    mode = detect_pdf_mode(None)
    assert not mode.native and mode.artifacts == models


def test_explicit_artifacts_without_models_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="docling-tools models download -o"):
        detect_pdf_mode(tmp_path)


# --------------------------------------------------------------------- Milvus settings


def test_milvus_credentials_come_from_env_and_are_never_shown() -> None:
    env = {"MILVUS_USER": "ingest", "MILVUS_PASSWORD": "s3cr3t-pw"}
    settings = MilvusSettings.from_env("http://milvus:19530", "rag_chunks", environ=env)
    assert (settings.user, settings.password) == ("ingest", "s3cr3t-pw")
    assert "s3cr3t-pw" not in repr(settings)
    token = MilvusSettings.from_env("https://u:pw@host:19530", "c", environ={"MILVUS_TOKEN": "tok-123"})
    assert "tok-123" not in repr(token)
    assert token.redacted_uri() == "https://***@host:19530"
    assert not token.is_lite


def test_milvus_token_comes_from_a_mounted_secret_file(tmp_path: Path) -> None:
    # the cluster Job mounts the token's Secret as a file and names it in MILVUS_TOKEN_FILE (no secret env var)
    (tmp_path / "token").write_text("root:file-token\n")
    env = {"MILVUS_TOKEN_FILE": str(tmp_path / "token")}
    settings = MilvusSettings.from_env("http://milvus:19530", "c", environ=env)
    assert settings.token == "root:file-token" and "file-token" not in repr(settings)
    with pytest.raises(SystemExit, match=r"MILVUS_TOKEN_FILE .*missing: cannot be read"):
        MilvusSettings.from_env("http://milvus:19530", "c", environ={"MILVUS_TOKEN_FILE": str(tmp_path / "missing")})


@pytest.mark.parametrize(
    ("uri", "collection", "env", "message"),
    [
        ("store/milvus", "c", {}, "must end in .db"),
        ("x.db", "1bad-name", {}, "--collection"),
        ("http://m:19530", "c", {"MILVUS_USER": "u"}, "must be set together"),
        ("http://m:19530", "c", {"MILVUS_TOKEN": "t", "MILVUS_USER": "u", "MILVUS_PASSWORD": "p"}, "not both"),
    ],
)
def test_milvus_settings_errors_name_the_fix(uri: str, collection: str, env: dict, message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        MilvusSettings.from_env(uri, collection, environ=env)


# --------------------------------------------------------------------- evaluation


def _hit(rank: int, source: str, text: str, headings: tuple[str, ...] = ()) -> SearchHit:
    return SearchHit(rank, 0.5, source, "t", text, headings, None, f"id{rank}")


def test_answers_needs_source_and_phrase_or_heading() -> None:
    q = Question("q?", "a.md", phrase="Fresnel  LENS")
    assert answers(_hit(1, "a.md", "polished the fresnel\nlens daily"), q)
    assert not answers(_hit(1, "b.md", "polished the fresnel lens"), q)
    assert not answers(_hit(1, "a.md", "trimmed the wick"), q)
    qh = Question("q?", "a.md", heading="Fog signals")
    assert answers(_hit(1, "a.md", "horn", ("Lighthouse", "Fog signals ¶")), qh)
    assert answers(_hit(1, "a.md", "anything"), Question("q?", "a.md"))


def test_recall_and_mrr() -> None:
    results = [
        QuestionResult("q1", "a", 1, []),
        QuestionResult("q2", "a", 2, []),
        QuestionResult("q3", "a", None, []),
        QuestionResult("q4", "a", 4, []),
    ]
    ev = Evaluation(k=5, results=results)
    assert ev.recall == pytest.approx(0.75)
    assert ev.mrr == pytest.approx((1 + 0.5 + 0.25) / 4)
    assert ev.to_dict()["recall@5"] == 0.75


def test_load_questions_reports_every_problem(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("x")
    path = tmp_path / "q.yaml"
    path.write_text(
        "questions:\n"
        "  - {question: 'ok?', source: a.md, phrase: x}\n"
        "  - {question: 'missing source file?', source: b.md}\n"
        "  - {question: 'typo?', source: a.md, phrse: x}\n"
        "  - {source: a.md}\n"
    )
    with pytest.raises(SystemExit) as err:
        load_questions(path, tmp_path / "docs")
    text = str(err.value)
    assert "question 2" in text and "'b.md' is not a file" in text
    assert "question 3" in text and "unknown keys ['phrse']" in text
    assert "question 4" in text and "required" in text
    assert "question 1" not in text


def test_sample_question_set_is_valid() -> None:
    root = Path(__file__).resolve().parents[3]
    questions = load_questions(root / "corpus" / "questions.yaml", root / "corpus" / "docs")
    assert len(questions) >= 20
    assert len({q.source for q in questions}) >= 8


# --------------------------------------------------------------------- summary


def test_summary_json_and_text(tmp_path: Path) -> None:
    summary = Summary(corpus="c", sink="s", pdf_pipeline="native", documents=3)
    summary.ingested.append("a.md")
    summary.unchanged.append("b.md")
    summary.skip("c.pdf", "encrypted PDF")
    summary.chunks_written = 4
    summary.write_json(tmp_path / "out" / "summary.json")
    data = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert data["failed"] is True
    assert data["skipped"] == [{"source": "c.pdf", "reason": "encrypted PDF"}]
    assert data["unchanged"] == ["b.md"] and data["chunks_written"] == 4
    text = summary.render()
    assert "c.pdf: encrypted PDF" in text and "FAILED" in text
