"""Run GuideLLM as a subprocess, one invocation per load point, keeping whatever finished.

GuideLLM writes its JSON only when a whole invocation ends, so an interrupted invocation leaves nothing
but its log. Running each load point on its own (every constant rate, and every benchmark of a sweep) means
every finished point survives; the log of the interrupted one is kept too, with its last progress line.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Literal

from workloads.benchmark.scenarios import Point, redacted

Status = Literal["complete", "failed", "interrupted", "skipped"]
_PROGRESS = re.compile(r"Benchmark \d+ \(.*\): (started|active|complete).*")
GUIDELLM = [sys.executable, "-m", "guidellm"]


@dataclass
class PointOutcome:
    name: str
    status: Status
    returncode: int | None = None
    json_file: str | None = None
    """Relative to the run directory."""
    log_file: str | None = None
    last_progress: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _StopRequest:
    """Turns SIGINT/SIGTERM into "stop the current GuideLLM process and end the run" instead of dying.

    Later signals are recorded but change nothing: the run still writes (and uploads) its partial report.
    Kubernetes sends SIGKILL after the pod's grace period, so GuideLLM gets `grace_s` to stop cleanly
    (an interrupted invocation writes no results anyway) before it is killed."""

    def __init__(self, grace_s: float) -> None:
        self.signum: int | None = None
        self.grace_s = grace_s
        self.child: subprocess.Popen[str] | None = None

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
        child = self.child
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGINT)  # GuideLLM shuts its workers down on SIGINT
            timer = threading.Timer(self.grace_s, _kill_if_running, args=(child,))
            timer.daemon = True
            timer.start()


def _kill_if_running(child: subprocess.Popen[str]) -> None:
    """GuideLLM did not stop within the grace period after SIGINT."""
    if child.poll() is None:
        child.kill()


@contextmanager
def _signals_to(stop: _StopRequest) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return
    previous = {s: signal.signal(s, stop.handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_one(
    point: Point,
    config: dict[str, Any],
    run_dir: Path,
    stop: _StopRequest,
    env: dict[str, str],
    echo: Callable[[str], None],
    guidellm: list[str],
) -> PointOutcome:
    gl_dir = run_dir / "guidellm"
    gl_dir.mkdir(parents=True, exist_ok=True)
    json_path = Path(config["spec"]["outputs"][0]["path"])
    log_path = gl_dir / f"{point.name}.log"
    (gl_dir / f"{point.name}.scenario.json").write_text(json.dumps(redacted(config), indent=2))
    outcome = PointOutcome(point.name, "failed", log_file=str(log_path.relative_to(run_dir)))
    started = time.monotonic()
    # The scenario holds the API key: a private temporary file, removed as soon as GuideLLM has read it.
    with tempfile.TemporaryDirectory(prefix="guidellm-") as secret_dir:
        scenario_file = Path(secret_dir) / "scenario.json"
        fd = os.open(scenario_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(config, handle)
        cmd = [*guidellm, "run", "--scenario", str(scenario_file), "--disable-progress"]
        with log_path.open("w") as log:
            child = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                start_new_session=True,  # signals reach it only through us, once
            )  # fmt: skip
            stop.child = child
            if stop.signum is not None:  # a signal arrived while we were starting it
                stop.handle(stop.signum, None)
            assert child.stdout is not None
            for line in child.stdout:
                log.write(line)
                log.flush()
                if match := _PROGRESS.search(line):
                    outcome.last_progress = match.group(0).strip()
                    echo(f"  {point.name}: {outcome.last_progress}")
            outcome.returncode = child.wait()
            stop.child = None
    outcome.seconds = round(time.monotonic() - started, 1)
    if json_path.exists():
        outcome.json_file = str(json_path.relative_to(run_dir))
    if stop.signum is not None:
        outcome.status = "interrupted"
    elif outcome.returncode == 0 and outcome.json_file:
        outcome.status = "complete"
    return outcome


class Session:
    """Runs GuideLLM invocations one at a time. While the session is open, SIGINT and SIGTERM stop the
    current invocation and end the run (`signum`) instead of killing the process, so that the caller can
    still write and upload what finished."""

    def __init__(
        self,
        run_dir: Path,
        *,
        env: dict[str, str] | None = None,
        echo: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr, flush=True),
        guidellm: list[str] | None = None,
        grace_s: float = 10.0,
    ) -> None:
        self.run_dir = run_dir
        self.env = {**os.environ, **(env or {})}
        self.echo = echo
        self.guidellm = guidellm or GUIDELLM
        self._stop = _StopRequest(grace_s)
        self._signals: Any = None

    @property
    def signum(self) -> int | None:
        return self._stop.signum

    def __enter__(self) -> Session:
        self._signals = _signals_to(self._stop)
        self._signals.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._signals.__exit__(*exc)

    def run(self, point: Point, config: dict[str, Any], label: str) -> PointOutcome:
        """Run one point; `label` (e.g. "[2/5]") prefixes the progress lines."""
        self.echo(f"{label} GuideLLM {point.name}: starting")
        outcome = _run_one(point, config, self.run_dir, self._stop, self.env, self.echo, self.guidellm)
        self.echo(
            f"{label} GuideLLM {point.name}: {outcome.status} "
            f"(exit {outcome.returncode}, {outcome.seconds:.0f}s, log {outcome.log_file})"
        )
        if outcome.status == "failed":
            self.echo(tail(self.run_dir / (outcome.log_file or ""), 15))
        return outcome


def tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
