"""The HTTP service: POST /v1/moderations (Bearer key), GET /health, GET /metrics.

FastAPI + uvicorn for the server, httpx for the safety model, prometheus_client for metrics: the same pinned
versions the LiteLLM gateway runs (local/requirements-gateway.txt).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict

from workloads.moderation.config import Settings
from workloads.moderation.metrics import Metrics
from workloads.moderation.taxonomy import category_name
from workloads.moderation.upstream import SafetyModel, UpstreamError
from workloads.moderation.verdict import Verdict, moderation_result

log = logging.getLogger("workloads.moderation")

MODERATIONS = "/v1/moderations"


class ModerationRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    input: str | list[str]
    model: str | None = None
    """Accepted and ignored: the service has one safety model (LiteLLM sends "omni-moderation-latest")."""


def _error(status: int, message: str, kind: str, param: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"message": message, "type": kind}
    if param:
        body["param"] = param
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def create_app(settings: Settings) -> FastAPI:
    metrics = Metrics()
    limit = asyncio.Semaphore(settings.max_concurrency)
    holder: dict[str, SafetyModel] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=settings.timeout_s) as client:
            holder["model"] = SafetyModel(
                client, settings.safety_base_url, settings.safety_model, settings.safety_api_key
            )
            log.info("moderation service ready: %r", settings)
            yield

    app = FastAPI(title="moderation", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.metrics = metrics

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.url.path != MODERATIONS:
            return await call_next(request)
        start = time.perf_counter()
        response = await call_next(request)
        metrics.requests.labels(status=str(response.status_code)).inc()
        metrics.request_seconds.observe(time.perf_counter() - start)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        field = loc[0] if loc else "body"
        if field == "input":
            message = "input: must be a string or a list of strings"
        elif field == "body":
            message = 'body: must be a JSON object like {"input": "text"}'
        else:
            message = f"{'.'.join(loc)}: {first.get('msg', 'invalid')}"
        return _error(400, message, "invalid_request_error", field)

    def authorized(request: Request) -> bool:
        sent = request.headers.get("authorization", "")
        scheme, _, token = sent.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), settings.api_key.encode())

    async def classify(text: str) -> Verdict:
        async with limit:
            try:
                verdict, seconds = await holder["model"].classify(text)
            except UpstreamError as err:
                metrics.upstream_errors.labels(kind=err.kind).inc()
                raise
        metrics.upstream_seconds.observe(seconds)
        return verdict

    @app.post(MODERATIONS)
    async def moderations(body: ModerationRequest, request: Request) -> JSONResponse:
        if not authorized(request):
            return _error(401, "missing or wrong API key: send it as 'Authorization: Bearer <key>'", "auth_error")
        texts = [body.input] if isinstance(body.input, str) else body.input
        if not texts:
            return _error(400, "input: must not be an empty list", "invalid_request_error", "input")
        if len(texts) > settings.max_inputs:
            return _error(
                400,
                f"input: at most {settings.max_inputs} texts per request, got {len(texts)}",
                "invalid_request_error",
                "input",
            )
        try:
            verdicts = await asyncio.gather(*(classify(t) for t in texts))
        except UpstreamError as err:
            log.warning("moderation failed closed (%s): %s", err.kind, err)
            return _error(err.status, f"moderation unavailable, request not checked: {err}", "upstream_error")
        flagged: list[str] = []
        for verdict in verdicts:
            metrics.inputs.labels(flagged=str(verdict.flagged).lower()).inc()
            for code in verdict.codes:
                metrics.categories.labels(category=category_name(code)).inc()
                flagged.append(category_name(code))
        log.info(
            "moderated %d text(s): %d flagged%s",
            len(texts),
            sum(v.flagged for v in verdicts),
            f" ({', '.join(sorted(set(flagged)))})" if flagged else "",
        )
        return JSONResponse(
            {
                "id": f"modr-{uuid.uuid4().hex}",
                "model": settings.safety_model,
                "results": [moderation_result(v) for v in verdicts],
            }
        )

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
