"""A tiny OpenAI-compatible server for tests and the cache benchmark (standard library only).

It answers /v1/models, /v1/chat/completions (plain and streamed), /v1/completions, /v1/embeddings and
/v1/moderations (flags inputs containing a --flag-word) with deterministic output, and counts every call
so a test can prove that a cached request never reached the upstream (GET /stats). Embeddings are real,
if simple, vectors: hashed word counts, L2-normalised, so texts that share words are close. An optional
fixed delay stands in for model latency.

Tool calling, so a test can drive an agent loop (OGX's Responses API with `file_search`) without a model: when a
chat request offers tools and its last message is the user's, the answer is one call of the first offered function
with `{"query": <the user's text>}`; when the last message is a tool result, the answer echoes that result.

    python -m local.tiny_openai_server --port 0 --chat-model smollm2 --embedding-model minilm --dim 384

With --port 0 it picks a free port and prints one JSON line {"port": N} on stdout once it listens. With API_KEY set
in its environment, the inference routes answer only `Authorization: Bearer <API_KEY>` (401 otherwise).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import sys
import threading
import time
from collections import Counter
from typing import Any

from local.json_server import JsonHandler, message_text, serve

_WORD = re.compile(r"\w+")


def embed(text: str, dim: int) -> list[float]:
    """Hashed bag-of-words embedding, L2-normalised (all zeros for text with no words)."""
    vec = [0.0] * dim
    for word in _WORD.findall(text.lower()):
        digest = hashlib.sha256(word.encode()).digest()
        index = int.from_bytes(digest[:4], "big") % dim
        vec[index] += 1.0 if digest[4] % 2 == 0 else -1.0
    norm = math.sqrt(sum(v * v for v in vec))
    return [v / norm for v in vec] if norm else vec


def _text_of(content: Any) -> str:
    return message_text(content) or ""


def _tool_call(body: dict[str, Any], messages: list[dict[str, Any]], last: str) -> dict[str, Any] | None:
    """The one tool call to answer with: the first offered function, called with the user's text as `query`, when
    the request offers tools and its last message is the user's (after a tool result the model answers)."""
    functions = [t["function"] for t in body.get("tools") or [] if t.get("type") == "function"]
    if not functions or not messages or messages[-1].get("role") != "user":
        return None
    name = str(functions[0]["name"])
    call_id = "call_" + hashlib.sha256(f"{name}:{last}".encode()).hexdigest()[:12]
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps({"query": last})}}


class _State:
    def __init__(
        self,
        chat_models: list[str],
        embedding_models: list[str],
        dim: int,
        delay_s: float,
        flag_words: list[str],
    ) -> None:
        self.chat_models = chat_models
        self.flag_words = [w.lower() for w in flag_words]
        self.embedding_models = embedding_models
        self.dim = dim
        self.delay_s = delay_s
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def count(self, route: str) -> None:
        with self.lock:
            self.calls[route] += 1


def make_handler(state: _State, key: str = "") -> type[JsonHandler]:
    class Handler(JsonHandler):
        api_key = key  # when set, the inference routes need it; /health, /v1/models and /stats never do

        def do_GET(self) -> None:
            path = self.route
            if path in ("/health", "/v1/health"):
                self.send_json(200, {"status": "ok"})
            elif path == "/v1/models":
                self.send_models(state.chat_models + state.embedding_models, owned_by="tiny")
            elif path == "/stats":
                with state.lock:
                    self.send_json(200, dict(state.calls))
            else:
                self.send_error_json(404, f"no route {path}")

        def do_POST(self) -> None:
            path = self.route
            body = self.read_json()
            if body is None:
                return
            if path == "/stats/reset":
                with state.lock:
                    state.calls.clear()
                self.send_json(200, {})
                return
            routes = {
                "/v1/chat/completions": self._chat,
                "/v1/completions": self._completions,
                "/v1/embeddings": self._embeddings,
                "/v1/moderations": self._moderations,
            }
            handler = routes.get(path)
            if handler is None:
                self.send_error_json(404, f"no route {path}")
                return
            if not self.authorized():
                return
            state.count(path.removeprefix("/v1/"))
            if state.delay_s:
                time.sleep(state.delay_s)
            handler(body)

        def _check_model(self, body: dict[str, Any], allowed: list[str]) -> str | None:
            model = body.get("model")
            if model not in allowed:
                self.send_error_json(404, f"model {model!r} not served; served: {allowed}")
                return None
            return str(model)

        def _chat(self, body: dict[str, Any]) -> None:
            model = self._check_model(body, state.chat_models)
            if model is None:
                return
            messages = body.get("messages") or []
            last = _text_of(messages[-1].get("content")) if messages else ""
            answer = f"echo: {last}"
            created = int(time.time())
            call = _tool_call(body, messages, last)
            if call is not None:
                self._tool_call_reply(model, call, created, bool(body.get("stream")))
                return
            if body.get("stream"):
                self._stream(model, created, [{"role": "assistant", "content": ""}, {"content": answer}], "stop")
                return
            words = len(_WORD.findall(last))
            message = {"role": "assistant", "content": answer}
            self._send_completion(model, created, message, "stop", prompt_tokens=words, completion_tokens=words + 1)

        def _send_completion(
            self,
            model: str,
            created: int,
            message: dict[str, Any],
            finish: str,
            prompt_tokens: int,
            completion_tokens: int,
        ) -> None:
            usage = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
            choice = {"index": 0, "finish_reason": finish, "message": message}
            self.send_json(
                200,
                {
                    "id": f"chatcmpl-{created}",
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [choice],
                    "usage": usage,
                },
            )

        def _tool_call_reply(self, model: str, call: dict[str, Any], created: int, stream: bool) -> None:
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
            if stream:
                self._stream(
                    model, created, [{"role": "assistant", "tool_calls": [{"index": 0, **call}]}], "tool_calls"
                )
            else:
                self._send_completion(model, created, message, "tool_calls", prompt_tokens=1, completion_tokens=1)

        def _stream(self, model: str, created: int, deltas: list[dict[str, Any]], finish: str) -> None:
            """A streamed completion: each delta a chunk, then an empty delta carrying `finish`, then [DONE]."""
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i, delta in enumerate([*deltas, {}]):
                chunk = {
                    "id": f"chatcmpl-{created}",
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish if i == len(deltas) else None}],
                }
                self._chunk(f"data: {json.dumps(chunk)}\n\n".encode())
            self._chunk(b"data: [DONE]\n\n")
            self._chunk(b"")

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

        def _completions(self, body: dict[str, Any]) -> None:
            model = self._check_model(body, state.chat_models)
            if model is None:
                return
            prompt = body.get("prompt") or ""
            self.send_json(
                200,
                {
                    "id": "cmpl-tiny",
                    "object": "text_completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [{"index": 0, "text": f"echo: {prompt}", "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                },
            )

        def _moderations(self, body: dict[str, Any]) -> None:
            inputs = body.get("input")
            texts = (
                [inputs]
                if isinstance(inputs, str)
                else [_text_of(i) if not isinstance(i, str) else i for i in (inputs or [])]
            )
            results = []
            for text in texts:
                flagged = any(word in text.lower() for word in state.flag_words)
                results.append(
                    {
                        "flagged": flagged,
                        "categories": {"violence": flagged},
                        "category_scores": {"violence": 1.0 if flagged else 0.0},
                    }
                )
            self.send_json(200, {"id": "modr-tiny", "model": "tiny-guard", "results": results})

        def _embeddings(self, body: dict[str, Any]) -> None:
            model = self._check_model(body, state.embedding_models)
            if model is None:
                return
            inputs = body.get("input")
            texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
            if not all(isinstance(t, str) for t in texts):
                self.send_error_json(400, "input must be a string or a list of strings")
                return
            self.send_json(
                200,
                {
                    "object": "list",
                    "model": model,
                    "data": [
                        {"object": "embedding", "index": i, "embedding": embed(t, state.dim)}
                        for i, t in enumerate(texts)
                    ],
                    "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)},
                },
            )

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chat-model", action="append", default=[], help="served chat model id (repeatable)")
    parser.add_argument("--embedding-model", action="append", default=[], help="served embedding model id")
    parser.add_argument("--dim", type=int, default=384, help="embedding dimension")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="added latency per inference call")
    parser.add_argument(
        "--flag-word",
        action="append",
        default=[],
        help="/v1/moderations flags input containing this word (repeatable)",
    )
    args = parser.parse_args(argv)
    state = _State(
        args.chat_model or ["tiny-chat"],
        args.embedding_model or ["tiny-embed"],
        args.dim,
        args.delay_ms / 1000,
        args.flag_word,
    )
    sys.exit(serve(make_handler(state, os.environ.get("API_KEY", "")), args.host, args.port))


if __name__ == "__main__":
    main()
