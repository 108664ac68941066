"""The throughput benchmark runs against the real app, measures both figures on the same chunks, and cleans up.

The ratio itself is not asserted here (a 2-core machine shared with other jobs makes timings noisy, and
the tiny corpus is dominated by fixed costs); README.md records the measured figures on the sample corpus.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.workloads.ingest.app_servers import RagApp
from workloads.ingest import throughput
from workloads.ingest.app_client import AppClient, AppSettings

pytestmark = pytest.mark.slow


def test_throughput_prints_ingest_against_raw_embedding_on_the_same_chunks(
    corpus: Path, app_env: RagApp, store_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "throughput.json"
    argv = ["--corpus", str(corpus), "--copies", "2", "--json", str(out)]
    code = throughput.main([*argv, "--app-url", app_env.url, "--vector-store", store_name, "--log-level", "WARNING"])

    assert code == 0
    figures = json.loads(out.read_text())
    assert figures["documents"] == 4 and figures["copies"] == 2
    assert figures["chunks"] == 2 * figures["full_job_chunks"] > 8  # both measures saw the same chunks
    assert figures["raw_chunks_per_s"] > 0 and figures["ingest_chunks_per_s"] > 0
    assert figures["ratio"] == pytest.approx(figures["ingest_chunks_per_s"] / figures["raw_chunks_per_s"], abs=1e-3)
    assert figures["per_document_chunks_per_s"] > 0 and figures["full_job_ratio"] > 0
    text = capsys.readouterr().out
    assert "raw embedding" in text and "ingest through the app" in text and "ratio ingest / raw" in text
    names = {s.name for s in AppClient(AppSettings(app_env.url, app_env.api_key)).list_vector_stores()}
    assert not any(name.startswith(store_name) for name in names)  # the temporary stores are gone
