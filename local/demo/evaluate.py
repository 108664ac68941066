"""Step 3: retrieval quality of the ingest job's store on the labelled questions (recall@5, MRR@5)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from local.demo.context import Demo, say
from local.demo.ingest import ingest_job
from local.envs import CORPUS


def evaluate(demo: Demo, questions_file: Path) -> dict[str, Any]:
    out_json = demo.data / "evaluation.json"
    args = ["evaluate", "--questions", str(questions_file), "--corpus", str(CORPUS)]
    args += ["--no-ingest", "--k", "5", "--json", str(out_json)]  # --no-ingest: step 2 has just ingested
    ingest_job(demo, "evaluate", args, demo.logs / "ingest.log", timeout_s=600)
    result: dict[str, Any] = json.loads(out_json.read_text())
    recall, mrr = result["recall@5"], result["mrr@5"]
    misses = [r["question"] for r in result["results"] if not r["rank"]]
    say(
        f"    {result['questions']} labelled questions: recall@5 = {recall:.3f}   MRR@5 = {mrr:.3f}"
        + (f"   (missed: {misses})" if misses else "")
    )
    demo.state["evaluation"] = {"recall@5": recall, "mrr@5": mrr, "questions": result["questions"]}
    return result
