"""A chat-completions server that replays scripted Llama Guard answers, for the adapter's edge cases.

The answers are in the output format the Llama Guard 3 model card documents ("safe"; "unsafe" and a line of
codes; vLLM's completions also start with blank lines). They were written for these tests, not recorded from a
live model: no Llama Guard can run on the development machines. Each user text maps to one scripted reply
(data/replay.json): the answer text, or an HTTP status, a finish_reason, a delay, or a non-JSON body.
Every request is kept (GET /calls) so a test can check what the adapter sent; API_KEY, when set, is required.

    python tests/workloads/moderation/replay_upstream.py data/replay.json   # prints {"port": N}
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def main(script_path: str) -> int:
    script: dict[str, dict[str, Any]] = json.loads(Path(script_path).read_text())["replies"]
    key = os.environ.get("API_KEY", "")
    calls: list[dict[str, Any]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *a: Any) -> None:
            return

        def _send(self, status: int, data: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            with lock:
                body = json.dumps(calls).encode()
            self._send(200, body) if self.path == "/calls" else self._send(404, b"{}")

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            auth = self.headers.get("Authorization", "")
            with lock:
                calls.append({"path": self.path, "body": body, "authorization": auth})
            if key and auth != f"Bearer {key}":
                self._send(401, b'{"error": {"message": "invalid API key"}}')
                return
            text = body["messages"][-1]["content"]
            reply = script.get(text, {"answer": "safe"})
            time.sleep(reply.get("delay_s", 0))
            if "status" in reply:
                self._send(reply["status"], b'{"error": {"message": "scripted failure"}}')
            elif "raw_body" in reply:
                self._send(200, reply["raw_body"].encode(), "text/plain")
            else:
                message = {"role": "assistant", "content": reply["answer"]}
                choice = {"index": 0, "message": message, "finish_reason": reply.get("finish_reason", "stop")}
                self._send(
                    200,
                    json.dumps(
                        {
                            "id": "chatcmpl-replay",
                            "object": "chat.completion",
                            "model": body.get("model"),
                            "choices": [choice],
                        }
                    ).encode(),
                )

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
