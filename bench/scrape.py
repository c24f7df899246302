"""Scrape cost: how long ``/metrics`` takes to answer with many streams.

    python bench/scrape.py [--streams 1000] [--requests 30] [--out bench/results/scrape.json]

Builds a real :class:`RadarService` (no Slack, console off) whose config allows ``--streams``
streams, feeds every stream a few minutes of mentions (so each has a last bucket, an expectation,
and the per-stream series are all present; 2 % of them get an open incident), serves it with
uvicorn on loopback, and times ``GET /metrics`` over HTTP (``--requests`` requests after two warm-up
ones; the median, p90 and max), as Prometheus would. Also reported: the in-process
``RadarMetrics.exposition()`` time, the body size and the number of series. Target: under 100 ms
for 1,000 streams.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.report import emit  # noqa: E402
from radar.app import create_app  # noqa: E402
from radar.clock import ManualClock  # noqa: E402
from radar.config import RadarConfig  # noqa: E402
from radar.mention import parse_mention  # noqa: E402
from radar.service import RadarService  # noqa: E402
from tests.loopback import LoopbackServer  # noqa: E402

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def build(streams: int, tmp: str) -> RadarService:
    config = RadarConfig.model_validate(
        {"radar": {"max_streams": max(streams, 1000)}, "detection": {"warmup_hours": 0}}
    )
    service = RadarService(
        config, state_dir=tmp, notifiers=[], clock=ManualClock(T0), live=False, fsync=False
    )
    for minute in range(6):
        batch = []
        for i in range(streams):
            surge = i % 50 == 0 and minute >= 3
            for k in range(20 if surge else 2):
                at = T0 + timedelta(minutes=minute, seconds=k)
                text = "this is awful, refund now" if surge or k == 0 else "fine service today"
                record = {
                    "id": f"s{i}-{minute}-{k}",
                    "created_at": at.isoformat(),
                    "text": text,
                    "stream": f"brand-{i:05d}",
                }
                batch.append(parse_mention(record, None))
        service.submit(batch)
    service.pipeline.finish()
    return service


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    with tempfile.TemporaryDirectory() as tmp:
        service = build(args.streams, tmp)
        inproc = []
        for _ in range(args.requests):
            t = time.perf_counter()
            body = service.metrics.exposition()
            inproc.append(time.perf_counter() - t)
        server = LoopbackServer(create_app(service, token=""))
        http = []
        with httpx.Client(base_url=server.base, timeout=30) as client:
            for _ in range(2):
                client.get("/metrics")
            for _ in range(args.requests):
                t = time.perf_counter()
                response = client.get("/metrics")
                response.raise_for_status()
                http.append(time.perf_counter() - t)
        server.stop()
        open_incidents = len(service.pipeline.open_incidents())
        service.stop()
    series = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
    http.sort()
    report = {
        "command": "python bench/scrape.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}",
        "commit": commit.stdout.strip(),
        "target": "GET /metrics under 100 ms for 1,000 streams",
        "streams": args.streams,
        "open_incidents": open_incidents,
        "series": series,
        "body_bytes": len(body),
        "http_ms": {
            "median": round(statistics.median(http) * 1000, 2),
            "p90": round(http[int(0.9 * (len(http) - 1))] * 1000, 2),
            "max": round(http[-1] * 1000, 2),
        },
        "exposition_ms_median": round(statistics.median(inproc) * 1000, 2),
    }
    emit(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
