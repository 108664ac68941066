"""Step 2: the ingest job (`workloads.ingest` in .venvs/ingest) into the demo's Milvus Lite file, then the same
Docling chunks into the OGX app's vector store."""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from local.demo.context import Demo, StepError, say
from local.envs import CORPUS, ROOT, job_env, venv_bin
from local.process import http_json, http_upload, run_job

OGX_STORE_PREFIX = "corpus-"


def ingest_job(demo: Demo, name: str, args: list[str], log: Path, timeout_s: float) -> str:
    """Run `python -m workloads.ingest <args>` (in .venvs/ingest) on the demo's Milvus file; returns its output."""
    cmd = [str(venv_bin("ingest")), "-m", "workloads.ingest", *args, "--milvus-uri", str(demo.milvus)]
    return run_job(name, [*cmd, "--log-level", "WARNING"], log=log, timeout_s=timeout_s, env=job_env(), cwd=ROOT)


def ingest(demo: Demo) -> dict[str, Any]:
    summary_path = demo.data / "ingest-summary.json"
    t0 = time.monotonic()
    ingest_job(
        demo,
        "ingest",
        ["ingest", str(CORPUS), "--summary-json", str(summary_path)],
        demo.logs / "ingest.log",
        timeout_s=1800,
    )
    summary: dict[str, Any] = json.loads(summary_path.read_text())
    say(
        f"    {summary['documents']} documents: {len(summary['ingested'])} ingested, "
        f"{len(summary['unchanged'])} unchanged (skipped by hash), {len(summary['skipped'])} failed; "
        f"{summary['chunks_total']} chunks in {demo.milvus} ({time.monotonic() - t0:.0f}s)"
    )
    if summary["skipped"]:
        raise StepError(f"ingest could not convert {summary['skipped']}; log: {demo.logs / 'ingest.log'}")
    demo.state["ingest"] = {k: summary[k] for k in ("documents", "ingested", "unchanged", "chunks_total")}
    return summary


def _find_or_clear_store(demo: Demo, name: str, chunks: int) -> str:
    """The id of the store `name` when it already holds `chunks` chunks (else ""); older corpus stores are deleted."""
    url = demo.endpoints.ogx_url
    status, listing, _ = http_json("GET", f"{url}/v1/vector_stores?limit=100", timeout=60)
    if status != 200:
        raise StepError(f"OGX vector store list answered HTTP {status}; log: {demo.logs / 'ogx.log'}")
    found = ""
    for store in listing.get("data", []):
        if store.get("name") == name and store.get("file_counts", {}).get("completed") == chunks:
            found = str(store["id"])
        elif str(store.get("name", "")).startswith(OGX_STORE_PREFIX):  # an older corpus version
            http_json("DELETE", f"{url}/v1/vector_stores/{store['id']}", timeout=120)
    return found


def _add_chunk(demo: Demo, row: dict[str, Any]) -> str:
    """Upload one chunk as a file and attach it to the store with its attributes; returns an error or ""."""
    url, store_id = demo.endpoints.ogx_url, demo.endpoints.vector_store_id
    fname = f"{row['source'].replace('/', '__')}#{int(row['chunk_index']):03d}.txt"
    status, uploaded, _ = http_upload(f"{url}/v1/files", fname, row["text"].encode(), {"purpose": "assistants"})
    if status != 200:
        return f"{fname}: upload HTTP {status} {str(uploaded)[:200]}"
    attrs: dict[str, object] = {
        "source": row["source"][:512],
        "title": str(row.get("title") or "")[:512],
        "section": " > ".join(row.get("headings") or [])[:512],
        "chunk_index": int(row["chunk_index"]),
    }
    if row.get("page") is not None:
        attrs["page"] = int(row["page"])
    status, attached, _ = http_json(
        "POST",
        f"{url}/v1/vector_stores/{store_id}/files",
        {
            "file_id": uploaded["id"],
            "attributes": attrs,
            # larger than any Docling chunk (<= 256 MiniLM tokens): OGX keeps each chunk whole
            "chunking_strategy": {
                "type": "static",
                "static": {"max_chunk_size_tokens": 1024, "chunk_overlap_tokens": 0},
            },
        },
        timeout=300,
    )
    if status != 200 or attached.get("status") != "completed":
        return f"{fname}: HTTP {status} {str(attached)[:200]}"
    return ""


def load_vector_store(demo: Demo) -> None:
    """The ingest job's Docling chunks into an OGX vector store: one file per chunk (so OGX does not re-chunk),
    with the source document and headings as file attributes. Reused when unchanged."""
    chunks_file = demo.data / "chunks.jsonl"
    ingest_job(demo, "export", ["export", str(chunks_file)], demo.logs / "ingest.log", timeout_s=300)
    rows = [json.loads(line) for line in chunks_file.read_text().splitlines() if line.strip()]
    version = hashlib.sha256("\n".join(sorted(r["id"] for r in rows)).encode()).hexdigest()[:12]
    name = f"{OGX_STORE_PREFIX}{version}"
    t0 = time.monotonic()
    ep = demo.endpoints
    ep.vector_store_id = _find_or_clear_store(demo, name, len(rows))
    if ep.vector_store_id:
        say(f"    vector store {name} ({ep.vector_store_id}) already holds the {len(rows)} chunks: reused")
        demo.state["vector_store"] = {"id": ep.vector_store_id, "chunks": len(rows), "reused": True}
        return
    status, store, _ = http_json("POST", f"{ep.ogx_url}/v1/vector_stores", {"name": name}, timeout=60)
    if status != 200:
        raise StepError(f"OGX could not create a vector store: HTTP {status} {str(store)[:300]}")
    ep.vector_store_id = str(store["id"])
    with ThreadPoolExecutor(4) as pool:
        errors = [e for e in pool.map(lambda row: _add_chunk(demo, row), rows) if e]
    if errors:
        raise StepError(f"{len(errors)} chunks failed to load into OGX, e.g. {errors[0]}; log: {demo.logs / 'ogx.log'}")
    seconds = time.monotonic() - t0
    say(
        f"    {len(rows)} Docling chunks from {chunks_file.name} into OGX vector store {name} "
        f"({ep.vector_store_id}) in {seconds:.0f}s"
    )
    demo.state["vector_store"] = {
        "id": ep.vector_store_id,
        "chunks": len(rows),
        "reused": False,
        "seconds": round(seconds, 1),
    }
