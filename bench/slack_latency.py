"""Alert latency: from the bucket close that decides an alert to the Slack server receiving it.

    python bench/slack_latency.py [--seeds 11-14] [--days 7] [--out bench/results/slack_latency.json]

Runs generated scenarios (``--seeds``; each seed's four streams renamed ``NAME-SEED`` so that all
run side by side in one radar, 16 streams for four seeds) through a real :class:`RadarService` with
Slack on: real pipeline, SQLite outbox, dispatcher thread, ``slack_sdk.WebClient`` over HTTP to the
local Slack Web API server of the tests (``tests/fakeslack.py``, answering normally).

**Latency of an event** = the time its first request reaches the Slack server (the parent
``chat.postMessage`` for the event that opens the thread, the thread reply carrying its key for
the others) minus the time the pipeline emitted the event (the moment the bucket closed). Both are
``time.monotonic()`` in this process. Chart uploads follow the messages and are not counted.

**Time:** mentions go in minute by minute as fast as the radar takes them while nothing is queued
for Slack. When a minute leaves work in the outbox, the bench waits for the outbox to drain (at
most 60 s: the minute a live radar would have before the next bucket) and one second more (so the
next minute is not held by the one-message-per-second rule of the previous one, which live time
would have let pass). Calm days go by in seconds; every alert is delivered in real time.

**Routing**, both reported: ``stream`` (one channel per brand) and ``shared`` (every brand in one
channel, where Slack's one message per second per channel queues alerts that coincide).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slack_sdk import WebClient  # noqa: E402

from alerts.escalation import IncidentEvent  # noqa: E402
from alerts.notifier import is_announced  # noqa: E402
from bench.report import emit  # noqa: E402
from radar.config import RadarConfig  # noqa: E402
from radar.mention import parse_mention  # noqa: E402
from radar.scenario import default_scenario  # noqa: E402
from radar.service import RadarService  # noqa: E402
from tests.fakeslack import FakeSlack  # noqa: E402


class Stamps:
    """A notifier placed before Slack's: when each announced event left the pipeline."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.kinds: dict[str, str] = {}

    def notify(self, event: IncidentEvent) -> None:
        if is_announced(event):
            key = event.key
            self.at.setdefault(key, time.monotonic())
            self.kinds[key] = f"{event.type}:{event.level}"


def _seeds(spec: str) -> list[int]:
    if "-" in spec:
        a, b = spec.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in spec.split(",")]


def _minutes(seeds: list[int], days: int) -> tuple[list[list[dict[str, Any]]], list[str]]:
    """Every seed's mentions, streams renamed, grouped by event-time minute in order."""
    by_minute: dict[str, list[dict[str, Any]]] = defaultdict(list)
    streams: set[str] = set()
    for seed in seeds:
        for record in default_scenario(seed=seed, days=days).mentions():
            name = record["id"].rsplit("-", 1)[0]
            stream = f"{name}-{seed}"
            streams.add(stream)
            by_minute[record["created_at"][:16]].append(
                {**record, "id": f"{seed}-{record['id']}", "stream": stream}
            )
    return [by_minute[k] for k in sorted(by_minute)], sorted(streams)


def run(routing: str, minutes: list[list[dict[str, Any]]], streams: list[str]) -> dict[str, Any]:
    channels = ["C0SHARED"] if routing == "shared" else [f"C0{i:04d}" for i in range(len(streams))]
    config = RadarConfig.model_validate(
        {
            "detection": {"warmup_hours": 24},
            "slack": {"channel": "C0SHARED", "oncall_group": "S0ONCALL"},
            "streams": {
                s: {"slack": {"channel": channels[0] if routing == "shared" else channels[i]}}
                for i, s in enumerate(streams)
            },
        }
    )
    stamps = Stamps()
    with FakeSlack(channels=channels) as slack, tempfile.TemporaryDirectory() as tmp:
        client = WebClient(token=slack.token, base_url=slack.base_url, timeout=10, retry_handlers=[])
        service = RadarService(
            config, state_dir=tmp, notifiers=[stamps], slack=client, live=False, fsync=False
        )
        assert service.dispatcher is not None
        outbox = service.dispatcher.outbox
        service.start()
        started = time.monotonic()
        waited = 0.0
        try:
            for records in minutes:
                batch = [parse_mention(r, None) for r in records]
                service.submit(batch)
                if outbox.depth():
                    t0 = time.monotonic()
                    while outbox.depth() and time.monotonic() - t0 < 60:
                        time.sleep(0.01)
                    time.sleep(1.0)
                    waited += time.monotonic() - t0
            service.pipeline.finish()
            deadline = time.monotonic() + 120
            while outbox.depth() and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            service.stop()
        elapsed = time.monotonic() - started
        first: dict[str, float] = {}
        for call in slack.requests:
            if call.method != "chat.postMessage" or call.status != 200 or not call.answer.get("ok"):
                continue
            payload = (call.args.get("metadata") or {}).get("event_payload") or {}
            keys = list(payload.get("keys") or [])
            if "incident_id" in payload:  # the parent: it carries the event that opened the thread
                announcing = [k for k in stamps.at if k.startswith(payload["incident_id"] + "#")]
                keys += sorted(announcing, key=lambda k: stamps.at[k])[:1]
            for key in keys:
                first.setdefault(key, call.at)
    by_key = {k: first[k] - stamps.at[k] for k in first if k in stamps.at}
    latencies = sorted(by_key.values())
    slowest = sorted(by_key, key=by_key.__getitem__, reverse=True)[:5]
    undelivered = [k for k in stamps.at if k not in first]
    return {
        "routing": routing,
        "channels": len(channels),
        "events_announced": len(stamps.at),
        "events_delivered": len(latencies),
        "undelivered": undelivered[:20],
        "latency_seconds": {
            "p50": round(statistics.median(latencies), 4) if latencies else None,
            "p90": round(latencies[int(0.9 * (len(latencies) - 1))], 4) if latencies else None,
            "p99": round(latencies[int(0.99 * (len(latencies) - 1))], 4) if latencies else None,
            "max": round(latencies[-1], 4) if latencies else None,
        },
        "slowest": [{"event": k, "what": stamps.kinds[k], "seconds": round(by_key[k], 4)} for k in slowest],
        "slack_requests": len(slack.requests),
        "parents": len(slack.parents()),
        "wall_seconds": round(elapsed, 1),
        "waiting_for_delivery_seconds": round(waited, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="11-14")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--routing", choices=["stream", "shared", "both"], default="both")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    minutes, streams = _minutes(_seeds(args.seeds), args.days)
    routings = ["stream", "shared"] if args.routing == "both" else [args.routing]
    results = [run(r, minutes, streams) for r in routings]
    report = {
        "command": "python bench/slack_latency.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}",
        "commit": commit.stdout.strip(),
        "target": "p99 <= 1 s when Slack answers normally",
        "streams": len(streams),
        "mentions": sum(len(m) for m in minutes),
        "results": results,
    }
    emit(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
