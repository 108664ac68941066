"""The demo's report file, `.demo/state.json`: the services it started (pid, port, log) and the figures of each
step, written after every change so that it tells what ran even when the demo was interrupted.

Fields: services, started_at, ingest, vector_store, evaluation, answers, cache, benchmark_report, stopped,
exit_code, seconds (tests/e2e/test_demo.py reads them).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from local.process import Service


class DemoState:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.fields: dict[str, Any] = {"services": {}, "started_at": time.time()}

    def __setitem__(self, key: str, value: Any) -> None:
        self.fields[key] = value

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    def record_service(self, service: Service) -> None:
        self.fields["services"][service.name] = {"pid": service.pid, "port": service.port, "log": str(service.log)}
        self.save()

    def save(self) -> None:
        self.path.write_text(json.dumps(self.fields, indent=2) + "\n")
