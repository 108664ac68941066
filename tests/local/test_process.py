"""local/process.py with real processes (tests/local/procs.py): own process group, readiness, TERM then KILL,
errors naming the log, one-shot jobs, and the HTTP helpers against a real HTTP server."""

from __future__ import annotations

import http.server
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.process import (
    ProcessError,
    Service,
    ServiceGroup,
    free_port,
    http_json,
    http_ready,
    http_upload,
    port_open,
    run_job,
    serves_model,
    start_service,
    tail,
)

PROCS = Path(__file__).with_name("procs.py")


def _cmd(*args: str) -> list[str]:
    return [sys.executable, str(PROCS), *args]


def _serve(tmp_path: Path, name: str, mode: str = "serve", *extra: str, grace_s: float = 10.0) -> Service:
    """procs.py `mode` on a free port, ready once GET /ready answers 200."""
    port = free_port()
    return start_service(
        name,
        _cmd(mode, str(port), *extra),
        log=tmp_path / "logs" / f"{name}.log",
        ready=http_ready(f"http://127.0.0.1:{port}/ready"),
        timeout_s=20,
        port=port,
        grace_s=grace_s,
    )


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] == "Z"  # a zombie counts as gone
    except OSError:
        return True


def _wait_gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.05)
    return False


def test_service_runs_in_its_own_group_and_stops_with_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    service = _serve(tmp_path, "serve", "serve", str(pidfile))
    port, log = service.port, service.log
    assert port is not None
    assert service.alive() and port_open(port)
    assert os.getpgid(service.pid) == service.pid != os.getpgid(0)  # it leads a group of its own
    child = int(pidfile.read_text())
    assert os.getpgid(child) == service.pid
    assert service.stop() == -15  # SIGTERM was enough
    assert _wait_gone(child) and not port_open(port)
    assert not service.alive() and service.process is None
    assert "starting serve on 127.0.0.1:" in log.read_text() and f"serving on {port}" in log.read_text()
    assert service.stop() == -15  # a second stop is harmless


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    service = _serve(tmp_path, "stubborn", "stubborn", grace_s=1.0)
    t0 = time.monotonic()
    assert service.stop() == -9
    assert 0.9 < time.monotonic() - t0 < 8
    assert _gone(service.pid)


def test_exit_during_start_up_names_the_code_and_shows_the_log(tmp_path: Path) -> None:
    log = tmp_path / "fail.log"
    with pytest.raises(ProcessError, match=r"fail exited with code 3 before it was ready; log .*fail\.log") as err:
        start_service("fail", _cmd("fail", "3"), log=log, ready=lambda: False, timeout_s=20)
    assert "something went wrong: bad config" in str(err.value)


def test_not_ready_in_time_kills_the_process(tmp_path: Path) -> None:
    port = free_port()
    ready_calls = []

    def never() -> bool:
        ready_calls.append(1)
        raise OSError("connection refused")  # counts as "not yet", not as a failure

    with pytest.raises(ProcessError, match=r"serve not ready after 1s; log .*serve\.log"):
        start_service("serve", _cmd("serve", str(port)), log=tmp_path / "serve.log", ready=never, timeout_s=1)
    assert len(ready_calls) >= 2
    assert _wait_gone_port(port)


def _wait_gone_port(port: int) -> bool:
    deadline = time.monotonic() + 5
    while port_open(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_taken_port_is_refused(tmp_path: Path) -> None:
    with _serve(tmp_path, "first") as first:
        port = first.port
        assert port is not None
        with pytest.raises(ProcessError, match=f"second cannot start: port {port} is already in use"):
            start_service(
                "second",
                _cmd("serve", str(port)),
                log=tmp_path / "second.log",
                ready=lambda: True,
                timeout_s=5,
                port=port,
            )
    assert _gone(first.pid) or _wait_gone(first.pid)


def test_group_stops_newest_first_and_reports(tmp_path: Path) -> None:
    group = ServiceGroup()
    for name in ("a", "b"):
        group.add(_serve(tmp_path, name))
    lines = group.stop_all()
    assert [line.split()[1] for line in lines] == ["b", "a"]
    assert all(line.endswith("exit -15)") for line in lines)
    assert group.started == []


def test_run_job_returns_its_output_and_fails_with_the_log(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    assert "started" in run_job("sleeper", _cmd("sleep", "0"), log=log, timeout_s=20)
    with pytest.raises(ProcessError, match=r"failing failed with exit code 2; log .*job\.log") as err:
        run_job("failing", _cmd("fail", "2"), log=log, timeout_s=20)
    assert "bad config" in str(err.value)
    assert log.read_text().count("====") == 2  # one header per run, the log is appended to


def test_run_job_kills_a_job_that_runs_too_long(tmp_path: Path) -> None:
    t0 = time.monotonic()
    with pytest.raises(ProcessError, match=r"slow did not finish within 1s"):
        run_job("slow", _cmd("sleep", "60"), log=tmp_path / "slow.log", timeout_s=1)
    assert time.monotonic() - t0 < 10


def test_tail_reads_the_last_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_text("\n".join(str(i) for i in range(100)))
    assert tail(path, 3) == "97\n98\n99"
    assert tail(tmp_path / "missing.log") == "(no log)"


class _Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/v1/models":
            self._reply(200, json.dumps({"data": [{"id": "m1"}]}).encode())
        elif self.path == "/text":
            self._reply(500, b"plain failure")
        else:
            self._reply(404, b"")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        echo = {
            "content_type": self.headers["Content-Type"],
            "auth": self.headers.get("Authorization"),
            "body": body.decode(),
        }
        self._reply(201, json.dumps(echo).encode(), {"X-Seen": "yes"})

    def _reply(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def echo_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_helpers(echo_server: str) -> None:
    status, body, headers = http_json("POST", f"{echo_server}/x", {"a": 1}, headers={"Authorization": "Bearer k"})
    assert status == 201 and headers["x-seen"] == "yes"
    assert body == {"content_type": "application/json", "auth": "Bearer k", "body": '{"a": 1}'}
    status, body, _ = http_json("GET", f"{echo_server}/text")
    assert (status, body) == (500, {"raw": "plain failure"})
    status, body, _ = http_upload(f"{echo_server}/files", "a.txt", b"hello", {"purpose": "assistants"})
    assert status == 201 and body["content_type"].startswith("multipart/form-data; boundary=")
    assert 'name="purpose"\r\n\r\nassistants' in body["body"] and 'filename="a.txt"' in body["body"]
    assert "\r\n\r\nhello\r\n" in body["body"]
    assert http_ready(f"{echo_server}/v1/models", accept=serves_model("m1"))()
    assert not http_ready(f"{echo_server}/v1/models", accept=serves_model("m2"))()
    assert not http_ready(f"{echo_server}/missing")()
    with pytest.raises(OSError):
        http_json("GET", f"http://127.0.0.1:{free_port()}/", timeout=2)
