"""What the harness's own small HTTP servers share (tiny_openai_server.py, embedding_server.py,
safety_classifier.py, and the moderation tests' replay upstream): JSON replies and request bodies, OpenAI-style
errors and model lists, the text of a chat message, an optional Bearer key, the routes of a one-model server,
and `serve()`, which prints the bound
port (and any figures the server wants known) as one JSON line once it listens. Standard library only: these
servers run in environments without the harness's dependencies."""

from __future__ import annotations

import contextlib
import hmac
import json
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JsonHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    """TCP_NODELAY: a reply goes out as two writes (headers, then body), and on a kept-alive connection (OGX's and
    LiteLLM's HTTP clients keep theirs open) Nagle's algorithm held the body until the client's delayed ACK of the
    headers, about 40 ms on every call (the app's query embedding took 80 ms through OGX against 27 ms direct)."""
    api_key = ""
    """When set (on a subclass), requests must send it as `Authorization: Bearer <key>` (see `authorized`)."""

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the servers' logs hold errors only
        return

    @property
    def route(self) -> str:
        """The request path without query string or trailing slash."""
        return self.path.split("?")[0].rstrip("/") or "/"

    def send_body(self, status: int, data: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_json(self, status: int, body: Any) -> None:
        self.send_body(status, json.dumps(body).encode())

    def send_error_json(self, status: int, message: str) -> None:
        self.send_json(status, {"error": {"message": message, "type": "invalid_request_error"}})

    def send_models(self, model_ids: Iterable[str], owned_by: str = "local") -> None:
        """200 with an OpenAI /v1/models list of these ids."""
        data = [{"id": m, "object": "model", "owned_by": owned_by, "created": 0} for m in model_ids]
        self.send_json(200, {"object": "list", "data": data})

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
        """True when no key is set or the request sends `Authorization: Bearer <key>`; else replies 401 and
        returns False (the key alone, without the Bearer scheme, is refused too)."""
        if not self.api_key:
            return True
        scheme, _, sent = self.headers.get("Authorization", "").partition(" ")
        if scheme == "Bearer" and hmac.compare_digest(sent.strip().encode(), self.api_key.encode()):
            return True
        self.send_error_json(401, "invalid API key")
        return False


class OneModelHandler(JsonHandler):
    """A server of one model (embedding_server.py, safety_classifier.py): GET /health without the key, GET /v1/models
    listing `model_id`, and POST `post_route` answered by `answer(body)`; both need the key when it is set."""

    model_id = ""
    post_route = ""

    def do_GET(self) -> None:
        if self.route == "/health":  # a liveness check: no key
            self.send_json(200, {"status": "ok"})
        elif not self.authorized():
            return
        elif self.route == "/v1/models":
            self.send_models([self.model_id])
        else:
            self.send_error_json(404, f"no route {self.path}")

    def do_POST(self) -> None:
        body = self.read_json()
        if body is None or not self.authorized():
            return
        if self.route != self.post_route:
            self.send_error_json(404, f"no route {self.path}")
            return
        self.answer(body)

    def answer(self, body: dict[str, Any]) -> None:
        """Reply to a POST to `post_route` whose JSON body is `body` (the key already checked)."""
        raise NotImplementedError


def message_text(content: Any) -> str | None:
    """The text of a chat message's `content`: a string, or OpenAI content parts joined by spaces (their `text`);
    None when it is neither."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return None


def serve(handler: type[BaseHTTPRequestHandler], host: str, port: int, **announce: Any) -> int:
    """Serve until interrupted; once listening, first prints {"port": N, **announce} (N is the bound port, useful
    with port 0)."""
    server = ThreadingHTTPServer((host, port), handler)
    print(json.dumps({"port": server.server_address[1], **announce}), flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    server.server_close()
    return 0
