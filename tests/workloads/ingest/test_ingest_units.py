"""Fast tests of the pieces around the pipeline: discovery, file checks, charsets, settings, manifest, metrics."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.workloads.ingest.ingest_docs import write_markdown, write_pdf
from workloads.ingest import cli
from workloads.ingest.app_client import AppClient, AppError, AppSettings
from workloads.ingest.convert import (
    LAYOUT_MODEL_FOLDER,
    TABLE_MODEL_FOLDER,
    BadDocument,
    PdfModelsMissing,
    check_file,
    decode_text,
    detect_pdf_mode,
    has_pdf_models,
)
from workloads.ingest.discover import CorpusError, SourceFile, content_hash, discover
from workloads.ingest.embed import DEFAULT_MODEL, describe_model
from workloads.ingest.evaluate import Evaluation, Question, QuestionResult, answers, load_questions
from workloads.ingest.manifest import Manifest, ManifestError
from workloads.ingest.records import SearchHit, StoredDocument, chunk_id
from workloads.ingest.summary import Summary


def _file(path: Path, root: Path) -> SourceFile:
    return SourceFile(path=path, source=path.relative_to(root).as_posix(), size=path.stat().st_size)


def _check(path: Path, root: Path) -> None:
    check_file(_file(path, root), path.read_bytes()[:1024])


# --------------------------------------------------------------------- discovery and hashing


def test_discover_lists_files_by_relative_path_and_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "b" / "z.md").write_text("z")
    (tmp_path / "a.md").write_text("a")
    (tmp_path / ".hidden.md").write_text("h")
    (tmp_path / ".git" / "config").write_text("c")
    found = discover(tmp_path)
    assert [f.source for f in found.files] == ["a.md", "b/z.md"]
    assert found.problems == []


def test_discover_rejects_missing_root_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="is missing: pass an existing folder"):
        discover(tmp_path / "nope")
    (tmp_path / "file.md").write_text("x")
    with pytest.raises(CorpusError, match="is a file, not a folder"):
        discover(tmp_path / "file.md")


def test_discover_reports_symlink_loops_broken_links_and_special_files(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    (root / "docs" / "deep").mkdir(parents=True)
    (root / "docs" / "a.md").write_text("a")
    (root / "docs" / "deep" / "up").symlink_to(root / "docs")  # a loop back to an ancestor
    (root / "self").symlink_to(root)  # a loop back to the root
    (root / "again").symlink_to(root / "docs" / "deep")  # the same folder twice
    (root / "gone.md").symlink_to(tmp_path / "missing.md")  # dangling
    (root / "linked.md").symlink_to(root / "docs" / "a.md")  # a link to a file is followed
    os.mkfifo(root / "pipe.md")  # reading it would block the run

    found = discover(root)

    assert [f.source for f in found.files] == ["docs/a.md", "linked.md"]
    problems = dict(found.problems)
    assert problems["docs/deep/up/"] == "symlink loop: links back to docs"
    assert problems["self/"] == "symlink loop: links back to the corpus root"
    assert problems["gone.md"] == "broken symbolic link (its target is missing)"
    assert problems["pipe.md"].startswith("not a regular file")
    assert problems["again/"] == "same folder as docs/deep/ (linked twice): read once"
    assert len(found.problems) == 5


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
    assert len(chunk_id("ab" * 32, 99999)) <= 100  # OGX's Milvus schema: chunk_id VARCHAR(100)


# --------------------------------------------------------------------- manifest


def test_manifest_round_trips_through_store_metadata_and_keeps_the_apps_keys() -> None:
    manifest = Manifest(name="docs", generation=3)
    manifest.documents["a.md"] = StoredDocument("a.md", "h1", "p1", 4, complete=True)
    manifest.documents["b.md"] = StoredDocument("b.md", "h2", "p1", None, complete=False)
    app_keys = {"embedding_model": "embeddings/all-MiniLM-L6-v2", "embedding_dimension": "384", "provider_id": "milvus"}

    metadata = json.loads(json.dumps(manifest.to_metadata(app_keys)))  # what the app stores and returns

    assert {k: metadata[k] for k in app_keys} == app_keys
    back = Manifest.from_metadata(metadata)
    assert back is not None and back.generation == 3 and back.name == "docs" and back.role == "live"
    assert back.documents == manifest.documents
    assert back.chunk_count == 4  # incomplete documents do not count
    assert Manifest.from_metadata(app_keys) is None  # a store the job did not make
    with pytest.raises(ManifestError, match="format"):
        Manifest.from_metadata({"leanrag_ingest": {"format": 99}})


def test_stored_document_is_current_only_when_complete_and_same_version() -> None:
    doc = StoredDocument("a.md", "h1", "p1", 3, complete=True)
    assert doc.is_current("h1", "p1")
    assert not doc.is_current("h2", "p1")  # content changed
    assert not doc.is_current("h1", "p2")  # model or chunking changed
    assert not StoredDocument("b.md", "h1", "p1", None, complete=False).is_current("h1", "p1")  # interrupted


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
            _check(tmp_path / name, tmp_path)
        return str(err.value)

    assert reason("empty.md") == "empty file (0 bytes)"
    assert reason("blank.html") == "empty file (only whitespace)"
    assert "unsupported extension '.txt'" in reason("notes.txt")
    assert reason("broken.pdf").startswith("corrupt PDF:")
    assert "no %PDF- header" in reason("fake.pdf")
    assert reason("locked.docx").startswith("password-protected (encrypted)")
    assert reason("broken.pptx").startswith("corrupt .pptx")
    assert reason("secret.pdf").startswith("encrypted PDF")
    _check(tmp_path / "good.md", tmp_path)
    _check(tmp_path / "good.pdf", tmp_path)


# --------------------------------------------------------------------- character encodings


RUSSIAN = "<p>Рыбаки выходят на лёд рано утром и сверлят лунки ледобуром, а затем ждут поклёвки.</p>"  # noqa: RUF001
FRENCH = (
    "<html><body><h1>Crème brûlée</h1><p>Le pâtissier prépare la crème à 83 °C, puis la caramélise.</p></body></html>"
)


@pytest.mark.parametrize(
    ("data", "kind", "expected", "guessed"),
    [
        (FRENCH.encode("utf-8"), "html", FRENCH, None),
        (b"\xef\xbb\xbf" + FRENCH.encode("utf-8"), "html", FRENCH, None),
        (FRENCH.encode("latin-1"), "html", FRENCH, "cp1252"),
        (FRENCH.encode("cp1252"), "html", FRENCH, "cp1252"),
        (RUSSIAN.encode("cp1251"), "html", RUSSIAN, "cp1251"),
        (
            "# 温泉\n\n温泉に入る前に体を洗い、タオルを湯船に入れないのがマナーです。\n".encode("shift_jis"),
            "md",
            "# 温泉\n\n温泉に入る前に体を洗い、タオルを湯船に入れないのがマナーです。\n",
            "cp932",
        ),
        (
            b'<html><head><meta charset="iso-8859-1"></head><body>' + "Crème brûlée".encode("latin-1") + b"</body>",
            "html",
            '<html><head><meta charset="iso-8859-1"></head><body>Crème brûlée</body>',
            None,  # declared: no guess, no warning
        ),
    ],
)
def test_decode_text_detects_the_charset_and_says_when_it_guessed(
    data: bytes, kind: str, expected: str, guessed: str | None
) -> None:
    text, warning = decode_text(data, kind)
    assert text == expected
    if guessed is None:
        assert warning is None
    else:
        assert warning is not None and f"decoded as {guessed} (guessed" in warning


def test_a_wrong_declared_charset_falls_back_to_a_guess() -> None:
    data = b'<html><head><meta charset="utf-8"></head><body>' + "Crème brûlée à la française".encode("cp1252")
    text, warning = decode_text(data, "html")
    assert "Crème brûlée à la française" in text
    assert warning is not None and "declared charset 'utf-8' does not fit" in warning


# --------------------------------------------------------------------- PDF model detection and the model


def test_layout_folder_constant_matches_docling() -> None:
    from docling.datamodel.pipeline_options import LayoutObjectDetectionOptions

    assert LayoutObjectDetectionOptions().model_spec.repo_id.replace("/", "--") == LAYOUT_MODEL_FOLDER


def _fake_models(folder: Path) -> Path:
    for name in (LAYOUT_MODEL_FOLDER, TABLE_MODEL_FOLDER):
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
    with pytest.raises(PdfModelsMissing, match="docling-tools models download -o"):
        detect_pdf_mode(tmp_path)


def test_model_info_comes_from_the_folder_without_loading_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from workloads.ingest.embed import describe_model; i = describe_model('all-MiniLM-L6-v2'); "
        "print(i.dim, i.max_tokens, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path.cwd())
    assert out.stdout.split() == ["384", "256", "False"]
    assert describe_model(DEFAULT_MODEL).fingerprint("x") == describe_model(DEFAULT_MODEL).fingerprint("x")


# --------------------------------------------------------------------- settings


def _args(argv: list[str], env: dict[str, str]) -> object:
    args = cli.build_parser().parse_args(argv)
    cli.resolve_settings(args, env)
    return args


def test_settings_come_from_flags_then_environment_then_defaults() -> None:
    env = {"INGEST_APP_URL": "http://app:8321", "INGEST_VECTOR_STORE": "env-store", "INGEST_MAX_FILE_MB": "5"}
    args = _args(["ingest", "--vector-store", "flag-store"], env)
    assert args.app_url == "http://app:8321"  # type: ignore[attr-defined]
    assert args.vector_store == "flag-store"  # type: ignore[attr-defined]
    assert args.max_file_mb == 5.0  # type: ignore[attr-defined]
    assert args.max_file_seconds == 600.0 and args.insert_batch == 256  # type: ignore[attr-defined]


def test_every_bad_setting_is_reported_at_once() -> None:
    env = {"INGEST_CHUNK_TOKENS": "lots", "INGEST_MAX_FILE_MB": "-1", "INGEST_MAX_PRUNE_FRACTION": "2"}
    with pytest.raises(cli.ConfigError) as err:
        _args(["ingest", "--app-url", "ftp://x", "--vector-store", "bad name!", "--log-level", "LOUD"], env)
    lines = str(err.value).splitlines()
    assert any(line.startswith("INGEST_CHUNK_TOKENS 'lots'") for line in lines)
    assert any(line.startswith("INGEST_MAX_FILE_MB '-1'") for line in lines)
    assert any(line.startswith("INGEST_MAX_PRUNE_FRACTION '2'") for line in lines)
    assert any(line.startswith("--app-url 'ftp://x'") for line in lines)
    assert any(line.startswith("--vector-store 'bad name!'") for line in lines)
    assert any("'LOUD'" in line for line in lines)
    assert len(lines) == 6


def test_the_api_key_comes_only_from_the_environment_and_is_never_shown() -> None:
    args = _args(["search", "q"], {"INGEST_APP_API_KEY": "s3cr3t-key"})
    settings = cli._app_settings(args, {"INGEST_APP_API_KEY": "s3cr3t-key"})  # type: ignore[arg-type]
    assert settings.api_key == "s3cr3t-key" and "s3cr3t-key" not in repr(settings)
    other = _args(["search", "q", "--app-api-key-env", "MY_KEY"], {})
    assert cli._app_settings(other, {"MY_KEY": "k2"}).api_key == "k2"  # type: ignore[arg-type]
    with pytest.raises(cli.ConfigError, match="must not carry credentials"):
        _args(["search", "q", "--app-url", "http://user:pw@app:8321"], {})
    flags = [a.option_strings for a in cli.build_parser()._subparsers._group_actions[0].choices["ingest"]._actions]
    assert not any("key" in flag and "env" not in flag for names in flags for flag in names)


def test_the_api_key_can_come_from_the_file_its_file_variable_names(tmp_path: Path) -> None:
    """The cluster Job mounts the app's key as a file and sets INGEST_APP_API_KEY_FILE (no key in its env)."""
    key_file = tmp_path / "api-key"
    key_file.write_text("s3cr3t-from-file\n")
    env = {"INGEST_APP_API_KEY_FILE": str(key_file)}
    settings = cli._app_settings(_args(["search", "q"], env), env)  # type: ignore[arg-type]
    assert settings.api_key == "s3cr3t-from-file" and settings.api_key_env == "INGEST_APP_API_KEY_FILE"
    assert "s3cr3t-from-file" not in repr(settings)
    both = {**env, "INGEST_APP_API_KEY": "from-the-variable"}  # the variable wins
    assert cli._app_settings(_args(["search", "q"], both), both).api_key == "from-the-variable"  # type: ignore[arg-type]
    other = {"MY_KEY_FILE": str(key_file)}  # the twin of --app-api-key-env
    assert cli._app_settings(_args(["search", "q", "--app-api-key-env", "MY_KEY"], other), other).api_key == (  # type: ignore[arg-type]
        "s3cr3t-from-file"
    )


@pytest.mark.parametrize("case", ["missing", "empty", "folder"])
def test_an_unreadable_or_empty_key_file_is_one_line_naming_the_variable_and_the_path(
    tmp_path: Path, case: str
) -> None:
    path = tmp_path / "api-key"
    if case == "empty":
        path.write_text(" \n")
    elif case == "folder":
        path.mkdir()
    env = {"INGEST_APP_API_KEY_FILE": str(path), "INGEST_APP_URL": "ftp://x"}
    with pytest.raises(cli.ConfigError) as err:
        _args(["search", "q"], env)
    lines = str(err.value).splitlines()
    assert any(line.startswith(f"INGEST_APP_API_KEY_FILE {path}: ") for line in lines), lines
    assert any(line.startswith("--app-url 'ftp://x'") for line in lines)  # reported with the other problems
    assert "Traceback" not in str(err.value)


def test_an_unreachable_app_is_one_line_naming_the_url_and_the_setting() -> None:
    from local.process import free_port

    client = AppClient(AppSettings(f"http://127.0.0.1:{free_port()}", api_key="never-printed", timeout_s=5))
    with pytest.raises(AppError) as err:
        list(client.list_vector_stores())
    message = str(err.value)
    assert "cannot reach the RAG app at http://127.0.0.1:" in message and "INGEST_APP_URL" in message
    assert "\n" not in message and "never-printed" not in message


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


def test_load_questions_with_broken_yaml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "q.yaml"
    path.write_text("questions:\n  - {question: 'unclosed\n")
    with pytest.raises(SystemExit, match=r"^error: .*q.yaml is not valid YAML"):
        load_questions(path)


def test_sample_question_set_is_valid() -> None:
    root = Path(__file__).resolve().parents[3]
    questions = load_questions(root / "corpus" / "questions.yaml", root / "corpus" / "docs")
    assert len(questions) >= 20
    assert len({q.source for q in questions}) >= 8


# --------------------------------------------------------------------- summary


def test_summary_json_and_text(tmp_path: Path) -> None:
    summary = Summary(corpus="c", sink="s", pdf_pipeline="native", documents=3, vector_store="docs")
    summary.vector_store_id, summary.generation = "vs_1", 2
    summary.ingested.append("a.md")
    summary.unchanged.append("b.md")
    summary.skip("c.pdf", "encrypted PDF")
    summary.warn("d.html", "decoded as cp1252 (guessed)")
    summary.chunks_written = 4
    summary.write_json(tmp_path / "out" / "summary.json")
    data = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert data["failed"] is True and data["error"] is None
    assert data["skipped"] == [{"source": "c.pdf", "reason": "encrypted PDF"}]
    assert data["warnings"] == [{"source": "d.html", "warning": "decoded as cp1252 (guessed)"}]
    assert data["unchanged"] == ["b.md"] and data["chunks_written"] == 4
    assert (data["vector_store"], data["vector_store_id"], data["generation"]) == ("docs", "vs_1", 2)
    text = summary.render()
    assert "c.pdf: encrypted PDF" in text and "FAILED" in text and "docs = vs_1 (generation 2)" in text
