"""The safety model behind the service: Llama Guard served as an OpenAI chat model (vLLM applies its chat
template, so the request is just the text as one user message).

Every failure is an ``UpstreamError`` with the HTTP status the service answers: 503 when the model cannot be
reached or times out, 502 when it answers with an error or with something that is not a verdict.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from workloads.moderation.verdict import UnparseableOutput, Verdict, parse_llama_guard

MAX_TOKENS = 64
"""Room for "unsafe" and all 14 codes; a longer answer is cut off and fails closed."""


class UpstreamError(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        """Short label for metrics: unreachable, timeout, http_error, bad_response, unparseable."""


@dataclass
class SafetyModel:
    client: httpx.AsyncClient
    base_url: str
    model: str
    api_key: str | None = None

    async def classify(self, text: str) -> tuple[Verdict, float]:
        """Llama Guard's verdict on ``text`` and the seconds the model took."""
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": text}],
            "temperature": 0,
            "max_tokens": MAX_TOKENS,
        }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        url = f"{self.base_url}/chat/completions"
        start = time.perf_counter()
        try:
            resp = await self.client.post(url, json=body, headers=headers)
        except httpx.TimeoutException as err:
            raise UpstreamError(
                503, "timeout", f"safety model at {self.base_url} timed out ({type(err).__name__})"
            ) from err
        except httpx.HTTPError as err:
            raise UpstreamError(
                503, "unreachable", f"safety model at {self.base_url} is unreachable ({type(err).__name__})"
            ) from err
        elapsed = time.perf_counter() - start
        if resp.status_code != 200:
            hint = " (check SAFETY_API_KEY)" if resp.status_code in (401, 403) else ""
            raise UpstreamError(502, "http_error", f"safety model answered HTTP {resp.status_code}{hint}")
        try:
            choice = resp.json()["choices"][0]
            content = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as err:
            raise UpstreamError(502, "bad_response", "safety model returned no chat completion") from err
        if not isinstance(content, str):
            raise UpstreamError(502, "bad_response", "safety model returned no text content")
        if choice.get("finish_reason") == "length":
            raise UpstreamError(502, "unparseable", f"safety model's answer was cut off at {MAX_TOKENS} tokens")
        try:
            return parse_llama_guard(content), elapsed
        except UnparseableOutput as err:
            raise UpstreamError(
                502, "unparseable", f"safety model's answer is not a Llama Guard verdict: {err}"
            ) from err
