"""The radar's HTTP app: live ingest, ``/metrics``, ``/healthz`` and the incidents API.

``POST /v1/mentions`` takes a JSON array (``application/json``) or NDJSON
(``application/x-ndjson``) of mentions, at most ``http.max_batch_records`` records and
``http.max_body_bytes`` bytes (413 beyond). When the environment variable ``RADAR_INGEST_TOKEN``
is set, requests need ``Authorization: Bearer <token>``. Accepted mentions are on disk before
the answer ``{"accepted": n, "rejected": [{"index": i, "error": "..."}]}`` is sent; bad records
are rejected one by one and the rest of the batch goes in.

``POST /slack/interactions`` is the Slack app's interactivity request URL: the Acknowledge,
Resolve and Snooze buttons of alert messages. Requests are verified with ``$SLACK_SIGNING_SECRET``
(slack-sdk ``SignatureVerifier``: a bad signature, or a timestamp over five minutes old, is refused
with 401 and counted); the action is logged and applied, and the answer sent, within Slack's
three seconds (the message is then edited by the dispatcher to show who did what).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import time
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from slack_sdk.signature import Clock, SignatureVerifier

from radar.batch import BatchResult, BatchTooLarge, Rejection, decode_body, load_document, parse_record
from radar.journal import JournalError
from radar.mention import Mention
from radar.service import SLACK_SECRET_ENV, RadarService
from radar.webhook import map_record, records_of

TOKEN_ENV = "RADAR_INGEST_TOKEN"
#: Slack wants an answer within 3 s: give up waiting for the action (it still completes) after this.
SLACK_ANSWER_SECONDS = 2.0
#: The buttons of alert messages (action_id -> action, snooze hours).
BUTTONS = {
    "ack": ("acknowledge", 0),
    "resolve": ("resolve", 0),
    "snooze_1h": ("snooze", 1),
    "snooze_4h": ("snooze", 4),
}

log = logging.getLogger(__name__)


class _ServiceClock(Clock):
    """slack-sdk's clock, read from the radar's (injected) clock."""

    def __init__(self, service: RadarService) -> None:
        self.service = service

    def now(self) -> float:
        return self.service.clock.now().timestamp()


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


def create_app(service: RadarService, token: str | None = None, slack_secret: str | None = None) -> FastAPI:
    """The FastAPI app serving ``service``; ``token`` defaults to ``$RADAR_INGEST_TOKEN`` and
    ``slack_secret`` to ``$SLACK_SIGNING_SECRET``."""
    app = FastAPI(
        title="Crisis Radar",
        version="0.1.0",
        description="Early warning for brand crises on social media.",
    )
    # pages and /metrics are large and compress well; clients that do not ask for gzip get them plain
    app.add_middleware(GZipMiddleware, minimum_size=4096, compresslevel=1)  # fast: most of the gain
    expected_token = token if token is not None else os.environ.get(TOKEN_ENV, "")
    http = service.config.http

    def refused(request: Request) -> JSONResponse | None:
        """401 unless the request carries the ingest token (none needed when none is set)."""
        if not expected_token:
            return None
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else request.query_params.get("token", "")
        if token and hmac.compare_digest(token, expected_token):
            return None
        service.metrics.rejected.labels("unauthorized").inc()
        return JSONResponse(
            {"error": "missing or wrong bearer token"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.post(
        "/v1/webhooks/{name}",
        summary="Ingest a listening platform's push through its field mapping ([webhooks.NAME])",
    )
    async def webhook(name: str, request: Request) -> Response:
        denied = refused(request)
        if denied is not None:
            return denied
        mapping = service.config.webhooks.get(name)
        if mapping is None:
            known = ", ".join(sorted(service.config.webhooks)) or "none configured"
            return JSONResponse({"error": f"no webhook {name!r} (known: {known})"}, status_code=404)
        body = await request.body()
        if len(body) > http.max_body_bytes:
            service.metrics.rejected.labels("batch_too_large").inc()
            return _too_large(f"body is over the limit of {http.max_body_bytes} bytes")
        try:
            records = records_of(load_document(body.decode("utf-8-sig")), mapping)
        except ValueError as exc:  # not UTF-8, not JSON, or no records where the mapping says
            service.metrics.rejected.labels("invalid_body").inc()
            return JSONResponse({"error": f"webhook {name}: {exc}"}, status_code=400)
        if len(records) > http.max_batch_records:
            service.metrics.rejected.labels("batch_too_large").inc()
            return _too_large(f"{len(records)} records, over the limit of {http.max_batch_records}")
        now = service.clock.now()
        batch = BatchResult()
        for index, record in enumerate(records):
            parsed = parse_record(map_record(record, mapping), index, now)
            if isinstance(parsed, Rejection):
                batch.rejected.append(parsed)
            else:
                batch.mentions.append(parsed)
        try:
            report = await run_in_threadpool(service.submit, batch, f"webhook:{name}")
        except JournalError as exc:
            service.metrics.rejected.labels("journal_unavailable").inc()
            return JSONResponse(
                {"error": f"journal unavailable, nothing was accepted; retry later ({exc})"},
                status_code=503,
                headers={"Retry-After": "5"},
            )
        return JSONResponse(report.to_json())

    @app.post("/v1/mentions", openapi_extra=_INGEST_DOC, summary="Ingest a batch of mentions")
    async def ingest(request: Request) -> Response:
        denied = refused(request)
        if denied is not None:
            return denied
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

    secret = slack_secret if slack_secret is not None else os.environ.get(SLACK_SECRET_ENV, "")
    verifier = SignatureVerifier(secret, clock=_ServiceClock(service)) if secret else None

    @app.post("/slack/interactions", summary="Slack interactivity: the alert buttons")
    async def slack_interactions(request: Request) -> Response:
        counted = service.metrics.slack_interactions
        if verifier is None:
            counted.labels("not_configured").inc()
            return JSONResponse({"error": f"Slack interactivity is off: set {SLACK_SECRET_ENV}"}, 503)
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        stamp = headers.get("x-slack-request-timestamp", "")
        if not verifier.is_valid_request(body, headers):
            fresh = stamp.isdigit() and abs(service.clock.now().timestamp() - int(stamp)) <= 300
            counted.labels("bad_signature" if fresh else "stale").inc()
            reason = "bad signature" if fresh else "missing or stale timestamp (over 5 minutes)"
            return JSONResponse({"error": f"request refused: {reason}"}, 401)
        try:
            payload = json.loads(parse_qs(body.decode("utf-8"))["payload"][0])
            clicked = payload["actions"][0]
            action, hours = BUTTONS[clicked["action_id"]]
            incident_id = str(clicked["value"]).split("|")[0]
            user = payload.get("user") or {}
            user_id = str(user.get("id", ""))
            actor = str(user.get("name") or user.get("username") or user_id or "someone")
        except (KeyError, IndexError, ValueError, TypeError, AttributeError) as exc:
            counted.labels("bad_payload").inc()
            return JSONResponse({"error": f"not an alert button click: {exc!r}"}, 400)
        snooze = timedelta(hours=hours) if hours else None
        started = time.monotonic()
        work = asyncio.ensure_future(
            run_in_threadpool(service.act, incident_id, action, actor, actor_id=user_id, snooze=snooze)
        )
        try:
            incident = await asyncio.wait_for(asyncio.shield(work), SLACK_ANSWER_SECONDS)
        except TimeoutError:  # the radar is busy: answer Slack now, the action completes after
            log.warning("slack %s on %s took over %.1f s", action, incident_id, time.monotonic() - started)
            counted.labels("accepted").inc()
            return Response(status_code=200)
        if incident is None:
            counted.labels("unknown_incident").inc()
            return JSONResponse(
                {"response_type": "ephemeral", "replace_original": False,
                 "text": f"Incident {incident_id} is no longer open: nothing to {action}."}
            )  # fmt: skip
        counted.labels("accepted").inc()
        return Response(status_code=200)

    from radar.incidents.pages import pages_router  # here: pages import the service module's figures

    app.include_router(pages_router(service))

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/incidents")

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
