"""MiniLM embeddings behind an OpenAI-compatible API, for the demo's OGX app (run with .venvs/ingest).

    HF_HUB_OFFLINE=1 .venvs/ingest/bin/python -m local.embedding_server --port 0 [--host 127.0.0.1]

Routes: GET /v1/models, POST /v1/embeddings (input: a string or a list of strings; encoding_format float or
base64). Same model and normalisation as the ingest job (workloads/ingest/embed.py). When the API_KEY env
var is set, every request must send it as a Bearer token. With --port 0 it picks a free port and prints one
JSON line {"port": N} once it listens.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hmac
import json
import os
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL_ID = "all-MiniLM-L6-v2"


def load_model(path: str | None) -> Any:
    """The ingest job's embedder (its torchvision guard included), so vectors match the ingest job's."""
    from workloads.ingest.embed import DEFAULT_MODEL, Embedder

    return Embedder.load(path or DEFAULT_MODEL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--model-path", default=None, help="sentence-transformers folder (default: bundled MiniLM)")
    parser.add_argument("--model-id", default=MODEL_ID)
    args = parser.parse_args(argv)

    model = load_model(args.model_path)
    dim = model.dim
    key = os.environ.get("API_KEY", "")
    lock = threading.Lock()  # one encode at a time: torch on 2 cores gains nothing from more

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *a: Any) -> None:
            return

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            if not key:
                return True
            sent = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if hmac.compare_digest(sent.encode(), key.encode()):
                return True
            self._send(401, {"error": {"message": "invalid API key", "type": "invalid_request_error"}})
            return False

        def do_GET(self) -> None:
            if not self._authorized():
                return
            if self.path.rstrip("/") == "/v1/models":
                model = {"id": args.model_id, "object": "model", "owned_by": "local", "created": 0}
                self._send(200, {"object": "list", "data": [model]})
            elif self.path == "/health":
                self._send(200, {"status": "ok"})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            if not self._authorized():
                return
            if self.path.rstrip("/") != "/v1/embeddings":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            texts = body.get("input")
            texts = [texts] if isinstance(texts, str) else texts
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                self._send(400, {"error": {"message": "input must be a string or a list of strings"}})
                return
            with lock:
                vectors = model.encode(texts, batch_size=64)
            data = []
            for i, vec in enumerate(vectors):
                values = [float(x) for x in vec]
                if body.get("encoding_format") == "base64":
                    emb: Any = base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
                else:
                    emb = values
                data.append({"object": "embedding", "index": i, "embedding": emb})
            tokens = sum(len(t.split()) for t in texts)
            self._send(
                200,
                {
                    "object": "list",
                    "data": data,
                    "model": args.model_id,
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                },
            )

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(json.dumps({"port": server.server_address[1], "dim": dim}), flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
