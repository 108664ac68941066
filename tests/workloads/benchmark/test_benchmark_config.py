"""Scenarios, load profiles and the GuideLLM scenario file, validated by GuideLLM's own schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from guidellm.schemas.benchmark import BenchmarkScenario

from workloads.benchmark import endpoint
from workloads.benchmark.scenarios import (
    SCENARIOS,
    Limits,
    Load,
    Target,
    guidellm_scenario,
    points,
    redacted,
    scenario,
)


def test_named_scenarios() -> None:
    shapes = {name: (s.prompt_tokens, s.output_tokens) for name, s in SCENARIOS.items()}
    assert shapes == {"chat": (512, 128), "rag": (2048, 256), "long-context": (8192, 256), "smoke": (64, 16)}
    with pytest.raises(ValueError, match="unknown --scenario 'nope'; choose one of: chat, rag"):
        scenario("nope")


def test_points_per_profile() -> None:
    assert [p.name for p in points(Load("synchronous"))] == ["synchronous"]
    assert points(Load("sweep", sweep_size=5))[0].profile == {"kind": "sweep", "sweep_size": 5}
    constant = points(Load("constant", (0.5, 2.0)))
    assert [p.name for p in constant] == ["constant-0.5rps", "constant-2rps"]
    assert constant[1].profile == {"kind": "constant", "rate": [2.0]}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"profile": "constant"}, "needs request rates"),
        ({"profile": "sweep", "rates": (1.0,)}, "--rate applies only to --profile constant"),
        ({"profile": "constant", "rates": (0.0,)}, "must be positive"),
        ({"profile": "sweep", "sweep_size": 1}, "--sweep-size must be at least 2"),
        ({"profile": "poisson"}, "unknown --profile"),
    ],
)
def test_load_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Load(**kwargs)


def test_limits() -> None:
    assert Limits(30, 100).constraints() == [
        {"kind": "max_duration", "seconds": 30},
        {"kind": "max_requests", "count": 100},
    ]
    with pytest.raises(ValueError, match="set --max-seconds or --max-requests"):
        Limits(None, None)


@pytest.mark.parametrize("load", [Load("synchronous"), Load("sweep", sweep_size=4), Load("constant", (1.5,))])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_guidellm_accepts_the_scenario_file(load: Load, name: str, tmp_path: Path) -> None:
    config = guidellm_scenario(
        point=points(load)[0], workload=scenario(name), target=Target("http://vllm:8000", "m"),
        limits=Limits(60, 500), tokenizer="/models/tok", output_json=tmp_path / "out.json", api_key="sk-secret",
    )  # fmt: skip
    parsed = BenchmarkScenario.model_validate(config)
    spec = parsed.spec
    assert spec.backend.kind == "openai_http"
    assert spec.backend.request_format == "/v1/completions"
    assert spec.backend.api_key.get_secret_value() == "sk-secret"
    assert spec.backend.validate_backend is False
    assert spec.profile.kind == points(load)[0].profile["kind"]
    assert spec.data[0].prompt_tokens == SCENARIOS[name].prompt_tokens
    assert spec.data[0].output_tokens == SCENARIOS[name].output_tokens
    assert spec.tokenizer.model == "/models/tok"
    assert [c.kind for c in spec.constraints] == ["max_duration", "max_requests"]
    assert str(spec.outputs[0].path) == str(tmp_path / "out.json")
    assert "sk-secret" not in str(redacted(config))
    assert redacted(config)["spec"]["backend"]["api_key"] == "<redacted>"
    assert config["spec"]["backend"]["api_key"] == "sk-secret"  # the original is untouched


@pytest.mark.parametrize(
    ("target", "url"),
    [
        ("http://vllm.serving:8000", "http://vllm.serving:8000"),
        ("http://vllm.serving:8000/v1/", "http://vllm.serving:8000"),
        (" https://x.example/v1 ", "https://x.example"),
    ],
)
def test_base_url(target: str, url: str) -> None:
    assert endpoint.base_url(target) == url


def test_base_url_rejects_non_http() -> None:
    with pytest.raises(endpoint.EndpointError, match="--target 'vllm:8000' is not an http"):
        endpoint.base_url("vllm:8000")


def test_resolve_model() -> None:
    assert endpoint.resolve_model(["a"], None, "u") == "a"
    assert endpoint.resolve_model(["a", "b"], "b", "u") == "b"
    with pytest.raises(endpoint.EndpointError, match=r"serves 2 models \(a, b\); choose one with --model"):
        endpoint.resolve_model(["a", "b"], None, "u")
    with pytest.raises(endpoint.EndpointError, match=r"'c' \(--model\) is not served by u; served models: a, b"):
        endpoint.resolve_model(["a", "b"], "c", "u")


def test_api_key_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    assert endpoint.read_api_key(None) == "from-env"
    key = tmp_path / "key"
    key.write_text("from-file\n")
    assert endpoint.read_api_key(key) == "from-file"
    monkeypatch.delenv("OPENAI_API_KEY")
    assert endpoint.read_api_key(None) is None
    with pytest.raises(endpoint.EndpointError, match="cannot read --api-key-file"):
        endpoint.read_api_key(tmp_path / "missing")
    key.write_text(" \n")
    with pytest.raises(endpoint.EndpointError, match=r"--api-key-file .* is empty"):
        endpoint.read_api_key(key)


def test_not_an_openai_server() -> None:
    """A server that answers /v1/models with something else (a real local HTTP server)."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html>hello</html>" if self.path == "/v1/models" else b""
            self.send_response(200 if body else 404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(endpoint.EndpointError, match="did not return an OpenAI model list"):
            endpoint.served_models(url, None)
        with pytest.raises(endpoint.EndpointError, match="has no /v1/models"):
            endpoint.served_models(url + "/sub", None)
    finally:
        server.shutdown()
