"""End to end: `python -m local.demo` (in .venv, as `make demo` runs it) on a small question set, twice (the
second run must re-ingest nothing), then check answers, recall@5, the cache, the benchmark report, and that
nothing is left running (OGX and the embeddings server included).

The questions go through the OGX app (vector store search + chat completions on its OpenAI-compatible API;
`--app ogx`) when .venvs/ogx exists, else through the ingest job's search and the gateway (`--app direct`).
Needs the environments of `make demo` (.venvs/ingest, llm-server, gateway, benchmark; ogx) and redis-server.
Run with `.venv/bin/python -m pytest tests/e2e` (about 8 minutes on 2 cores).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ASK = [
    {"question": "How do I install Milvus Lite and create a local .db file?", "source": "milvus-lite.md"},
    {"question": "How do I connect to Redis from Python and get decoded strings?", "source": "redis-py.docx"},
]


APP = "ogx" if (ROOT / ".venvs" / "ogx" / "bin" / "ogx").exists() else "direct"
SERVICES = {"redis", "llm-server", "gateway"} | ({"embeddings", "ogx"} if APP == "ogx" else set())


def _missing() -> list[str]:
    need = [ROOT / ".venvs" / v / "bin" / "python" for v in ("ingest", "llm-server", "gateway", "benchmark")]
    return [str(p) for p in need if not p.exists()] + ([] if _which("redis-server") else ["redis-server"])


def _which(name: str) -> bool:
    return any((Path(d) / name).exists() for d in os.environ.get("PATH", "").split(os.pathsep))


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _run_demo(data: Path, questions: Path, *extra: str) -> dict:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "local.demo",
            "--data-dir",
            str(data),
            "--questions",
            str(questions),
            "--ask",
            str(len(ASK)),
            "--app",
            APP,
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    print(proc.stdout[-6000:], proc.stderr[-3000:])
    state = json.loads((data / "state.json").read_text())
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert state["stopped"] and state["exit_code"] == 0
    for name, svc in state["services"].items():  # nothing left running
        assert not _pid_alive(svc["pid"]), f"{name} (pid {svc['pid']}) still running"
        assert not _port_open(svc["port"]), f"{name} port {svc['port']} still open"
    return state


@pytest.mark.skipif(bool(_missing()), reason=f"demo environments missing: {_missing()} (run make demo)")
def test_demo_end_to_end(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    questions = tmp_path / "questions.json"
    # these are asked; recall@5 is measured on corpus/questions.yaml (the labelled set)
    questions.write_text(json.dumps(ASK))

    first = _run_demo(data, questions)
    assert set(first["services"]) == SERVICES
    assert len(first["ingest"]["ingested"]) == first["ingest"]["documents"] > 0
    assert first["evaluation"]["recall@5"] >= 0.8
    for answer, q in zip(first["answers"], ASK, strict=True):
        assert answer["answer"].strip()
        assert q["source"] in answer["sources"], answer  # the answer cites the expected document
        assert answer["via"] == ("OGX -> gateway" if APP == "ogx" else "gateway")
    if APP == "ogx":
        store = first["vector_store"]
        assert store["chunks"] == first["ingest"]["chunks_total"] and not store["reused"]
    cache = first["cache"]
    assert cache["hits"] >= len(ASK) and cache["hit_median_s"] < cache["miss_median_s"]
    assert Path(first["benchmark_report"]).is_file()

    second = _run_demo(data, questions, "--no-benchmark")
    assert second["ingest"]["ingested"] == []  # unchanged documents are skipped by hash
    assert len(second["ingest"]["unchanged"]) == second["ingest"]["documents"]
    assert second["evaluation"]["recall@5"] >= 0.8
    for answer, q in zip(second["answers"], ASK, strict=True):
        assert q["source"] in answer["sources"], answer
    if APP == "ogx":
        assert second["vector_store"]["reused"]  # same chunks: the app's vector store is not rebuilt
