"""``radar demo``: a generated multi-day scenario replayed fast through the real radar.

It generates a few brands' mentions (daily and weekly rhythm, quiet days, then a crisis), starts
the real service with its HTTP app on localhost (``/metrics``, ``/healthz``, the ingest API),
sends the mentions through the ingest API as fast as it takes them, prints every alert the way
the on-call team would read it, and ends with what was raised against what was injected.
"""

from __future__ import annotations

import json
import secrets
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from typing import Any, TextIO

import httpx
import uvicorn

from alerts.console import ConsoleNotifier
from radar.app import create_app
from radar.config import RadarConfig
from radar.scenario import Scenario, demo_scenario, stream_rules
from radar.service import RadarService


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free port on 127.0.0.1")


def demo_config(scenario: Scenario, state_dir: str) -> RadarConfig:
    """The configuration the demo runs with: the scenario's streams and rules."""
    streams: dict[str, Any] = {}
    for profile in scenario.streams:
        rules: dict[str, Any] = dict(stream_rules(scenario)[profile.name])
        rules["display_name"] = profile.display
        streams[profile.name] = rules
    return RadarConfig.model_validate(
        {"radar": {"state_dir": state_dir}, "detection": {"warmup_hours": 24}, "streams": streams}
    )


def run_demo(
    seed: int = 1, port: int = 8462, linger: float = 0.0, duration: float = 0.0, out: TextIO | None = None
) -> int:
    """Run the demo; returns 0 when the injected crisis was caught.

    ``duration`` paces the replay over that many wall-clock seconds (0: as fast as it can), so
    there is time to look at ``/metrics`` while it runs.
    """
    out = out or sys.stdout
    scenario = demo_scenario(seed)
    mentions = list(scenario.mentions())
    with tempfile.TemporaryDirectory(prefix="radar-demo-") as state_dir:
        config = demo_config(scenario, state_dir)
        service = RadarService(config, state_dir=state_dir, live=False, notifiers=[ConsoleNotifier(out)])
        token = secrets.token_urlsafe(16)
        port = _free_port(port)
        server = uvicorn.Server(
            uvicorn.Config(create_app(service, token=token), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, name="radar-http", daemon=True)
        thread.start()
        while not server.started and thread.is_alive():
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        names = ", ".join(f"{s.display} ({s.name})" for s in scenario.streams)
        print(
            f"Crisis Radar demo — {len(mentions):,} generated mentions over {scenario.days} days "
            f"for {names}.\n"
            f"Serving {base}/metrics, {base}/healthz and the ingest API {base}/v1/mentions while it runs;\n"
            f"incident pages on {base}/incidents (--linger 300 keeps them up afterwards).\n"
            f"The first day is learning time; alerts appear below as the on-call team would read them.\n",
            file=out,
            flush=True,
        )
        started = time.monotonic()
        try:
            _send(mentions, base, token, out, duration)
            service.tick()
            service.pipeline.finish()
            caught = _summary(scenario, service, out)
            print(f"Replayed in {time.monotonic() - started:.0f} s.", file=out, flush=True)
            if linger > 0:
                print(
                    f"Still serving {base}/metrics for {linger:.0f} s (Ctrl-C to stop).", file=out, flush=True
                )
                time.sleep(linger)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            service.stop()
    return 0 if caught else 1


def _send(mentions: list[dict[str, Any]], base: str, token: str, out: TextIO, duration: float) -> None:
    headers = {"authorization": f"Bearer {token}", "content-type": "application/x-ndjson"}
    day = ""
    pace = duration / max(len(mentions), 1)  # wall seconds per mention
    started = time.monotonic()
    with httpx.Client(base_url=base, timeout=60.0) as client:
        for i in range(0, len(mentions), 1000):
            chunk = mentions[i : i + 1000]
            first_day = str(chunk[0]["created_at"])[:10]
            if first_day != day:
                day = first_day
                weekday = datetime.fromisoformat(day).strftime("%A")
                print(f"— {weekday} {day} —", file=out, flush=True)
            body = "".join(json.dumps(m) + "\n" for m in chunk).encode()
            response = client.post("/v1/mentions", content=body, headers=headers)
            response.raise_for_status()
            ahead = started + (i + len(chunk)) * pace - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)


def _summary(scenario: Scenario, service: RadarService, out: TextIO) -> bool:
    incidents = service.pipeline.all_incidents()
    print("\nWhat the radar raised:", file=out)
    for inc in incidents:
        resolved = inc.resolved_at.strftime("%a %H:%M") if inc.resolved_at else "still open"
        print(
            f"  {inc.stream:<10} {inc.kind:<13} peak {inc.peak_level!s:<8} "
            f"{inc.opened_at:%a %H:%M} → {resolved}",
            file=out,
        )
    print("What was injected:", file=out)
    caught_all = True
    for event in scenario.events:
        hit = [
            i
            for i in incidents
            if i.stream == event.stream
            and i.kind == "crisis"
            and i.peak_level >= 2
            and i.opened_at <= event.end
            and (i.resolved_at or datetime.max.replace(tzinfo=UTC)) >= event.start
        ]
        if event.must_alert:
            if hit:
                warned = next(c.at for c in hit[0].levels if c.level >= 2)
                delay = (warned - event.start).total_seconds() / 60
                verdict = f"caught, warning {delay:.0f} min after onset"
            else:
                verdict = "MISSED"
                caught_all = False
        else:
            verdict = "no alert (correct)" if not hit else "alerted (should not have)"
        print(f"  {event.stream:<10} {event.kind:<18} {event.start:%a %H:%M}  {verdict}", file=out)
    print(file=out, flush=True)
    return caught_all
