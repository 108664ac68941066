"""The command line against the real RAG app: exit codes, summary JSON, search, export, evaluation, and the
bad-input table of README.md (every row: what the user sees, what is kept, never a traceback)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from local.process import free_port
from tests.workloads.ingest.app_servers import APP_KEY_ENV, RagApp
from tests.workloads.ingest.ingest_docs import all_chunk_ids
from workloads.ingest.app_client import AppClient, AppSettings
from workloads.ingest.cli import main
from workloads.ingest.sinks.ogx import AppVectorStoreSink

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
TODAY_RECALL = 31 / 37  # recall@5 of the private Milvus path before this change (0.838 rounded)


def _app(app: RagApp, store: str) -> list[str]:
    return ["--app-url", app.url, "--vector-store", store, "--log-level", "WARNING"]


def _sink(app: RagApp, store: str) -> AppVectorStoreSink:
    sink = AppVectorStoreSink(AppClient(AppSettings(app.url, app.api_key)), store)
    assert sink.find()
    return sink


def test_cli_ingest_reports_bad_files_and_exits_non_zero(
    corpus: Path, app_env: RagApp, store_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (corpus / "corrupt.docx").write_bytes(b"PK\x03\x04 this zip was cut short")
    (corpus / "empty.html").write_bytes(b"")
    summary_path = tmp_path / "summary.json"

    code = main(["ingest", str(corpus), "--summary-json", str(summary_path), *_app(app_env, store_name)])

    assert code == 1
    summary = json.loads(summary_path.read_text())
    assert {s["source"] for s in summary["skipped"]} == {"corrupt.docx", "empty.html"}
    assert all(s["reason"] for s in summary["skipped"])
    assert len(summary["ingested"]) == 4 and summary["chunks_total"] > 4
    assert summary["failed"] is True and summary["seconds"] > 0 and summary["error"] is None
    assert summary["vector_store"] == store_name and summary["vector_store_id"].startswith("vs_")
    assert summary["generation"] == 1
    out = capsys.readouterr().out
    assert "corrupt.docx: corrupt .docx" in out and "FAILED" in out

    (corpus / "corrupt.docx").unlink()
    (corpus / "empty.html").unlink()
    assert main(["ingest", str(corpus), "--summary-json", str(summary_path), *_app(app_env, store_name)]) == 0
    again = json.loads(summary_path.read_text())
    assert len(again["unchanged"]) == 4 and again["chunks_written"] == 0
    assert again["vector_store_id"] == summary["vector_store_id"]


def test_cli_search_prints_sources(
    corpus: Path, app_env: RagApp, store_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", str(corpus), *_app(app_env, store_name)]) == 0
    capsys.readouterr()

    assert main(["search", "When should I inspect a bee hive?", "--k", "2", *_app(app_env, store_name)]) == 0

    out = capsys.readouterr().out
    first = out.strip().splitlines()[0]
    assert first.startswith("1. [") and "guides/beekeeping.docx" in first
    assert "nine days" in out
    assert "2. [" in out and "3. [" not in out


def test_cli_search_answers_several_questions_in_a_new_process(
    corpus: Path, app_env: RagApp, store_name: str, tmp_path: Path
) -> None:
    """Another process finds the store by name; several questions, JSON out; the key only in the environment."""
    assert main(["ingest", str(corpus), *_app(app_env, store_name)]) == 0
    questions = tmp_path / "questions.json"
    questions.write_text(json.dumps([{"question": "How far could ships see the lighthouse beam?"}]))
    out = tmp_path / "hits.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), APP_KEY_ENV: app_env.api_key}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "workloads.ingest",
            "search",
            "When should I inspect a bee hive?",
            "What flour do I feed a sourdough starter with?",
            "--questions-json",
            str(questions),
            "--json",
            str(out),
            "--k",
            "2",
            *_app(app_env, store_name),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(out.read_text())
    assert [r["question"] for r in results] == [
        "When should I inspect a bee hive?",
        "What flour do I feed a sourdough starter with?",
        "How far could ships see the lighthouse beam?",
    ]
    assert [r["hits"][0]["source"] for r in results] == [
        "guides/beekeeping.docx",
        "guides/sourdough.html",
        "lighthouse.md",
    ]
    assert all(len(r["hits"]) == 2 and r["hits"][0]["text"] and r["hits"][0]["chunk_id"] for r in results)
    assert proc.stdout.count("== ") == 3 and "1. [" in proc.stdout
    assert app_env.api_key not in proc.stdout + proc.stderr


def test_cli_export_writes_every_chunk_with_its_source(
    corpus: Path, app_env: RagApp, store_name: str, tmp_path: Path
) -> None:
    assert main(["ingest", str(corpus), *_app(app_env, store_name)]) == 0
    out = tmp_path / "chunks.jsonl"

    assert main(["export", str(out), *_app(app_env, store_name)]) == 0

    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["source"] for r in rows} == {
        "glacier.pdf",
        "guides/beekeeping.docx",
        "guides/sourdough.html",
        "lighthouse.md",
    }
    assert all(r["text"] and r["id"] and "vector" not in r and "embedding" not in r for r in rows)
    assert [r["chunk_index"] for r in rows if r["source"] == "lighthouse.md"] == list(
        range(sum(r["source"] == "lighthouse.md" for r in rows))
    )
    assert {r["id"] for r in rows} == all_chunk_ids(_sink(app_env, store_name))


def test_cli_search_needs_a_question(app_env: RagApp, store_name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", *_app(app_env, store_name)]) == 2
    assert capsys.readouterr().err.strip() == "error: give a question, or --questions-json FILE"


def test_cli_search_and_export_without_a_store_say_what_to_do(
    app_env: RagApp, store_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "anything", *_app(app_env, store_name)]) == 2
    assert f"has no vector store {store_name!r}: run ingest first" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "out.jsonl"), *_app(app_env, store_name)]) == 2
    assert "run ingest first" in capsys.readouterr().err
    assert main(["search", "anything", "--k", "51", *_app(app_env, store_name)]) == 2
    assert "--k 51: the app's search returns 1 to 50 results" in capsys.readouterr().err


def test_cli_evaluate_on_a_tiny_labelled_set(
    corpus: Path, app_env: RagApp, store_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = tmp_path / "questions.yaml"
    questions.write_text(
        "questions:\n"
        "  - question: How far could ships see the lighthouse beam?\n"
        "    source: lighthouse.md\n"
        "    phrase: twenty nautical miles\n"
        "  - question: How long should shaped dough rest on the bench?\n"
        "    source: guides/sourdough.html\n"
        "    heading: Shaping the loaf\n"
        "  - question: What pulley ratio is used in crevasse rescue?\n"
        "    source: glacier.pdf\n"
        "    phrase: three to one ratio\n"
        "  - question: How often should a beehive be inspected in spring?\n"
        "    source: guides/beekeeping.docx\n"
        "    phrase: this phrase is in no document\n"
    )
    result_path = tmp_path / "eval.json"
    args = ["evaluate", "--questions", str(questions), "--corpus", str(corpus), "--k", "1"]

    code = main([*args, "--json", str(result_path), *_app(app_env, store_name)])

    assert code == 0
    result = json.loads(result_path.read_text())
    ranks = [r["rank"] for r in result["results"]]
    assert ranks == [1, 1, 1, None]
    assert result["recall@1"] == 0.75 and result["mrr@1"] == 0.75
    assert "recall@1 = 0.750" in capsys.readouterr().out
    assert main([*args, "--no-ingest", "--min-recall", "0.8", *_app(app_env, store_name)]) == 1


def test_sample_corpus_recall_at_5_through_the_apps_search(
    app_env: RagApp, store_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The shipped corpus and question set, ingested through the app and asked through the app's search:
    recall@5 must stay at least what the private Milvus path measured: 31 of the 37 questions (printed 0.838)."""
    result_path = tmp_path / "eval.json"
    code = main(
        [
            "evaluate",
            "--questions",
            str(ROOT / "corpus" / "questions.yaml"),
            "--corpus",
            str(ROOT / "corpus" / "docs"),
            "--k",
            "5",
            "--min-recall",
            str(TODAY_RECALL),
            "--json",
            str(result_path),
            *_app(app_env, store_name),
        ]
    )
    result = json.loads(result_path.read_text())
    with capsys.disabled():
        print(f"\nsample corpus through the app's search: recall@5 = {result['recall@5']}, MRR@5 = {result['mrr@5']}")
    assert result["recall@5"] >= round(TODAY_RECALL, 4), result
    assert code == 0


# --------------------------------------------------------------------------------------- the bad-input table


@dataclass(frozen=True)
class Case:
    """One row of the README's bad-input table."""

    name: str
    setup: Callable[[Path, Path], list[str]]  # (corpus, tmp) -> flags, or [folder, *flags] for another folder
    code: int
    says: str | tuple[str, ...]  # in what the user sees (stdout or stderr)
    env: tuple[tuple[str, str | None], ...] = ()  # None: unset
    ingested_first: bool = True  # the store holds the corpus before the bad run
    kept: bool = True  # every chunk stored before the bad run is still there


def _gone(*names: str) -> Callable[[Path, Path], list[str]]:
    def setup(corpus: Path, tmp: Path) -> list[str]:
        for name in names:
            (corpus / name).unlink()
        return ["--prune"]

    return setup


def _with(name: str, data: bytes, *extra: str) -> Callable[[Path, Path], list[str]]:
    def setup(corpus: Path, tmp: Path) -> list[str]:
        (corpus / name).write_bytes(data)
        return list(extra)

    return setup


def _loop(corpus: Path, tmp: Path) -> list[str]:
    (corpus / "guides" / "again").symlink_to(corpus)
    return []


def _dangling(corpus: Path, tmp: Path) -> list[str]:
    (corpus / "old.md").symlink_to(tmp / "deleted.md")
    return []


def _fifo(corpus: Path, tmp: Path) -> list[str]:
    os.mkfifo(corpus / "pipe.md")
    return []


def _empty_dir(corpus: Path, tmp: Path) -> list[str]:
    (tmp / "empty").mkdir()
    return [str(tmp / "empty"), "--prune"]


def _missing(corpus: Path, tmp: Path) -> list[str]:
    return [str(tmp / "no-such-folder")]


def _a_file(corpus: Path, tmp: Path) -> list[str]:
    return [str(corpus / "lighthouse.md")]


def _slow(corpus: Path, tmp: Path) -> list[str]:
    (corpus / "huge.md").write_text("# Huge\n" + "".join(f"\n## Part {i}\n\n" + "word " * 400 for i in range(600)))
    return ["--max-file-seconds", "3"]


def _foreign_store(corpus: Path, tmp: Path) -> list[str]:
    return []


LATIN1_HTML = (
    "<html><body><h1>Crème brûlée</h1><p>Le pâtissier caramélise la crème à la flamme.</p></body></html>"
).encode("latin-1")
NO_KEY = ((APP_KEY_ENV, None),)

CASES = [
    Case("missing corpus folder", _missing, 2, "error: corpus folder", ingested_first=False),
    Case("corpus path is a file", _a_file, 2, "is a file, not a folder", ingested_first=False),
    Case("--prune over an empty folder", _empty_dir, 3, "--prune refused: the corpus holds no documents"),
    Case(
        "--prune would remove most of the store",
        _gone("glacier.pdf", "guides/beekeeping.docx", "guides/sourdough.html"),
        3,
        "> --max-prune-fraction 0.5",
    ),
    Case("symlink loop", _loop, 1, "guides/again/: symlink loop: links back to the corpus root"),
    Case("dangling symlink", _dangling, 1, "old.md: broken symbolic link"),
    Case("FIFO in the corpus", _fifo, 1, "pipe.md: not a regular file"),
    Case(
        "file over --max-file-mb",
        _with("big.md", b"# Big\n\n" + b"text " * 50_000, "--max-file-mb", "0.1"),
        1,
        "big.md: 0.3 MB is over the 0.1 MB limit",
    ),
    Case("conversion over --max-file-seconds", _slow, 1, "huge.md: took longer than 3 s to convert and chunk"),
    Case(
        "non-UTF-8 HTML without a charset",
        _with("latin1.html", LATIN1_HTML),
        0,
        "latin1.html: not UTF-8 and no usable charset declared: decoded as cp1252 (guessed",
    ),
    Case("binary data with a .md name", _with("blob.md", bytes(range(256)) * 64), 1, "blob.md: "),
    Case("corrupt PDF", _with("bad.pdf", b"%PDF-1.7\nnot a pdf body\n%%EOF"), 1, "bad.pdf: corrupt PDF"),
    Case(
        "bad settings, several at once",
        lambda c, t: ["--chunk-tokens", "0", "--app-timeout", "-3"],
        2,
        ("error: --chunk-tokens '0': expected a positive integer", "error: --app-timeout '-3': expected seconds"),
    ),
    Case(
        "the app is unreachable",
        lambda c, t: ["--app-url", f"http://127.0.0.1:{free_port()}"],
        2,
        "error: cannot reach the RAG app at http://127.0.0.1:",
    ),
    Case(
        "no API key",
        lambda c, t: [],
        2,
        "answered 401 (not authorised): set the app's API key in the environment variable INGEST_APP_API_KEY",
        env=NO_KEY,
    ),
    Case(
        "a wrong API key",
        lambda c, t: [],
        2,
        "the key in INGEST_APP_API_KEY was refused",
        env=((APP_KEY_ENV, "not-the-key"),),
    ),
    Case(
        "an embedding model the app does not serve",
        lambda c, t: ["--app-embedding-model", "embeddings/nope"],
        2,
        "error: ",
        ingested_first=False,
    ),
    Case(
        "a store of the same name not made by the job",
        _foreign_store,
        2,
        "was not made by the ingest job",
        ingested_first=False,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_table(
    case: Case,
    corpus: Path,
    app_env: RagApp,
    store_name: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    common = _app(app_env, store_name)
    if case.ingested_first:
        assert main(["ingest", str(corpus), *common]) == 0
    elif case.setup is _foreign_store:
        AppClient(AppSettings(app_env.url, app_env.api_key)).create_vector_store(store_name, {}, None, None)
    before = all_chunk_ids(_sink(app_env, store_name)) if case.ingested_first else set()
    capsys.readouterr()
    extra = case.setup(corpus, tmp_path)
    folder, flags = (extra[:1], extra[1:]) if extra and not extra[0].startswith("-") else ([str(corpus)], extra)
    for name, value in case.env:
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)

    code = main(["ingest", *folder, *common, *flags])  # the case's flags win over the common ones

    seen = capsys.readouterr()
    text = seen.out + seen.err
    assert code == case.code, text
    for says in (case.says,) if isinstance(case.says, str) else case.says:
        assert says in text, text
    assert "Traceback" not in text
    if case.code == 2:  # one line per problem; anything else on stderr is a log line (e.g. "retrying")
        lines = seen.err.strip().splitlines()
        assert any(line.startswith("error: ") for line in lines), seen.err
        assert all(line.startswith(("error: ", "WARNING ", "INFO ")) for line in lines), seen.err
    if case.kept:
        monkeypatch.setenv(APP_KEY_ENV, app_env.api_key)
        if case.ingested_first:
            assert before <= all_chunk_ids(_sink(app_env, store_name))
    assert app_env.api_key not in text


def _unprivileged(argv: list[str]) -> list[str]:
    """Run as a user the permission bits apply to: as root, drop the capabilities that bypass them."""
    if os.geteuid() != 0:
        return argv
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: file permissions cannot be tested")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all", "--", *argv]


def test_unreadable_document_and_folder_are_listed_and_the_rest_ingested(
    corpus: Path, app_env: RagApp, store_name: str, tmp_path: Path
) -> None:
    (corpus / "secret.md").write_text("# Secret\n\nNobody may read this file.\n")
    (corpus / "secret.md").chmod(0)
    (corpus / "locked").mkdir()
    (corpus / "locked" / "inside.md").write_text("# Inside\n\nA file in a folder nobody may list.\n")
    (corpus / "locked").chmod(0)
    summary_path = tmp_path / "summary.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), APP_KEY_ENV: app_env.api_key}
    try:
        proc = subprocess.run(
            _unprivileged(
                [
                    sys.executable,
                    "-m",
                    "workloads.ingest",
                    "ingest",
                    str(corpus),
                    "--summary-json",
                    str(summary_path),
                    *_app(app_env, store_name),
                ]
            ),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
            env=env,
        )
    finally:
        (corpus / "secret.md").chmod(0o644)
        (corpus / "locked").chmod(0o755)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    summary = json.loads(summary_path.read_text())
    reasons = {s["source"]: s["reason"] for s in summary["skipped"]}
    assert reasons == {
        "secret.md": "cannot read: permission denied",
        "locked/": "folder not readable: permission denied",
    }
    assert sorted(summary["ingested"]) == [
        "glacier.pdf",
        "guides/beekeeping.docx",
        "guides/sourdough.html",
        "lighthouse.md",
    ]


def test_cli_search_reads_the_app_key_from_the_file_the_cluster_job_mounts(
    corpus: Path, app: RagApp, store_name: str, tmp_path: Path
) -> None:
    """As the ingest Job runs it: INGEST_APP_API_KEY_FILE names the mounted Secret file, no key in the environment;
    a wrong key in the file is refused with the file variable named."""
    key_file = tmp_path / "api-key"
    key_file.write_text(app.api_key + "\n")
    env = {k: v for k, v in os.environ.items() if k != APP_KEY_ENV}
    env.update({"PYTHONPATH": str(ROOT), APP_KEY_ENV + "_FILE": str(key_file)})

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "workloads.ingest", *argv, *_app(app, store_name)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
        )

    done = run("ingest", str(corpus))
    assert done.returncode == 0, done.stderr[-2000:]
    found = run("search", "When should I inspect a bee hive?", "--k", "1")
    assert found.returncode == 0, found.stderr[-2000:]
    assert "guides/beekeeping.docx" in found.stdout
    key_file.write_text("not-the-key")
    refused = run("search", "When should I inspect a bee hive?")
    assert refused.returncode != 0 and "INGEST_APP_API_KEY_FILE" in refused.stderr
    assert app.api_key not in done.stdout + done.stderr + found.stdout + found.stderr + refused.stderr
