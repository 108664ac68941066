"""The service launchers of local/services.py, each on a real process: redis-server, the tiny OpenAI-compatible
server and the MiniLM embeddings server (the gateway, OGX and llama.cpp launchers are exercised by
tests/components/app and tests/workloads/benchmark; the safety stand-in and moderation launchers by
tests/workloads/moderation, which runs in .venvs/gateway)."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest

from local.envs import has_venv
from local.process import http_json, port_open
from local.services import start_embeddings, start_redis, start_tiny_upstream


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_redis_requires_its_generated_password_which_stays_off_the_command_line(tmp_path: Path) -> None:
    with start_redis(tmp_path / "redis") as redis:
        assert redis.cli("PING") == "PONG"
        assert redis.password not in _cmdline(redis.service.pid)
        conf = tmp_path / "redis" / "redis.conf"
        assert conf.stat().st_mode & 0o777 == 0o600
        unauthenticated = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(redis.port), "PING"], capture_output=True, text=True, timeout=30
        )
        assert "NOAUTH" in unauthenticated.stdout + unauthenticated.stderr
        redis.cli("SET", "k", "v")
        assert redis.cli("GET", "k") == "v"
    assert not port_open(redis.port)
    assert redis.service.exit_code is not None


def test_tiny_upstream_answers_and_counts_its_calls(tmp_path: Path) -> None:
    with start_tiny_upstream(tmp_path, ["chat-a"], ["embed-a"], dim=8, flag_words=["forbidden"]) as up:
        status, chat, _ = http_json(
            "POST",
            f"{up.base_url}/chat/completions",
            {"model": "chat-a", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert status == 200 and chat["choices"][0]["message"]["content"] == "echo: hi"
        status, emb, _ = http_json("POST", f"{up.base_url}/embeddings", {"model": "embed-a", "input": ["a b", "c"]})
        assert status == 200 and [len(d["embedding"]) for d in emb["data"]] == [8, 8]
        _, mod, _ = http_json("POST", f"{up.base_url}/moderations", {"input": "this is forbidden"})
        assert mod["results"][0]["flagged"] is True
        assert up.stats() == {"chat/completions": 1, "embeddings": 1, "moderations": 1}
        up.reset()
        assert up.stats() == {}
        assert http_json("POST", f"{up.base_url}/chat/completions", {"model": "other", "messages": []})[0] == 404
    assert not port_open(int(up.base_url.split(":")[-1].removesuffix("/v1")))


def test_tiny_upstream_calls_the_first_offered_tool_then_echoes_its_result(tmp_path: Path) -> None:
    tools = [
        {"type": "function", "function": {"name": "file_search", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "other", "parameters": {"type": "object"}}},
    ]
    asked = {"model": "tiny-chat", "tools": tools, "messages": [{"role": "user", "content": "what is redis"}]}
    with start_tiny_upstream(tmp_path) as up:
        url = f"{up.base_url}/chat/completions"
        _, chat, _ = http_json("POST", url, asked)
        [choice] = chat["choices"]
        [call] = choice["message"]["tool_calls"]
        assert choice["finish_reason"] == "tool_calls"
        assert call["function"] == {"name": "file_search", "arguments": '{"query": "what is redis"}'}
        request = urllib.request.Request(url, json.dumps({**asked, "stream": True}).encode(), method="POST")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            streamed = response.read().decode()
        events = [json.loads(line[6:]) for line in streamed.splitlines() if line.startswith("data: {")]
        assert events[0]["choices"][0]["delta"]["tool_calls"][0]["id"] == call["id"]
        assert events[-1]["choices"][0]["finish_reason"] == "tool_calls"
        result = {"role": "tool", "tool_call_id": call["id"], "content": "Redis is a key value store."}
        answered = {**asked, "messages": [*asked["messages"], choice["message"], result]}
        _, chat, _ = http_json("POST", url, answered)
        assert chat["choices"][0]["message"]["content"] == "echo: Redis is a key value store."


def test_tiny_upstream_with_a_key_answers_only_that_bearer(tmp_path: Path) -> None:
    body = {"model": "tiny-chat", "messages": [{"role": "user", "content": "hi"}]}
    with start_tiny_upstream(tmp_path, api_key="sk-tiny-test") as up:
        url = f"{up.base_url}/chat/completions"
        assert http_json("POST", url, body)[0] == 401
        assert http_json("POST", url, body, headers={"Authorization": "Bearer sk-other"})[0] == 401
        assert http_json("POST", url, body, headers={"Authorization": "Bearer sk-tiny-test"})[0] == 200
        assert up.stats() == {"chat/completions": 1}  # refused calls never reached the model


@pytest.mark.slow
@pytest.mark.skipif(not has_venv("ingest"), reason="needs .venvs/ingest (make venv-ingest)")
def test_embeddings_server_serves_minilm_with_its_key(tmp_path: Path) -> None:
    with start_embeddings(tmp_path / "embeddings.log", "sk-test-key") as emb:
        auth = {"Authorization": "Bearer sk-test-key"}
        assert http_json("GET", f"{emb.base_url}/models")[0] == 401
        status, models, _ = http_json("GET", f"{emb.base_url}/models", headers=auth)
        assert status == 200 and models["data"][0]["id"] == emb.model == "all-MiniLM-L6-v2"
        status, body, _ = http_json(
            "POST", f"{emb.base_url}/embeddings", {"model": emb.model, "input": ["Milvus Lite", "Redis"]}, headers=auth
        )
        assert status == 200 and [len(d["embedding"]) for d in body["data"]] == [384, 384]
        norm = sum(x * x for x in body["data"][0]["embedding"])
        assert norm == pytest.approx(1.0, abs=1e-3)  # normalised, as the ingest job's vectors
        assert "sk-test-key" not in _cmdline(emb.service.pid)
