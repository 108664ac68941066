"""local/json_server.py, the HTTP side the harness's small servers share, on a real ThreadingHTTPServer: the
routes of a one-model server, the Bearer key (the key alone, without the scheme, is refused), JSON bodies,
OpenAI model lists and message text."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from local.json_server import OneModelHandler, message_text
from local.process import http_json


class _Echo(OneModelHandler):
    api_key = "sk-secret"
    model_id = "echo-model"
    post_route = "/v1/echo"

    def answer(self, body: dict[str, Any]) -> None:
        self.send_json(200, {"text": message_text(body.get("content"))})


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


AUTH = {"Authorization": "Bearer sk-secret"}


@pytest.mark.parametrize("header", [None, "Bearer wrong", "sk-secret", "Basic sk-secret", "Bearer"])
def test_requests_without_the_bearer_key_are_refused(base: str, header: str | None) -> None:
    headers = {"Authorization": header} if header else None
    for method, path in [("GET", "/v1/models"), ("POST", "/v1/echo")]:
        status, body, _ = http_json(method, f"{base}{path}", {} if method == "POST" else None, headers=headers)
        assert status == 401 and body["error"] == {"message": "invalid API key", "type": "invalid_request_error"}


def test_health_needs_no_key_and_unknown_routes_are_404(base: str) -> None:
    assert http_json("GET", f"{base}/health")[:2] == (200, {"status": "ok"})
    assert http_json("GET", f"{base}/v1/other", headers=AUTH)[0] == 404
    status, body, _ = http_json("POST", f"{base}/v1/other", {}, headers=AUTH)
    assert status == 404 and body["error"]["message"] == "no route /v1/other"


def test_the_model_is_listed_the_openai_way(base: str) -> None:
    status, body, _ = http_json("GET", f"{base}/v1/models/", headers=AUTH)
    assert status == 200 and body["object"] == "list"
    assert [(m["id"], m["object"], m["owned_by"]) for m in body["data"]] == [("echo-model", "model", "local")]


def test_json_bodies_and_message_text(base: str) -> None:
    parts = {"content": [{"type": "text", "text": "hello"}, {"type": "text", "text": "world"}, "odd"]}
    assert http_json("POST", f"{base}/v1/echo/?q=1", parts, headers=AUTH)[:2] == (200, {"text": "hello world"})
    assert http_json("POST", f"{base}/v1/echo", {"content": "plain"}, headers=AUTH)[1]["text"] == "plain"
    assert http_json("POST", f"{base}/v1/echo", {"content": 5}, headers=AUTH)[1]["text"] is None
    status, body, _ = http_json("POST", f"{base}/v1/echo", ["not", "an", "object"], headers=AUTH)  # type: ignore[arg-type]
    assert status == 400 and body["error"]["message"] == "body must be a JSON object"
