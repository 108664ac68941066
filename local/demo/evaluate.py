"""Step 3: retrieval quality through the app's own search (`workloads.ingest evaluate` with the ingest Job's
environment: `POST /v1/vector_stores/{id}/search` on the store the Job wrote): recall@5 and MRR@5."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from local.demo.context import Demo, say
from local.demo.ingest import IngestJob


def evaluate(demo: Demo, job: IngestJob, questions_file: Path) -> dict[str, Any]:
    out_json = demo.data / "evaluation.json"
    job.run(
        demo,
        ["evaluate", "--no-ingest", "--questions", str(questions_file), "--k", "5", "--json", str(out_json)],
        timeout_s=600,
    )
    result: dict[str, Any] = json.loads(out_json.read_text())
    recall, mrr = result["recall@5"], result["mrr@5"]
    misses = [r["question"] for r in result["results"] if not r["rank"]]
    say(
        f"    {result['questions']} labelled questions, through the app's search: recall@5 = {recall:.3f}   "
        f"MRR@5 = {mrr:.3f}" + (f"   (missed: {misses})" if misses else "")
    )
    demo.state["evaluation"] = {"recall@5": recall, "mrr@5": mrr, "questions": result["questions"], "via": "app"}
    return result
