"""Step 2: the ingest Job as the stack renders it (its args and env, translated by local/site.py), run with
.venvs/ingest's Python: Docling, MiniLM, and the chunks into the RAG app's vector store through the app's API
(`INGEST_APP_URL`). The same Job's environment runs `evaluate` in step 3, so retrieval is measured through the
app's own search."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.demo.context import Demo, StepError, progress, say
from local.demo.processes import image_name
from local.envs import ROOT, job_env, venv_bin
from local.process import run_job
from local.rendered import Container

INGEST_IMAGE = "ingest"


@dataclass(frozen=True)
class IngestJob:
    """The rendered ingest Job, translated: what `workloads.ingest` gets here."""

    container: Container
    args: list[str]
    env: dict[str, str]

    def run(self, demo: Demo, args: list[str], timeout_s: float) -> str:
        cmd = [str(venv_bin("ingest")), "-m", "workloads.ingest", *args]
        log = demo.log("ingest")
        with progress(f"workloads.ingest {args[0]}", log):
            return run_job(args[0], cmd, log=log, timeout_s=timeout_s, env={**self.env, **job_env()}, cwd=ROOT)

    def local_path(self, demo: Demo, container_path: str) -> Path:
        return Path(demo.site.path(self.container, container_path))


def plan_ingest(demo: Demo) -> IngestJob:
    site = demo.site
    jobs = [c for c in demo.rendered.containers if image_name(c.image) == INGEST_IMAGE and not c.init]
    if len(jobs) != 1:
        raise StepError(f"the local stack renders {len(jobs)} ingest Jobs; the demo needs one (jobs.ingest.enabled)")
    c = jobs[0]
    site.prepare_volumes(c)
    site.diverge(
        "ingest Job",
        f"`{c.image}`: `{' '.join(c.args)}`, its env (`INGEST_APP_URL`, `INGEST_VECTOR_STORE`, ...)",
        "`python -m workloads.ingest` from .venvs/ingest with the same args and env, translated; the image's "
        "bundled `/app/corpus` is the repository's `corpus/`; no Docling PDF layout models (the image bakes them "
        "in): PDFs take Docling's model-free native pipeline",
        "no container runtime",
    )
    return IngestJob(c, [site.text(c, a) for a in c.args], site.env(c))


def ingest(demo: Demo, job: IngestJob) -> dict[str, Any]:
    given = job.args
    if "--summary-json" not in given:
        raise StepError(f"the rendered ingest Job writes no --summary-json ({given}); the demo reads it")
    summary_path = Path(given[given.index("--summary-json") + 1])
    summary_path.unlink(missing_ok=True)
    t0 = time.monotonic()
    job.run(demo, given, timeout_s=1800)  # as rendered (INFO: per-document progress in the log)
    summary: dict[str, Any] = json.loads(summary_path.read_text())
    say(
        f"    {summary['documents']} documents: {len(summary['ingested'])} ingested, "
        f"{len(summary['unchanged'])} unchanged (skipped by hash), {len(summary['skipped'])} failed; "
        f"{summary['chunks_written']} chunks written, {summary['chunks_total']} in the app's vector store "
        f"'{summary['vector_store']}' ({summary['vector_store_id']}) through {job.env['INGEST_APP_URL']} "
        f"({time.monotonic() - t0:.0f}s)"
    )
    if summary["skipped"] or summary.get("error"):
        raise StepError(f"ingest: {summary.get('error') or summary['skipped']}; log: {demo.log('ingest')}")
    keep = ("documents", "ingested", "unchanged", "chunks_written", "chunks_total", "vector_store", "vector_store_id")
    demo.state["ingest"] = {k: summary[k] for k in keep} | {"app_url": job.env["INGEST_APP_URL"]}
    return summary
