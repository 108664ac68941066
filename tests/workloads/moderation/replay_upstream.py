"""A chat-completions server that replays scripted Llama Guard answers, for the adapter's edge cases.

The answers are in the output format the Llama Guard 3 model card documents ("safe"; "unsafe" and a line of
codes; vLLM's completions also start with blank lines). They were written for these tests, not recorded from a
live model: no Llama Guard can run on the development machines. Each user text maps to one scripted reply
(data/replay.json): the answer text, or an HTTP status, a finish_reason, a delay, or a non-JSON body.
Every request is kept (GET /calls: {"calls": [...]}) so a test can check what the adapter sent; API_KEY, when
set, is required as a Bearer token. GET /health answers without a key. The HTTP side is local/json_server.py's.

    PYTHONPATH=. python tests/workloads/moderation/replay_upstream.py data/replay.json --port N
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from local.json_server import JsonHandler, serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("script", type=Path, help="the scripted replies (data/replay.json)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    script: dict[str, dict[str, Any]] = json.loads(args.script.read_text())["replies"]
    calls: list[dict[str, Any]] = []
    lock = threading.Lock()

    class Handler(JsonHandler):
        api_key = os.environ.get("API_KEY", "")

        def do_GET(self) -> None:
            if self.route == "/health":
                self.send_json(200, {"status": "ok"})
            elif self.route == "/calls":
                with lock:
                    self.send_json(200, {"calls": list(calls)})
            else:
                self.send_error_json(404, f"no route {self.path}")

        def do_POST(self) -> None:
            body = self.read_json()
            if body is None:
                return
            with lock:
                calls.append({"path": self.path, "body": body, "authorization": self.headers.get("Authorization", "")})
            if not self.authorized():
                return
            reply = script.get(body["messages"][-1]["content"], {"answer": "safe"})
            time.sleep(reply.get("delay_s", 0))
            if "status" in reply:
                self.send_json(reply["status"], {"error": {"message": "scripted failure"}})
            elif "raw_body" in reply:
                self.send_body(200, reply["raw_body"].encode(), "text/plain")
            else:
                message = {"role": "assistant", "content": reply["answer"]}
                choice = {"index": 0, "message": message, "finish_reason": reply.get("finish_reason", "stop")}
                completion = {"id": "chatcmpl-replay", "object": "chat.completion", "model": body.get("model")}
                self.send_json(200, {**completion, "choices": [choice]})

    return serve(Handler, args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
