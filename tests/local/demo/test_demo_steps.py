"""The demo's pieces without the whole run (tests/e2e/test_demo.py runs it whole): the configs it renders with the
program's generators, its questions file, and its shutdown when a step fails or it is sent SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from components.app.gateway_config import build_gateway_config
from components.app.ogx_config import build_ogx_run_config
from local.demo.cli import main
from local.demo.questions import QUESTIONS, load_questions, write_questions
from local.demo.start import corpus_version, gateway_settings, ogx_settings
from local.envs import ROOT, has_venv
from local.llm_server import LlmServerError, find_gguf


def test_corpus_version_follows_names_and_contents(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("alpha")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("beta")
    first = corpus_version(tmp_path)
    assert first == corpus_version(tmp_path) and len(first) == 16
    (tmp_path / "sub" / "b.md").write_text("beta!")
    changed = corpus_version(tmp_path)
    assert changed != first
    (tmp_path / "sub" / "b.md").rename(tmp_path / "sub" / "c.md")
    assert corpus_version(tmp_path) not in (first, changed)


def test_questions_file_is_the_ingest_jobs_format(tmp_path: Path) -> None:
    path = tmp_path / "q.yaml"
    write_questions(path, [*QUESTIONS[:2], {"question": 'Say "hi": ok?', "source": "x.md", "phrase": "hi"}])
    data = yaml.safe_load(path.read_text())
    assert data["questions"][:2] == QUESTIONS[:2]
    assert data["questions"][2] == {"question": 'Say "hi": ok?', "source": "x.md", "phrase": "hi"}
    asked = tmp_path / "ask.json"
    asked.write_text(json.dumps(QUESTIONS[3:5]))
    assert load_questions(str(asked)) == QUESTIONS[3:5]
    assert load_questions(None) == QUESTIONS


def test_gateway_config_holds_no_secret_and_namespaces_the_cache_by_corpus() -> None:
    rendered = build_gateway_config(gateway_settings("http://127.0.0.1:9000/v1", "SmolLM2", 6379, "abc123"))
    assert set(rendered.secret_env) == {"LLM_API_KEY", "REDIS_PASSWORD", "GATEWAY_MASTER_KEY"}
    data = rendered.data
    assert data["litellm_settings"]["cache_params"]["namespace"].endswith(":abc123")
    assert data["litellm_settings"]["cache_params"]["password"] == "os.environ/REDIS_PASSWORD"
    assert data["model_list"][0]["litellm_params"]["api_key"] == "os.environ/LLM_API_KEY"
    assert "guardrails" not in data


@pytest.mark.slow
@pytest.mark.skipif(not has_venv("ogx"), reason="needs .venvs/ogx (make venv-ogx)")
def test_ogx_run_config_is_accepted_by_ogx(tmp_path: Path) -> None:
    from local.ogx_validate import validate_with_ogx

    settings = ogx_settings("http://127.0.0.1:4000/v1", "chat", "http://127.0.0.1:9001/v1", tmp_path, 8321)
    rendered = build_ogx_run_config(settings)
    assert set(rendered.secret_env) == {"CHAT_API_KEY", "EMBED_API_KEY"}
    env = {"CHAT_API_KEY": "sk-chat", "EMBED_API_KEY": "sk-embed"}
    assert not any(v in rendered.yaml for v in env.values())
    rc, result = validate_with_ogx(rendered.yaml, env)
    assert (rc, result["errors"]) == (0, [])


def _left_behind(demo_pid: int) -> list[int]:
    """Processes the demo started (mirakuru marks them with the starter's pid) that still run."""
    found = []
    for proc in psutil.process_iter(["pid", "environ"]):
        marker = (proc.info.get("environ") or {}).get("mirakuru_uuid", "")
        if marker.startswith(f"{demo_pid}:") and proc.status() != psutil.STATUS_ZOMBIE:
            found.append(proc.pid)
    return found


def test_a_failing_step_still_stops_what_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LLM_SERVER_PYTHON", str(tmp_path / "no-such-python"))  # step 1 fails after redis
    data = tmp_path / "demo"
    assert main(["--data-dir", str(data), "--app", "direct", "--no-benchmark"]) == 1
    out = capsys.readouterr().out
    assert "FAILED: no Python for the llama.cpp server" in out and "[7] shutting down" in out
    assert "stopped redis (pid" in out and out.rstrip().endswith("FAILED")
    state = json.loads((data / "state.json").read_text())
    assert (state["stopped"], state["exit_code"]) == (True, 1)
    assert set(state["services"]) == {"redis"}
    assert not psutil.pid_exists(state["services"]["redis"]["pid"])  # stopped and reaped
    assert _left_behind(os.getpid()) == []


@pytest.mark.slow
def test_sigterm_stops_every_service_and_records_the_interruption(tmp_path: Path) -> None:
    try:
        find_gguf()
    except LlmServerError as err:
        pytest.skip(f"needs the llama.cpp server environment: {err}")
    data = tmp_path / "demo"
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.demo", "--data-dir", str(data), "--app", "direct", "--no-benchmark"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    state_file = data / "state.json"
    deadline = time.monotonic() + 120
    while not (state_file.exists() and "redis" in state_file.read_text()):  # interrupted while starting the rest
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.stdout else ""
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert "interrupted: stopping services" in out and "stopped redis" in out and out.rstrip().endswith("interrupted")
    state = json.loads(state_file.read_text())
    assert (state["stopped"], state["exit_code"]) == (True, 130)
    assert _left_behind(proc.pid) == []
