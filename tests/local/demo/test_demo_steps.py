"""The demo's pieces without the whole run (tests/e2e/test_demo.py runs it whole): the `local` stack as the program
renders it, translated to this machine (addresses, secrets, paths) without starting anything; its questions file;
its parallel start-up; and its shutdown when a step fails or it is sent SIGTERM."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from local.demo import cli
from local.demo.benchmark import plan_benchmark
from local.demo.context import Demo, StepError
from local.demo.ingest import plan_ingest
from local.demo.processes import NOT_STARTED, STAND_INS, WAVES, Launch, flags, image_name, plan
from local.demo.questions import QUESTIONS, load_questions, write_questions
from local.demo.start import _start_wave
from local.envs import ROOT, has_venv
from local.llm_server import LlmServerError, find_gguf
from local.process import ProcessError
from local.rendered import RenderedStack, render
from local.services import start_redis, start_tiny_upstream
from local.site import TranslationError, divergence_table


@pytest.fixture(scope="module")
def rendered() -> RenderedStack:
    return render()


def _demo(rendered: RenderedStack, data: Path) -> Demo:
    args = argparse.Namespace(data_dir=str(data), startup_timeout=60.0, bench_seconds=45)
    return Demo.create(args, rendered)


def _launch(launches: list[Launch], image: str) -> Launch:
    return next(x for x in launches if image_name(x.container.image) == image)


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


def test_every_rendered_workload_runs_here_or_is_named_as_not_started(rendered: RenderedStack, tmp_path: Path) -> None:
    demo = _demo(rendered, tmp_path)
    launches = plan(demo)
    started = {x.container.key for x in launches}
    assert started == {
        "rag/redis",
        "serving/smollm2-cpu",
        "serving/llama-guard-3-1b-cpu",
        "serving/all-minilm-l6-v2",
        "rag/moderation",
        "rag/gateway",
        "rag/rag-app",
    }
    for c in rendered.containers:
        assert c.key in started or c.init or image_name(c.image) in NOT_STARTED, c.key
    assert set().union(*WAVES) == set(STAND_INS)  # every stand-in has a place in the start order
    # one local port per workload, and each Service of the workload maps to it
    assert len(set(demo.site.ports.values())) == len(demo.site.ports)


def test_the_docs_table_is_what_the_demo_prints_for_this_program(rendered: RenderedStack, tmp_path: Path) -> None:
    demo = _demo(rendered, tmp_path)
    plan_ingest(demo)  # in the order of cli.run_steps
    plan_benchmark(demo)
    plan(demo)
    table = divergence_table(demo.site.divergences)
    assert table in (ROOT / "docs" / "demo.md").read_text(), f"update docs/demo.md with:\n{table}"


def test_translated_configs_point_here_and_hold_no_secret(rendered: RenderedStack, tmp_path: Path) -> None:
    demo = _demo(rendered, tmp_path)
    plan(demo)
    site = demo.site
    gateway = rendered.container("rag", "gateway")
    config = site.config_yaml(gateway, site.mounted_config(gateway, "/etc/litellm/config.yaml"))
    text = yaml.safe_dump(config)
    assert "svc.cluster.local" not in text
    cache = config["litellm_settings"]["cache_params"]
    assert (cache["host"], cache["port"]) == ("127.0.0.1", site.ports["rag/redis"])
    assert cache["password"] == "os.environ/REDIS_PASSWORD"  # the reference is kept; the value comes from the env
    llm = next(m for m in config["model_list"] if m["model_name"] == "smollm2-cpu")["litellm_params"]
    assert llm["api_base"] == f"http://127.0.0.1:{site.ports['serving/smollm2-cpu']}/v1"
    guard = next(g for g in config["guardrails"] if g["guardrail_name"] == "llama-guard")["litellm_params"]
    assert guard["api_base"] == f"http://127.0.0.1:{site.ports['rag/moderation']}/v1"

    app = rendered.container("rag", "rag-app")
    run = site.config_yaml(app, site.mounted_config(app, "/etc/ogx/run.yaml"))
    milvus = next(p for p in run["providers"]["vector_io"] if p["provider_id"] == "milvus")["config"]
    assert milvus["uri"] == str(site.milvus_lite)  # the Helm release's address -> the Milvus Lite file
    assert run["storage"]["backends"]["sql_default"]["db_path"] == str(tmp_path / "pods/rag-app/data/sql/sql_store.db")
    assert "svc.cluster.local" not in yaml.safe_dump(run)

    secrets = site.secrets.all_values()
    env = site.env(gateway)
    assert env["REDIS_PASSWORD"] in secrets and env["LITELLM_MASTER_KEY"].startswith("sk-")
    assert env["LITELLM_MASTER_KEY"].removeprefix("sk-") in secrets  # the rendered key's shape, a local password
    for value in secrets:
        assert value not in text and value not in yaml.safe_dump(run)
        assert not any(value in line for line in site.secrets.table())
    assert all(len(v) >= 20 for v in secrets)
    assert rendered.secrets[("rag", "redis-auth")]["password"].text not in secrets  # not the mock value


def test_keys_the_pods_read_from_files_are_mode_600_files_here(rendered: RenderedStack, tmp_path: Path) -> None:
    demo = _demo(rendered, tmp_path)
    plan(demo)
    site = demo.site
    server = rendered.container("serving", "smollm2-cpu")
    key_file = Path(site.text(server, "/var/run/secrets/leanrag/llama-api-key-file"))
    assert key_file.read_text() == site.secrets.value("serving", "serving-api-key", "api-key")
    assert key_file.stat().st_mode & 0o077 == 0 and key_file.is_relative_to(tmp_path / "secrets")
    moderation = rendered.container("rag", "moderation")
    env = site.env(moderation)
    assert Path(env["SAFETY_API_KEY_FILE"]).read_text() == key_file.read_text()  # the serving key, as rendered
    assert (
        Path(env["MODERATION_API_KEY_FILE"]).read_text()
        == site.env(rendered.container("rag", "gateway"))["MODERATION_API_KEY"]
    )


def test_redis_gets_the_rendered_config_with_its_password_from_the_secret_volume(
    rendered: RenderedStack, tmp_path: Path
) -> None:
    demo = _demo(rendered, tmp_path)
    launch = _launch(plan(demo), "redis")
    service = demo.started(launch.start())
    try:
        assert demo.running.redis is not None
        password = demo.site.secrets.value("rag", "redis-auth", "password")
        assert demo.running.redis.password == password
        assert demo.running.redis.cli("CONFIG", "GET", "appendonly").split() == ["appendonly", "yes"]  # rendered
        conf = (tmp_path / "config/redis/redis.conf").read_text()
        assert password not in conf  # it comes from the included auth.conf, mode 600
        include = re.search(r"^include (\S+)$", conf, re.M)
        assert include and Path(include[1]).stat().st_mode & 0o077 == 0
    finally:
        demo.services.stop_all()
    assert not psutil.pid_exists(service.pid) or psutil.Process(service.pid).status() == psutil.STATUS_ZOMBIE


def test_an_unknown_rendered_flag_stops_the_demo_before_anything_starts(rendered: RenderedStack) -> None:
    server = rendered.container("serving", "smollm2-cpu")
    known = {"--model", "--alias", "--host", "--port", "--ctx-size", "--threads", "--api-key-file"}
    assert flags(server, known, {"--jinja"})["--api-key-file"] == "/var/run/secrets/leanrag/llama-api-key-file"
    with pytest.raises(TranslationError, match=r"--threads has no local translation"):
        flags(server, known - {"--threads"})


def test_a_wave_starts_in_parallel_and_tracks_what_started_before_a_failure(
    rendered: RenderedStack, tmp_path: Path
) -> None:
    demo = _demo(rendered, tmp_path)
    container = rendered.container("rag", "redis")

    def upstream(name: str) -> Launch:
        return Launch(container, lambda: start_tiny_upstream(tmp_path / name).service, name)

    def broken() -> Launch:
        def start() -> object:
            raise ProcessError("no such server")

        return Launch(container, start, "broken")  # type: ignore[arg-type]

    t0 = time.monotonic()
    with pytest.raises(ProcessError, match="no such server"):
        _start_wave(demo, [upstream("a"), broken(), upstream("b")])
    try:
        assert len(demo.services.started) == 2  # both that started are tracked, so shutdown stops them
        assert time.monotonic() - t0 < 30
    finally:
        demo.services.stop_all()


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
    def start_then_fail(demo: Demo) -> None:  # step 1 starts a real redis-server, then fails
        demo.started(start_redis(demo.data / "redis", demo.log("redis")).service)
        raise StepError("the llama.cpp server did not start")

    monkeypatch.setattr(cli, "start_all", start_then_fail)
    data = tmp_path / "demo"
    assert cli.main(["--data-dir", str(data), "--no-benchmark"]) == 1
    out = capsys.readouterr().out
    assert "FAILED: the llama.cpp server did not start" in out and "[8] shutting down" in out
    assert "stopped redis (pid" in out and out.rstrip().endswith("FAILED")
    state = json.loads((data / "state.json").read_text())
    assert (state["stopped"], state["exit_code"]) == (True, 1)
    assert set(state["services"]) == {"redis"}
    assert not psutil.pid_exists(state["services"]["redis"]["pid"])  # stopped and reaped
    assert _left_behind(os.getpid()) == []


@pytest.mark.slow
@pytest.mark.skipif(not has_venv("ingest"), reason="needs .venvs/ingest (make venv-ingest)")
def test_sigterm_stops_every_service_and_records_the_interruption(tmp_path: Path) -> None:
    try:
        find_gguf()
    except LlmServerError as err:
        pytest.skip(f"needs the llama.cpp server environment: {err}")
    data = tmp_path / "demo"
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.demo", "--data-dir", str(data), "--no-benchmark"],
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
    out, _ = proc.communicate(timeout=900)  # the starts under way end first (the safety stand-in: minutes)
    assert proc.returncode == 130, out
    assert "interrupted: stopping services" in out and "stopped redis" in out and out.rstrip().endswith("interrupted")
    state = json.loads(state_file.read_text())
    assert (state["stopped"], state["exit_code"]) == (True, 130)
    assert "rag-app" not in state["services"]  # the later waves never started
    assert _left_behind(proc.pid) == []
