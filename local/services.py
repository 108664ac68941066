"""Local service processes for `python -m local.demo`: each runs in its own process group on 127.0.0.1,
logs to a file, and is stopped (group-wide, TERM then KILL) by `Services.stop_all`. Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class ServiceError(RuntimeError):
    """A service failed to start; the message names the service and its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def http_json(
    method: str, url: str, body: dict | None = None, headers: dict[str, str] | None = None, timeout: float = 120.0
) -> tuple[int, dict, dict[str, str]]:
    """One HTTP request; returns (status, parsed JSON or {}, lower-cased headers). No raise on 4xx/5xx."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw, status, hdrs = resp.read(), resp.status, resp.headers
    except urllib.error.HTTPError as err:
        raw, status, hdrs = err.read(), err.code, err.headers
    try:
        parsed = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        parsed = {"raw": raw.decode(errors="replace")}
    return status, parsed, {k.lower(): v for k, v in hdrs.items()}


@dataclass
class Service:
    name: str
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None


@dataclass
class Services:
    """Starts services in their own sessions (process groups) and stops them all, newest first."""

    log_dir: Path
    started: list[Service] = field(default_factory=list)

    def start(
        self,
        name: str,
        cmd: list[str],
        port: int,
        ready: Callable[[], bool],
        timeout_s: float,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Service:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            out.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name} on 127.0.0.1:{port}\n".encode())
            out.flush()
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                cwd=cwd,
                start_new_session=True,
            )
        svc = Service(name, port, log, proc)
        self.started.append(svc)
        deadline = time.monotonic() + timeout_s
        while True:
            if not svc.alive():
                raise ServiceError(
                    f"service {name} exited with code {proc.returncode} during start-up; log: {log}\n{tail(log)}"
                )
            try:
                if ready():
                    return svc
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise ServiceError(f"service {name} not ready after {timeout_s:.0f}s; log: {log}\n{tail(log)}")
            time.sleep(0.3)

    def stop_all(self, grace_s: float = 10.0) -> list[str]:
        """Stop every service (whole process group). Returns lines describing what was stopped."""
        report = []
        while self.started:
            svc = self.started.pop()
            report.append(f"stopped {svc.name} (pid {svc.pid}, exit {_stop_group(svc.process, grace_s)})")
        return report


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)  # the service is the leader of its own group (start_new_session)


def _stop_group(proc: subprocess.Popen[bytes], grace_s: float) -> int | None:
    if proc.poll() is None:
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait(grace_s)
    _signal_group(proc.pid, signal.SIGKILL)  # any child left behind in the group
    return proc.returncode


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie counts as gone
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
