"""The shared local model server: finds the GGUF, starts, answers with auth, stops cleanly."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from local.llm_server import GGUF_FILE, LlmServer, LlmServerError, find_gguf, server_python


def _get(url: str, key: str | None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, b""


def test_gguf_is_found_in_the_server_environment() -> None:
    gguf = find_gguf()
    assert gguf.name == GGUF_FILE
    with gguf.open("rb") as f:
        assert f.read(4) == b"GGUF"
    assert gguf.stat().st_size > 50_000_000


def test_shared_server_serves_the_model_and_requires_the_key(llm_server: LlmServer) -> None:
    status, body = _get(f"{llm_server.base_url}/v1/models", llm_server.api_key)
    assert status == 200
    assert [m["id"] for m in json.loads(body)["data"]] == ["SmolLM2-135M-Instruct"]
    assert _get(f"{llm_server.base_url}/v1/models", None)[0] == 401
    assert _get(f"{llm_server.base_url}/v1/models", "wrong")[0] == 401
    request = urllib.request.Request(
        f"{llm_server.base_url}/v1/completions",
        data=json.dumps({"model": llm_server.model, "prompt": "The capital of France is", "max_tokens": 8}).encode(),
        headers={"Authorization": f"Bearer {llm_server.api_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        completion = json.load(resp)
    assert completion["usage"]["completion_tokens"] > 0
    assert completion["choices"][0]["text"].strip()


def test_start_and_stop_a_second_server(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = LlmServer(log_path=log, startup_timeout_s=120)
    with server:
        assert server.port > 0
        assert _get(f"{server.base_url}/v1/models", server.api_key)[0] == 200
        process = server._process
        assert process is not None and process.poll() is None
    assert process.poll() is not None  # stopped
    assert server._process is None
    text = log.read_text()
    assert "Uvicorn running" in text
    assert server.api_key not in text  # the key went through the environment, not the command line
    assert server.api_key not in " ".join(server.command())
    with pytest.raises(OSError):
        _get(f"{server.base_url}/v1/models", server.api_key)


def test_startup_failure_reports_the_log(tmp_path: Path) -> None:
    bogus = tmp_path / "not-a-model.gguf"
    bogus.write_bytes(b"GGUF but not really")
    server = LlmServer(log_path=tmp_path / "bad.log", gguf=bogus, startup_timeout_s=60)
    with pytest.raises(LlmServerError, match=r"exited with code \d+ before it was ready; log .*bad\.log"):
        server.start()
    assert server._process is None


def test_missing_environment_says_how_to_create_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LLM_SERVER_PYTHON", str(tmp_path / "nope" / "python"))
    with pytest.raises(LlmServerError, match=r"scripts/mkvenv \.venvs/llm-server 3\.11"):
        server_python()
