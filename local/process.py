"""Process, port and HTTP helpers of the local harness: the one place where processes are started, waited on and
stopped, ports are picked and HTTP requests are made.

Processes run on `mirakuru` (PyPI; https://github.com/ClearcodeHQ/mirakuru), a well-kept executor for test
services: it starts each command in a session of its own (`setsid`, so the process leads its own group), polls a
readiness check until it answers, the process exits or the timeout passes, and stops the whole group with SIGTERM,
then SIGKILL; it also marks every descendant through an environment variable and kills any that left the group.
What this module adds: each process logs to a file, failures become one `ProcessError` naming the process and
its log (with the log's tail), readiness is any callable (HTTP helpers below build the usual ones), and the grace
period of a stop is its own setting (mirakuru reuses the start-up timeout for it).

HTTP uses the standard library (`urllib`): JSON in and out, never raising on 4xx/5xx.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Self

from mirakuru import Executor, SimpleExecutor
from mirakuru.exceptions import AlreadyRunning, ProcessExitedWithError, ProcessFinishedWithError, TimeoutExpired

LOOPBACK = "127.0.0.1"
STOP_GRACE_S = 10.0
"""Seconds a process gets between SIGTERM and SIGKILL."""

Ready = Callable[[], bool]
"""A readiness check: True once the process serves; OSError and ValueError count as not yet."""


class ProcessError(RuntimeError):
    """A local process failed to start, to become ready or to finish; the message names it and its log."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that was free a moment ago (the caller's process binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = LOOPBACK) -> bool:
    """Whether something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file ("(no log)" when it cannot be read)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ---------------------------------------------------------------------------------------------------- HTTP


def _send(request: urllib.request.Request, timeout: float) -> tuple[int, dict[str, Any], dict[str, str]]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            raw, status, headers = resp.read(), resp.status, resp.headers
    except urllib.error.HTTPError as err:
        raw, status, headers = err.read(), err.code, err.headers
    try:
        parsed = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        parsed = {"raw": raw.decode(errors="replace")}
    if not isinstance(parsed, dict):
        parsed = {"value": parsed}
    return status, parsed, {k.lower(): v for k, v in headers.items()}


def http_json(
    method: str,
    url: str,
    body: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """One HTTP request with a JSON body; returns (status, parsed JSON or {}, lower-cased headers).

    Never raises on 4xx/5xx; a body that is not JSON comes back as {"raw": text}. Connection errors raise OSError.
    """
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    return _send(request, timeout)


def http_upload(
    url: str,
    filename: str,
    content: bytes,
    fields: Mapping[str, str],
    headers: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """POST one file as multipart/form-data (field `file`) with plain form fields; returns like `http_json`."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    head = "".join(parts) + (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    )
    data = head.encode() + content + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", **(headers or {})},
    )
    return _send(request, timeout)


def http_ready(
    url: str,
    headers: Mapping[str, str] | None = None,
    accept: Callable[[int, dict[str, Any]], bool] = lambda status, _body: status == 200,
) -> Ready:
    """A readiness check: GET url answers and `accept(status, body)` holds (default: HTTP 200)."""

    def ready() -> bool:
        status, body, _ = http_json("GET", url, headers=headers, timeout=2)
        return accept(status, body)

    return ready


def serves_model(model: str) -> Callable[[int, dict[str, Any]], bool]:
    """`accept` for `http_ready` on an OpenAI-style /v1/models: HTTP 200 and the list names `model`."""
    return lambda status, body: status == 200 and any(m.get("id") == model for m in body.get("data", []))


# ---------------------------------------------------------------------------------------------------- services


class _ServiceExecutor(Executor):
    """mirakuru's Executor with a callable readiness check, a port that must be free, and its own stop grace."""

    def __init__(self, command: Sequence[str], ready: Ready, port: int | None, grace_s: float, **kwargs: Any) -> None:
        super().__init__(list(command), **kwargs)
        self._ready = ready
        self._port = port
        self._grace_s = grace_s

    def pre_start_check(self) -> bool:  # True means "already running": mirakuru then refuses to start
        return self._port is not None and port_open(self._port)

    def after_start_check(self) -> bool:
        if self.process is not None and self.process.poll() is not None:  # exited with 0 (non-zero raises above)
            raise ProcessExitedWithError(self, 0)
        try:
            return self._ready()
        except (OSError, ValueError):  # refused, reset, timed out, half-written JSON: not ready yet
            return False

    def stop(self, stop_signal: int | None = None, expected_returncode: int | None = None) -> Self:
        self._timeout = self._grace_s  # mirakuru waits "timeout" seconds after SIGTERM before SIGKILL
        return super().stop(stop_signal, expected_returncode)


@dataclass
class Service:
    """One started process: its name, port, log, pid; stops its whole group (context manager too)."""

    name: str
    port: int | None
    log: Path
    pid: int
    _executor: _ServiceExecutor = field(repr=False)
    exit_code: int | None = None

    @property
    def process(self) -> subprocess.Popen[str] | None:
        """The running process (None once stopped)."""
        return self._executor.process

    def alive(self) -> bool:
        return self._executor.running()

    def stop(self) -> int | None:
        """SIGTERM to the group, SIGKILL after the grace period, then to any descendant left; returns the exit code."""
        process = self._executor.process
        if process is None:
            return self.exit_code
        # An exit code other than -SIGTERM is reported through exit_code, not raised: the group is gone either way.
        with contextlib.suppress(ProcessFinishedWithError):
            self._executor.stop()
        self._executor.kill()  # SIGKILL to any descendant that is still shutting down or left the group
        self.exit_code = process.returncode
        return self.exit_code

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _popen_options(out: IO[bytes], env: Mapping[str, str] | None, cwd: Path | None) -> dict[str, Any]:
    """How every harness process runs: no stdin, stdout and stderr into its log, extra environment, a folder."""
    return {
        "envvars": dict(env or {}),
        "cwd": str(cwd) if cwd else None,
        "stdin": subprocess.DEVNULL,
        "stdout": out,
        "stderr": subprocess.STDOUT,
    }


def _open_log(log: Path, header: str) -> IO[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    out = log.open("ab")
    out.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} {header}\n".encode())
    out.flush()
    return out


def start_service(
    name: str,
    command: Sequence[str],
    *,
    log: Path,
    ready: Ready,
    timeout_s: float,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    grace_s: float = STOP_GRACE_S,
) -> Service:
    """Start `command` in its own process group, output appended to `log`, and wait until `ready()` is True.

    `port`, when given, must be free before the start. `env` is added to this process's environment (secrets go
    here, never on the command line). Raises ProcessError (with the log's tail) when the process exits first, is
    not ready within `timeout_s` (it is killed) or the port is taken.
    """
    where = f" on {LOOPBACK}:{port}" if port else ""
    with _open_log(log, f"starting {name}{where}") as out:
        executor = _ServiceExecutor(
            command,
            ready,
            port,
            grace_s,
            timeout=timeout_s,
            sleep=0.3,
            **_popen_options(out, env, cwd),
        )
        try:
            executor.start()
        except AlreadyRunning:
            raise ProcessError(f"{name} cannot start: port {port} is already in use; log {log}") from None
        except ProcessExitedWithError as err:
            executor.kill()  # any descendant it left
            raise ProcessError(
                f"{name} exited with code {err.exit_code} before it was ready; log {log}:\n{tail(log)}"
            ) from None
        except TimeoutExpired:  # mirakuru has killed the group already
            raise ProcessError(f"{name} not ready after {timeout_s:.0f}s; log {log}:\n{tail(log)}") from None
        except BaseException:  # Ctrl-C while waiting: leave nothing behind
            executor.kill()
            raise
    assert executor.process is not None
    return Service(name, port, log, executor.process.pid, executor)


class ServiceGroup:
    """Services started together and stopped together, newest first."""

    def __init__(self) -> None:
        self.started: list[Service] = []

    def add(self, service: Service) -> Service:
        self.started.append(service)
        return service

    def stop_all(self) -> list[str]:
        """Stop every service; returns one line per service saying what was stopped."""
        report = []
        while self.started:
            service = self.started.pop()
            report.append(f"stopped {service.name} (pid {service.pid}, exit {service.stop()})")
        return report


# ---------------------------------------------------------------------------------------------------- jobs


def run_job(
    name: str,
    command: Sequence[str],
    *,
    log: Path,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> str:
    """Run a one-shot command in its own process group, output appended to `log`; returns that output.

    Raises ProcessError (with the log's tail) on a non-zero exit or after `timeout_s`; the whole group is killed
    on a timeout, Ctrl-C or any other error.
    """
    with _open_log(log, " ".join(command)) as out:
        start = out.tell()
        executor = SimpleExecutor(list(command), **_popen_options(out, env, cwd))
        executor.start()
        assert executor.process is not None
        process = executor.process
        try:
            code = process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            executor.kill(sig=signal.SIGKILL)
            raise ProcessError(f"{name} did not finish within {timeout_s:.0f}s; log {log}:\n{tail(log)}") from None
        except BaseException:
            executor.kill(sig=signal.SIGKILL)
            raise
        executor.kill(sig=signal.SIGKILL)  # anything the job left running in its group
    with log.open("rb") as fh:
        fh.seek(start)
        text = fh.read().decode(errors="replace")
    if code != 0:
        raise ProcessError(f"{name} failed with exit code {code}; log {log}:\n{tail(log)}")
    return text
