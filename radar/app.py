"""The radar's HTTP app: live ingest, ``/metrics``, ``/healthz`` and the incidents API.

``POST /v1/mentions`` takes a JSON array (``application/json``) or NDJSON
(``application/x-ndjson``) of mentions, at most ``http.max_batch_records`` records and
``http.max_body_bytes`` bytes (413 beyond). When the environment variable ``RADAR_INGEST_TOKEN``
is set, requests need ``Authorization: Bearer <token>``. Accepted mentions are on disk before
the answer ``{"accepted": n, "rejected": [{"index": i, "error": "..."}]}`` is sent; bad records
are rejected one by one and the rest of the batch goes in.
"""

from __future__ import annotations

import hmac
import os
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from radar.batch import BatchTooLarge, decode_body
from radar.journal import JournalError
from radar.mention import Mention
from radar.service import RadarService

TOKEN_ENV = "RADAR_INGEST_TOKEN"

_INGEST_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": Mention.model_json_schema(by_alias=True)}
            },
            "application/x-ndjson": {
                "schema": {"type": "string", "description": "one mention object per line"}
            },
        },
    }
}


def create_app(service: RadarService, token: str | None = None) -> FastAPI:
    """The FastAPI app serving ``service``; ``token`` defaults to ``$RADAR_INGEST_TOKEN``."""
    app = FastAPI(
        title="Crisis Radar",
        version="0.1.0",
        description="Early warning for brand crises on social media.",
    )
    expected_token = token if token is not None else os.environ.get(TOKEN_ENV, "")
    http = service.config.http

    @app.post("/v1/mentions", openapi_extra=_INGEST_DOC, summary="Ingest a batch of mentions")
    async def ingest(request: Request) -> Response:
        if expected_token:
            given = request.headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip(), expected_token):
                service.metrics.rejected.labels("unauthorized").inc()
                return JSONResponse(
                    {"error": "missing or wrong bearer token"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > http.max_body_bytes:
            service.metrics.rejected.labels("batch_too_large").inc()
            return _too_large(f"body of {declared} bytes is over the limit of {http.max_body_bytes}")
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > http.max_body_bytes:
                service.metrics.rejected.labels("batch_too_large").inc()
                return _too_large(f"body is over the limit of {http.max_body_bytes} bytes")
        now = service.clock.now()
        try:
            batch = decode_body(
                bytes(body),
                request.headers.get("content-type", ""),
                now,
                max_records=http.max_batch_records,
            )
        except BatchTooLarge as exc:
            service.metrics.rejected.labels("batch_too_large").inc()
            return _too_large(str(exc))
        except ValueError as exc:
            service.metrics.rejected.labels("invalid_body").inc()
            return JSONResponse({"error": str(exc)}, status_code=400)
        try:
            report = await run_in_threadpool(service.submit, batch, "api")
        except JournalError as exc:  # not on disk, so not accepted: the client must retry
            service.metrics.rejected.labels("journal_unavailable").inc()
            return JSONResponse(
                {"error": f"journal unavailable, nothing was accepted; retry later ({exc})"},
                status_code=503,
                headers={"Retry-After": "5"},
            )
        return JSONResponse(report.to_json())

    @app.get("/metrics", summary="Prometheus metrics")
    def metrics() -> Response:
        return Response(service.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", summary="Health of the radar")
    def healthz() -> dict[str, Any]:
        return service.health()

    @app.get("/v1/incidents", summary="Open and recent incidents")
    def incidents() -> dict[str, Any]:
        return {"incidents": [i.to_json() for i in service.pipeline.all_incidents()]}

    return app


def _too_large(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=413)
