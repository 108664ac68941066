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
    Point,
    Target,
    guidellm_scenario,
    points,
    redacted,
    scenario,
    sweep_points,
    sweep_rates,
)


def test_named_scenarios() -> None:
    shapes = {name: (s.prompt_tokens, s.output_tokens) for name, s in SCENARIOS.items()}
    assert shapes == {"chat": (512, 128), "rag": (2048, 256), "long-context": (8192, 256), "smoke": (64, 16)}
    with pytest.raises(ValueError, match="unknown --scenario 'nope'; choose one of: chat, rag"):
        scenario("nope")


def test_points_per_profile() -> None:
    assert [p.name for p in points(Load("synchronous"))] == ["synchronous"]
    # A sweep is one GuideLLM invocation per benchmark (so each finished one is kept): synchronous, throughput,
    # then placeholders for the constant rates, which are known only once the first two have run.
    sweep = points(Load("sweep", sweep_size=5))
    assert [p.name for p in sweep] == ["synchronous", "throughput", "sweep-3", "sweep-4", "sweep-5"]
    assert [p.planned for p in sweep] == [True, True, False, False, False]
    assert sweep[1].profile == {"kind": "throughput", "max_concurrency": 512}
    constant = points(Load("constant", (0.5, 2.0)))
    assert [p.name for p in constant] == ["constant-0.5rps", "constant-2rps"]
    assert constant[1].profile == {"kind": "constant", "rate": [2.0]}


@pytest.mark.parametrize(("sync", "peak", "size"), [(1.0, 9.0, 10), (0.8, 0.85, 4), (2.0, 3.0, 3), (1.0, 5.0, 2)])
def test_sweep_rates_follow_guidellms_rule(sync: float, peak: float, size: int) -> None:
    """GuideLLM's SweepProfile: np.linspace(synchronous rate, throughput rate, sweep_size - 1)[1:]."""
    import numpy as np

    assert sweep_rates(sync, peak, size) == pytest.approx(list(np.linspace(sync, peak, size - 1)[1:]))
    planned = sweep_points(sweep_rates(sync, peak, size))
    assert len(planned) == size - 2
    assert all(p.profile and p.profile["kind"] == "constant" and p.profile["max_concurrency"] == 512 for p in planned)


def test_sweep_rates_edge_cases() -> None:
    with pytest.raises(ValueError, match="no request succeeded in the synchronous and throughput benchmarks"):
        sweep_rates(0.0, 0.0, 10)
    assert sweep_rates(1.0, 0.0, 4) == pytest.approx([0.5])  # GuideLLM stops at the first rate <= 0
    # Rates that round alike still get distinct names (they become file names).
    assert [p.name for p in sweep_points([0.81234, 0.81236, 0.9])] == [
        "constant-0.812rps",
        "constant-0.812rps-2",
        "constant-0.9rps",
    ]


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


PLANNED_POINTS = [
    points(Load("synchronous"))[0],
    points(Load("sweep", sweep_size=4))[1],  # throughput
    sweep_points([2.5])[0],  # a sweep's constant rate
    points(Load("constant", (1.5,)))[0],
]


@pytest.mark.parametrize("point", PLANNED_POINTS, ids=lambda p: p.name)
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_guidellm_accepts_the_scenario_file(point: Point, name: str, tmp_path: Path) -> None:
    config = guidellm_scenario(
        point=point, workload=scenario(name), target=Target("http://vllm:8000", "m"),
        limits=Limits(60, 500), tokenizer="/models/tok", output_json=tmp_path / "out.json", api_key="sk-secret",
        slo={"ttft_ms": 500.0, "tpot_ms": 50.0},
    )  # fmt: skip
    parsed = BenchmarkScenario.model_validate(config)
    spec = parsed.spec
    assert spec.backend.kind == "openai_http"
    assert spec.backend.request_format == "/v1/completions"
    assert spec.backend.api_key.get_secret_value() == "sk-secret"
    assert spec.backend.validate_backend is False
    assert point.profile is not None and spec.profile.kind == point.profile["kind"]
    assert spec.data[0].prompt_tokens == SCENARIOS[name].prompt_tokens
    assert spec.data[0].output_tokens == SCENARIOS[name].output_tokens
    assert spec.tokenizer.model == "/models/tok"
    assert [c.kind for c in spec.constraints] == ["max_duration", "max_requests"]
    assert [(o.kind, str(o.path)) for o in spec.outputs] == [
        ("json", str(tmp_path / "out.json")),
        ("html", str(tmp_path / "out.html")),  # GuideLLM's own reports, next to ours
        ("csv", str(tmp_path / "out.csv")),
    ]
    assert spec.metrics.sample_size == 0  # no prompt/output texts in the results, every request's timings kept
    assert (spec.metrics.slo.ttft_ms, spec.metrics.slo.tpot_ms) == (500.0, 50.0)
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
