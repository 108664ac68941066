"""What the harness's own small HTTP servers share (tiny_openai_server.py, embedding_server.py): JSON replies and
request bodies, OpenAI-style errors, an optional Bearer key, and `serve()`, which prints the bound port as one JSON
line. Standard library only: these servers run in environments without the harness's dependencies."""

from __future__ import annotations

import contextlib
import hmac
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JsonHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    api_key = ""
    """When set (on a subclass), every request must send it as `Authorization: Bearer <key>`."""

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the servers' logs hold errors only
        return

    @property
    def route(self) -> str:
        """The request path without query string or trailing slash."""
        return self.path.split("?")[0].rstrip("/") or "/"

    def send_json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_error_json(self, status: int, message: str) -> None:
        self.send_json(status, {"error": {"message": message, "type": "invalid_request_error"}})

    def read_json(self) -> dict[str, Any] | None:
        """The request body as a JSON object; None (after a 400 reply) when it is not one."""
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError as exc:
            self.send_error_json(400, f"body is not JSON: {exc}")
            return None
        if not isinstance(body, dict):
            self.send_error_json(400, "body must be a JSON object")
            return None
        return body

    def authorized(self) -> bool:
        """True when no key is set or the request sends it; else replies 401 and returns False."""
        if not self.api_key:
            return True
        sent = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if hmac.compare_digest(sent.encode(), self.api_key.encode()):
            return True
        self.send_error_json(401, "invalid API key")
        return False


def serve(handler: type[BaseHTTPRequestHandler], host: str, port: int, **announce: Any) -> int:
    """Serve until interrupted; first prints {"port": N, **announce} (N is the bound port, useful with port 0)."""
    server = ThreadingHTTPServer((host, port), handler)
    print(json.dumps({"port": server.server_address[1], **announce}), flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    server.server_close()
    return 0
