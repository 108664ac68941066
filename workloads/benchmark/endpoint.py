"""Pre-flight check of the OpenAI-compatible endpoint, before GuideLLM spends time starting up."""

from __future__ import annotations

import os
from pathlib import Path

import httpx


class EndpointError(RuntimeError):
    """The endpoint is unreachable, rejects us, or does not serve the requested model."""


def base_url(target: str) -> str:
    """`http://host:8000/v1/` and `http://host:8000` name the same server; GuideLLM wants the latter."""
    url = target.strip().rstrip("/")
    url = url.removesuffix("/v1")
    if not url.startswith(("http://", "https://")):
        raise EndpointError(f"--target {target!r} is not an http(s) URL; use e.g. http://vllm.serving:8000")
    return url


def read_api_key(api_key_file: Path | None) -> str | None:
    """The key from --api-key-file, else $OPENAI_API_KEY, else None (an open endpoint)."""
    if api_key_file is not None:
        try:
            key = api_key_file.read_text().strip()
        except OSError as err:
            raise EndpointError(f"cannot read --api-key-file {api_key_file}: {err.strerror}") from None
        if not key:
            raise EndpointError(f"--api-key-file {api_key_file} is empty")
        return key
    return os.environ.get("OPENAI_API_KEY") or None


def served_models(url: str, api_key: str | None, timeout_s: float = 10.0) -> list[str]:
    """Names in GET {url}/v1/models, with errors that say what to fix."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    models_url = f"{url}/v1/models"
    try:
        response = httpx.get(models_url, headers=headers, timeout=timeout_s)
    except httpx.TimeoutException:
        raise EndpointError(
            f"endpoint {url} (--target) did not answer GET /v1/models within {timeout_s:g}s; check that the "
            "server has finished loading the model, or raise --preflight-timeout"
        ) from None
    except httpx.TransportError as err:
        raise EndpointError(
            f"cannot reach endpoint {url} (--target): {err or type(err).__name__}. Check the host and port, "
            "that the model server is running, and (in a cluster) the Service name and namespace"
        ) from None
    if response.status_code in (401, 403):
        hint = "the key was rejected" if api_key else "no key was sent"
        raise EndpointError(
            f"endpoint {url} answered {response.status_code} to GET /v1/models ({hint}); "
            "set OPENAI_API_KEY or pass --api-key-file with the server's API key"
        )
    if response.status_code == 404:
        raise EndpointError(
            f"endpoint {url} has no /v1/models (404): is --target the base URL of an OpenAI-compatible server?"
        )
    if response.status_code >= 400:
        raise EndpointError(f"endpoint {url} answered {response.status_code} to GET /v1/models: {response.text[:200]}")
    try:
        return [str(item["id"]) for item in response.json()["data"]]
    except (ValueError, KeyError, TypeError):
        raise EndpointError(
            f"GET {models_url} did not return an OpenAI model list ({response.text[:200]!r}); "
            "is --target an OpenAI-compatible server?"
        ) from None


def resolve_model(served: list[str], wanted: str | None, url: str) -> str:
    """The model to benchmark: `wanted` if served; the only served model if none was named."""
    listing = ", ".join(served) or "(none)"
    if wanted:
        if wanted not in served:
            raise EndpointError(
                f"model {wanted!r} (--model) is not served by {url}; served models: {listing}. "
                "Pass one of them with --model"
            )
        return wanted
    if len(served) == 1:
        return served[0]
    raise EndpointError(f"{url} serves {len(served)} models ({listing}); choose one with --model")


def check(target: str, model: str | None, api_key: str | None, timeout_s: float = 10.0) -> tuple[str, str]:
    """Normalized base URL and the model name, or EndpointError."""
    url = base_url(target)
    return url, resolve_model(served_models(url, api_key, timeout_s), model, url)
