"""What the moderation tests start, on the harness's own launchers and helpers, each a real process on 127.0.0.1:

- the moderation adapter and the local Llama Guard stand-in: `local.services.start_moderation` and
  `start_safety_classifier` (as the demo starts them); the LiteLLM gateway, OGX and the tiny upstream through
  `start_gateway`, `start_ogx` and `start_tiny_upstream`, imported by the tests themselves;
- the replay upstream (replay_upstream.py, a server of these tests only) through `local.process.start_service`.

Every handle stops its process (only it): the services' handles as context managers, the replay's `service`.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.envs import ROOT, venv_bin
from local.process import LOOPBACK, Service, free_port, http_json, http_ready, start_service
from local.services import MODERATION_SETTINGS_ENV, Moderation, start_moderation

HERE = Path(__file__).resolve().parent


@dataclass
class ReplayUpstream:
    """replay_upstream.py: scripted Llama Guard answers (data/replay.json); keeps every request it got."""

    base_url: str
    """.../v1"""
    api_key: str
    service: Service

    def calls(self) -> list[dict[str, Any]]:
        """Every request so far: path, JSON body, Authorization header."""
        return list(http_json("GET", self.base_url.removesuffix("/v1") + "/calls")[1]["calls"])


def start_replay_upstream(workdir: Path) -> ReplayUpstream:
    """replay_upstream.py on a free port with a random API key (in its environment)."""
    key = secrets.token_urlsafe(16)
    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    script = [str(HERE / "replay_upstream.py"), str(HERE / "data" / "replay.json")]
    service = start_service(
        "replay-upstream",
        [sys.executable, *script, "--host", LOOPBACK, "--port", str(port)],
        log=workdir / "replay.log",
        ready=http_ready(f"{base}/health"),
        timeout_s=30,
        port=port,
        env={"API_KEY": key, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    return ReplayUpstream(f"{base}/v1", key, service)


def start_adapter(
    workdir: Path, safety_base_url: str, safety_api_key: str, safety_model: str = "llama-guard", **settings: Any
) -> Moderation:
    """The adapter (start_moderation) with a random key in front of this safety model; `settings` are
    start_moderation's keyword settings (safety_timeout_s=2, ...)."""
    return start_moderation(
        workdir / "moderation.log",
        secrets.token_urlsafe(16),
        safety_base_url,
        safety_model,
        safety_api_key=safety_api_key,
        **settings,
    )


def run_adapter_cli(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """The adapter's command line run to completion (for configuration errors): every setting blank ("", the
    adapter's default or "not set") but these, whatever this process's environment holds."""
    env = {**os.environ, **dict.fromkeys(MODERATION_SETTINGS_ENV, ""), **settings}
    return subprocess.run(
        [str(venv_bin("gateway")), "-m", "workloads.moderation", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
