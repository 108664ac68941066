"""Start a local RAG app (OGX 1.5 + the MiniLM embedding server, as the ingest tests do) and run the retrieval
benchmark against it: .venvs/ingest/bin/python scripts/retrieval_benchmark.py [eval_retrieval flags]."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.workloads.ingest.app_servers import APP_KEY_ENV, rag_app
from workloads.ingest import eval_retrieval


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="retrieval-bench-") as tmp, rag_app(Path(tmp)) as app:
        os.environ[APP_KEY_ENV] = app.api_key
        return eval_retrieval.main(["--app-url", app.url, *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
