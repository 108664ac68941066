"""Small real processes for tests/local/test_process.py: `python tests/local/procs.py MODE [ARGS]`.

serve PORT [CHILD_PIDFILE]   HTTP server on 127.0.0.1:PORT (GET /ready -> 200); with a pidfile it first
                             starts a child (sleep) in its own process group and writes the child's pid
stubborn PORT                like serve, but ignores SIGTERM (only SIGKILL stops it)
fail CODE                    prints a line and exits with CODE
sleep SECONDS                prints "started" and sleeps
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path


class Ready(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ready" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


def serve(port: int) -> None:
    print(f"serving on {port}", flush=True)
    HTTPServer(("127.0.0.1", port), Ready).serve_forever()


def main(argv: list[str]) -> None:
    mode = argv[0]
    if mode == "serve":
        if len(argv) > 2:
            child = subprocess.Popen(["sleep", "300"])  # same process group as this one
            Path(argv[2]).write_text(str(child.pid))
        serve(int(argv[1]))
    elif mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        serve(int(argv[1]))
    elif mode == "fail":
        print("something went wrong: bad config", flush=True)
        sys.exit(int(argv[1]))
    elif mode == "sleep":
        print("started", flush=True)
        time.sleep(float(argv[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
