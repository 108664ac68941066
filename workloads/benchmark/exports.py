"""GuideLLM's own HTML and CSV reports, kept next to ours.

GuideLLM writes them itself during a run (the scenario asks for json, html and csv outputs). For a run
folder that holds only GuideLLM's JSON (older runs, recorded results), they are exported from that JSON with
GuideLLM's own output classes, as `guidellm export` does.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

from workloads.benchmark.results import read_json


def ensure(json_file: Path) -> list[Path]:
    """The HTML and CSV report beside `json_file` (`NAME.json` or `NAME.json.gz`), exported if missing;
    only those that exist if GuideLLM cannot read the JSON."""
    stem = json_file.name.removesuffix(".gz").removesuffix(".json")
    wanted = [json_file.with_name(f"{stem}.html"), json_file.with_name(f"{stem}.csv")]
    missing = [p for p in wanted if not p.exists()]
    if missing:
        from guidellm.benchmark.outputs.csv import GenerativeBenchmarkerCSV
        from guidellm.benchmark.outputs.html import GenerativeBenchmarkerHTML
        from guidellm.benchmark.schemas import GenerativeBenchmarksReport

        try:
            with tempfile.TemporaryDirectory() as tmp:  # GuideLLM reads plain .json files only
                plain = Path(tmp) / f"{stem}.json"
                plain.write_text(json.dumps(read_json(json_file)))
                report = GenerativeBenchmarksReport.load_file(plain)
        except (OSError, ValueError, EOFError):
            return [p for p in wanted if p.exists()]
        for path in missing:
            output = (GenerativeBenchmarkerHTML if path.suffix == ".html" else GenerativeBenchmarkerCSV)(
                output_path=path
            )
            asyncio.run(output.finalize(report))
    return [p for p in wanted if p.exists()]
