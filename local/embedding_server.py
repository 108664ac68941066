"""MiniLM embeddings behind an OpenAI-compatible API, for the demo's OGX app (run with .venvs/ingest).

    HF_HUB_OFFLINE=1 .venvs/ingest/bin/python -m local.embedding_server --port 0 [--host 127.0.0.1]

Routes: GET /health, GET /v1/models, POST /v1/embeddings (input: a string or a list of strings; encoding_format
float or base64). Same model and normalisation as the ingest job (workloads/ingest/embed.py). When the API_KEY
env var is set, every route but /health needs it as a Bearer token. Once it listens it prints one JSON line
{"port": N, "dim": D} (with --port 0, N is the port it picked). The HTTP side is local/json_server.py's.
"""

from __future__ import annotations

import argparse
import base64
import os
import struct
import sys
import threading
from typing import Any

from local.json_server import OneModelHandler, serve

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
    lock = threading.Lock()  # one encode at a time: torch on 2 cores gains nothing from more

    class Handler(OneModelHandler):
        api_key = os.environ.get("API_KEY", "")
        model_id = args.model_id
        post_route = "/v1/embeddings"

        def answer(self, body: dict[str, Any]) -> None:
            texts = body.get("input")
            texts = [texts] if isinstance(texts, str) else texts
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                self.send_error_json(400, "input must be a string or a list of strings")
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
            usage = {"prompt_tokens": tokens, "total_tokens": tokens}
            self.send_json(200, {"object": "list", "data": data, "model": args.model_id, "usage": usage})

    return serve(Handler, args.host, args.port, dim=model.dim)


if __name__ == "__main__":
    sys.exit(main())
