"""Replay: send a mention file to a running radar's ingest API, optionally paced in event time.

With ``speed=None`` batches go out as fast as the radar takes them; with ``speed=X`` the event
time of the file advances X times faster than the wall clock (60: an hour of mentions per
minute). Retries a batch on connection errors and 5xx with backoff; the radar de-duplicates by id,
so a retried batch never counts twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

import httpx

from radar.batch import Rejection
from radar.mention import Mention
from radar.progress import Progress


def replay(
    records: Iterable[Mention | Rejection],
    url: str,
    *,
    speed: float | None = None,
    batch: int = 500,
    token: str = "",
    total: int | None = None,
    retries: int = 5,
    client: httpx.Client | None = None,
) -> dict[str, Any]:
    """Send ``records`` to ``url``/v1/mentions; returns counts of what happened."""
    if batch < 1:
        raise ValueError(f"batch: {batch} must be >= 1")
    if speed is not None and speed <= 0:
        raise ValueError(f"speed: {speed} must be positive")
    headers = {"content-type": "application/x-ndjson"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    own = client is None
    http = client or httpx.Client(base_url=url.rstrip("/"), timeout=30.0)
    stats = {"sent": 0, "accepted": 0, "rejected": 0, "skipped": 0, "failed_batches": 0}
    progress = Progress(total, label="replay")
    pending: list[Mention] = []
    first_event: float | None = None
    started = time.monotonic()

    def flush() -> None:
        if not pending:
            return
        body = "".join(json.dumps(m.to_json(), ensure_ascii=False) + "\n" for m in pending).encode()
        for attempt in range(retries + 1):
            try:
                response = http.post("/v1/mentions", content=body, headers=headers)
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code < 500:
                break
            time.sleep(min(10.0, 0.5 * 2**attempt))
        if response is None or response.status_code != 200:
            stats["failed_batches"] += 1
        else:
            answer = response.json()
            stats["accepted"] += int(answer.get("accepted", 0))
            stats["rejected"] += len(answer.get("rejected", []))
        stats["sent"] += len(pending)
        progress.update(len(pending))
        pending.clear()

    try:
        for record in records:
            if isinstance(record, Rejection):
                stats["skipped"] += 1
                progress.update()
                continue
            if speed is not None:
                t = record.created_at.timestamp()
                first_event = t if first_event is None else first_event
                due = started + (t - first_event) / speed
                wait = due - time.monotonic()
                if wait > 0:
                    flush()
                    time.sleep(wait)
            pending.append(record)
            if len(pending) >= batch:
                flush()
        flush()
    finally:
        progress.close()
        if own:
            http.close()
    return stats
