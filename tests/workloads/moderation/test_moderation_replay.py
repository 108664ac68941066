"""The adapter as a real server in front of a replay upstream: Llama Guard answers it must parse, answers and
failures it must fail closed on (never "not flagged"), auth, input errors, metrics and what it logs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from local.process import free_port, http_json
from local.services import Moderation
from tests.workloads.moderation.servers import ReplayUpstream, run_adapter_cli, start_adapter

pytestmark = pytest.mark.slow


def _flagged(result: dict) -> list[str]:
    return sorted(name for name, hit in result["categories"].items() if hit)


def test_several_codes_are_named_and_kept(adapter_on_replay: Moderation) -> None:
    status, body = adapter_on_replay.moderate("several categories")
    assert status == 200, body
    (result,) = body["results"]
    assert result["flagged"] is True
    assert _flagged(result) == ["hate", "violent_crimes"]
    assert result["category_scores"]["violent_crimes"] == 1.0 and result["category_scores"]["privacy"] == 0.0
    assert result["llama_guard_codes"] == ["S1", "S10"]
    assert body["model"] == "llama-guard" and body["id"].startswith("modr-")


def test_safe_and_vllm_style_answers(adapter_on_replay: Moderation) -> None:
    for text in ("a benign question", "vllm style safe"):
        status, body = adapter_on_replay.moderate(text)
        assert status == 200, body
        assert body["results"][0]["flagged"] is False
        assert _flagged(body["results"][0]) == []


def test_list_input_keeps_order_and_ignores_the_model_field(adapter_on_replay: Moderation) -> None:
    texts = ["one category", "a benign question", "spaces and lower case"]
    status, body = adapter_on_replay.moderate(texts, model="omni-moderation-latest")
    assert status == 200, body
    assert [r["flagged"] for r in body["results"]] == [True, False, True]
    assert _flagged(body["results"][0]) == ["non_violent_crimes"]
    assert body["results"][2]["llama_guard_codes"] == ["S9", "S1"]


def test_unknown_code_is_flagged_under_its_code(adapter_on_replay: Moderation) -> None:
    status, body = adapter_on_replay.moderate("unknown code")
    assert status == 200, body
    assert body["results"][0]["flagged"] is True
    assert _flagged(body["results"][0]) == ["S15"]


def test_unsafe_without_codes_is_flagged(adapter_on_replay: Moderation) -> None:
    status, body = adapter_on_replay.moderate("unsafe without codes")
    assert status == 200, body
    assert body["results"][0]["flagged"] is True and body["results"][0]["llama_guard_codes"] == []


@pytest.mark.parametrize(
    ("text", "status", "reason"),
    [
        ("garbage", 502, "not a Llama Guard verdict"),
        ("contradiction", 502, "not a Llama Guard verdict"),
        ("word instead of code", 502, "expected category codes"),
        ("empty answer", 502, "empty answer"),
        ("cut off", 502, "cut off"),
        ("upstream error", 502, "answered HTTP 500"),
        ("upstream rejects key", 502, "answered HTTP 401 (check SAFETY_API_KEY)"),
        ("not json", 502, "returned no chat completion"),
        ("slow", 503, "timed out"),
    ],
)
def test_fails_closed(adapter_on_replay: Moderation, text: str, status: int, reason: str) -> None:
    got, body = adapter_on_replay.moderate(text)
    assert got == status, body
    assert "results" not in body
    assert body["error"]["message"].startswith("moderation unavailable, request not checked: ")
    assert reason in body["error"]["message"]


def test_one_bad_answer_fails_the_whole_list(adapter_on_replay: Moderation) -> None:
    status, body = adapter_on_replay.moderate(["a benign question", "garbage"])
    assert status == 502 and "results" not in body


def test_upstream_down_fails_closed(tmp_path: Path) -> None:
    with start_adapter(tmp_path, f"http://127.0.0.1:{free_port()}/v1", "unused") as adapter:
        status, body = adapter.moderate("a benign question")
    assert status == 503, body
    assert "is unreachable" in body["error"]["message"] and "results" not in body


def test_wrong_upstream_key_fails_closed(tmp_path: Path, replay: ReplayUpstream) -> None:
    with start_adapter(tmp_path, replay.base_url, "not-the-key") as adapter:
        status, body = adapter.moderate("a benign question")
    assert status == 502, body
    assert "HTTP 401 (check SAFETY_API_KEY)" in body["error"]["message"]


def test_requests_need_the_bearer_key(adapter_on_replay: Moderation) -> None:
    status, body = adapter_on_replay.moderate("several categories", key="wrong")
    assert status == 401 and "Bearer" in body["error"]["message"]
    status, body, headers = http_json("POST", adapter_on_replay.moderations, {"input": "several categories"})
    assert status == 401 and headers["www-authenticate"] == "Bearer"
    status, body, _ = http_json(
        "POST", adapter_on_replay.moderations, {"input": "x"}, headers={"Authorization": adapter_on_replay.api_key}
    )
    assert status == 401  # the key without the Bearer scheme
    assert http_json("GET", f"{adapter_on_replay.url}/health")[:2] == (200, {"status": "ok"})


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"input": 5}, "input: must be a string or a list of strings"),
        ({"input": ["ok", 3]}, "input: must be a string or a list of strings"),
        ({"model": "x"}, "input: must be a string or a list of strings"),
        ({"input": []}, "input: must not be an empty list"),
        ({"input": ["a"] * 17}, "input: at most 16 texts per request, got 17"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(adapter_on_replay: Moderation, payload: dict, message: str) -> None:
    headers = {"Authorization": f"Bearer {adapter_on_replay.api_key}"}
    status, body, _ = http_json("POST", adapter_on_replay.moderations, payload, headers=headers)
    assert status == 400, body
    assert body["error"] == {"message": message, "type": "invalid_request_error", "param": "input"}


def test_upstream_request_and_secrets_kept_out_of_logs(adapter_on_replay: Moderation, replay: ReplayUpstream) -> None:
    adapter_on_replay.moderate("several categories")
    sent = [c for c in replay.calls() if c["body"]["messages"][-1]["content"] == "several categories"][-1]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["authorization"] == f"Bearer {replay.api_key}"
    assert sent["body"]["model"] == "llama-guard"
    assert sent["body"]["messages"] == [{"role": "user", "content": "several categories"}]
    assert sent["body"]["temperature"] == 0
    log = adapter_on_replay.service.log.read_text()
    assert "moderated 1 text(s): 1 flagged (hate, violent_crimes)" in log
    assert replay.api_key not in log and adapter_on_replay.api_key not in log
    assert "several categories" not in log  # texts are not logged


def _sample(metrics: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", metrics, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_metrics_count_verdicts_categories_and_failures(adapter_on_replay: Moderation) -> None:
    before = adapter_on_replay.metrics()
    adapter_on_replay.moderate(["several categories", "a benign question"])
    adapter_on_replay.moderate("garbage")
    after = adapter_on_replay.metrics()
    for name, delta in [
        ('moderation_inputs_total{flagged="true"}', 1),
        ('moderation_inputs_total{flagged="false"}', 1),
        ('moderation_flagged_categories_total{category="hate"}', 1),
        ('moderation_upstream_errors_total{kind="unparseable"}', 1),
        ('moderation_requests_total{status="200"}', 1),
        ('moderation_requests_total{status="502"}', 1),
    ]:
        assert _sample(after, name) - _sample(before, name) == delta, name


def test_config_errors_are_reported_at_once_without_a_traceback() -> None:
    result = run_adapter_cli(SAFETY_TIMEOUT_S="soon")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert [line.split(" ")[1] for line in lines] == [
        "MODERATION_API_KEY",
        "SAFETY_BASE_URL",
        "SAFETY_MODEL",
        "SAFETY_TIMEOUT_S",
    ]
    assert all(line.startswith("error: ") for line in lines) and "Traceback" not in result.stderr


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_launcher_passes_settings_and_keys_by_environment_only(
    tmp_path: Path, replay: ReplayUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """start_moderation: keys never on the command line; its settings win over this process's environment (a
    leaked SAFETY_TIMEOUT_S=soon would stop the adapter, a leaked MODERATION_MAX_INPUTS=1 refuse two texts)."""
    monkeypatch.setenv("SAFETY_TIMEOUT_S", "soon")
    monkeypatch.setenv("MODERATION_MAX_INPUTS", "1")
    with start_adapter(tmp_path, replay.base_url, replay.api_key, max_inputs=2) as adapter:
        cmdline = _cmdline(adapter.service.pid)
        assert "workloads.moderation" in cmdline
        assert adapter.api_key not in cmdline and replay.api_key not in cmdline
        status, body = adapter.moderate(["a benign question", "one category"])
        assert status == 200 and [r["flagged"] for r in body["results"]] == [False, True]
        status, body = adapter.moderate(["a", "b", "c"])
        assert status == 400 and body["error"]["message"] == "input: at most 2 texts per request, got 3"
    assert adapter.service.exit_code is not None
