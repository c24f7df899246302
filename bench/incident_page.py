"""Incident page speed: a 48-hour incident with 2,880 samples and 3,000 timeline events, served for real.

    python bench/incident_page.py [--runs 7] [--out bench/results/incident_page.json]
                                  [--screenshot bench/results/pages/incident-48h.png]

Builds a SQLite incident store (``IncidentStore.open("sqlite:///...")``, in a temporary directory)
holding one synthetic crisis of Acme Air that lasts 48 hours: 2,880 one-minute samples (a daily rhythm,
a surge that ramps up to about 14x normal within half an hour and decays over the day, a second wave
the next afternoon, the negative share climbing with the surge; Poisson counts, seeded) and exactly
3,000 timeline events: the opening, every level change with a ``why`` shaped like the one the
detectors give the recorder (ratios, band, negative share, top terms, top posts), Slack deliveries
(parent, updates, thread replies, charts), acknowledgements and snoozes by the on-call people, a war
room's notes, and the resolution. Everything is written through the store's public API (``record``,
``add_samples``, ``add_entry``) in time order, as the recorder would (samples in one-hour batches).

A real :class:`RadarService` is then pointed at that store through its configuration (``[store] url``;
``$RADAR_STORE_URL``, which would take precedence, is cleared in this process) and served by uvicorn on
127.0.0.1. Over ``--runs`` runs each (after one unmeasured warm-up request), medians with min and max:

* **server**: wall time of ``GET /incidents/{id}`` with httpx, full body read (loopback, so this is
  the rendering: store reads, figures, the SVG chart, the event log's 3,000 rows, Jinja);
* **browser**: headless Debian Chromium (``/usr/bin/chromium``, never a downloaded one); each run
  one tab goes from the incident list to the incident page, as a director would:
  ``page.goto(..., wait_until="load")`` wall time, the navigation entry's ``responseStart`` /
  ``responseEnd`` / ``domContentLoadedEventEnd`` / ``loadEventEnd`` and the ``paint`` entries
  (``first-paint``, ``first-contentful-paint``), in ms from the navigation's start, and the client's
  share (DOM ready, load, first paint after the last byte arrived);
* **size** of the HTML (bytes as served, uncompressed; gzip size for reference).

Also reported: where the server's time goes, measured in-process (store reads, figures, SVG), and the
machine's load average (browser, server and client share the machine's CPUs: on a busy machine the
browser figures include waiting for one). Target: the page renders (server) and loads (browser) in
under a second.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from radar.app import create_app  # noqa: E402
from radar.config import STORE_URL_ENV, RadarConfig  # noqa: E402
from radar.incidents.figures import figures  # noqa: E402
from radar.incidents.store import LEVELS, IncidentStore  # noqa: E402
from radar.incidents.timeline_chart import svg  # noqa: E402
from radar.sample import Sample  # noqa: E402
from radar.service import RadarService  # noqa: E402
from tests.loopback import LoopbackServer  # noqa: E402

STREAM, NAME = "acme", "Acme Air"
SAMPLES = 2_880  # 48 hours of one-minute buckets
EVENTS = 3_000
HISTORY_MINUTES = 60  # buckets before the opening, as the recorder keeps them
START = datetime(2026, 3, 10, 6, 30, tzinfo=UTC)  # first bucket
OPENED = START + timedelta(minutes=HISTORY_MINUTES)
INCIDENT_ID = f"{STREAM}:crisis:{OPENED:%Y%m%dT%H%MZ}"
PEOPLE = ["Dana Director", "Sam Ops", "Lee On-call", "Kim Comms", "Alex Legal", "Robin Support"]
TERMS = ["refunds", "cancelled", "strike", "stranded", "compensation", "lie", "worst", "airport", "queue"]


# -- the synthetic incident -------------------------------------------------------------------------
def make_samples(rng: np.random.Generator) -> list[Sample]:
    """2,880 one-minute buckets: daily rhythm, a surge from minute 56, a second wave the next day."""
    out = []
    onset = HISTORY_MINUTES - 4  # the surge starts 4 minutes before the opening
    for i in range(SAMPLES):
        t = START + timedelta(minutes=i)
        hour = t.hour + t.minute / 60
        expected = 5.0 * (1.0 + 0.6 * math.sin(2 * math.pi * (hour - 10.0) / 24.0))
        surge = 1.0
        if i >= onset:
            since = i - onset
            ramp = 1.0 - math.exp(-since / 7.0)
            surge += 13.0 * ramp * math.exp(-since / 480.0)  # up within half an hour, down over the day
            surge += 5.0 * math.exp(-(((since - 1_800) / 180.0) ** 2))  # the second wave, 30 h in
        mentions = int(rng.poisson(expected * surge))
        share = min(0.85, 0.2 + 0.05 * (surge - 1.0))
        negative = int(rng.binomial(mentions, share)) if mentions else 0
        spread = 3.0 * math.sqrt(expected)
        ratio = mentions / expected
        level = (
            0 if i < HISTORY_MINUTES else 3 if ratio >= 6 else 2 if ratio >= 3 else 1 if ratio >= 1.6 else 0
        )
        out.append(
            Sample(
                t.timestamp(),
                mentions,
                negative,
                round(expected, 3),
                max(0.0, expected - spread),
                expected + spread + 2.0,
                level,
            )
        )
    return out


def why(rng: np.random.Generator, s: Sample, window: int) -> dict[str, Any]:
    """A why like the detectors give the recorder for a level change at bucket ``s``."""
    terms = rng.permutation(len(TERMS))[:5]
    posts = []
    for k in range(3):
        number = int(rng.integers(10_000, 99_999))
        author = f"traveller{number % 997}"
        posts.append(
            {
                "id": f"{STREAM}-{number}",
                "url": f"https://example.social/{author}/status/{STREAM}-{number}",
                "author": author,
                "followers": int(rng.integers(100, 90_000)),
                "reshares": int(rng.integers(0, 400)),
                "text": f"@AcmeAir {TERMS[int(terms[k])]} again, {number} people stuck at the gate. #fail",
            }
        )
    negative_expected = max(0.1, 0.2 * s.expected)
    return {
        "stream": STREAM,
        "stream_name": NAME,
        "kind": "crisis",
        "window_minutes": window,
        "mentions": s.mentions,
        "expected": round(s.expected, 2),
        "band": [round(s.lower, 2), round(s.upper, 2)],
        "bucket_expected": round(s.expected, 2),
        "negative": s.negative,
        "negative_expected": round(negative_expected, 2),
        "ratio": round(s.negative / negative_expected, 2),
        "volume_ratio": round(s.mentions / s.expected, 2),
        "negative_share": round(s.negative_share, 3),
        "negative_share_baseline": 0.2,
        "surprise": round(float(rng.uniform(3, 12)), 1),
        "slow_burn": False,
        "topic": "refunds",
        "top_terms": [
            {
                "term": TERMS[int(j)],
                "count": int(rng.integers(3, 60)),
                "lift": round(float(rng.uniform(2, 250)), 1),
            }
            for j in terms
        ],
        "top_posts": posts,
        "learning": False,
    }


def plan_events(rng: np.random.Generator, samples: list[Sample]) -> list[dict[str, Any]]:
    """The incident's 3,000 events in time order (each: at, type, level, actor, detail, key)."""
    opened_at = OPENED.timestamp()
    end = samples[-1].t + 60.0
    events: list[dict[str, Any]] = []

    def add(
        at: float, type_: str, level: str | None, actor: str | None, detail: dict[str, Any], key: str
    ) -> None:
        events.append({"at": at, "type": type_, "level": level, "actor": actor, "detail": detail, "key": key})

    # level changes: up at once, down after 5 minutes below (the escalation policy's hysteresis)
    level, below_since, changes = 0, None, 0
    for s in samples[HISTORY_MINUTES - 1 :]:
        at = s.t + 60.0  # a bucket's level is known when it closes
        target = s.level
        if at >= end - 60.0:
            break
        if target > level or (level == 0 and at == opened_at):
            kind = "opened" if level == 0 and changes == 0 else "escalated"
            level, below_since = max(target, 1), None
            add(
                at,
                kind,
                LEVELS[level],
                None,
                {"why": why(rng, s, 15)},
                f"{INCIDENT_ID}#level:{changes}:{kind}",
            )
            changes += 1
        elif target < level:
            below_since = below_since or at
            if at - below_since >= 300 and max(target, 1) < level:
                level, below_since = max(target, 1), None
                add(
                    at,
                    "deescalated",
                    LEVELS[level],
                    None,
                    {"why": why(rng, s, 15)},
                    f"{INCIDENT_ID}#level:{changes}:deescalated",
                )
                changes += 1
        else:
            below_since = None
    levels = [e for e in events if e["type"] in ("opened", "escalated", "deescalated")]

    # Slack: each change posts or updates the parent and replies in the thread, charts with the crises
    for e in levels:
        what = ["parent"] if e["type"] == "opened" else ["update", "reply"]
        if e["level"] == "crisis":
            what.append("chart")
        for n, w in enumerate(what):
            add(
                e["at"] + 1.5 + n,
                "notified",
                None,
                None,
                {"what": w, "notifier": "slack", "latency_seconds": round(float(rng.uniform(0.05, 1.2)), 3)},
                f"{e['key']}#sent:{w}",
            )

    # a status reply in the thread every half hour while the level is warning or above
    for a, b in zip(levels, [*levels[1:], None], strict=True):
        if a["level"] in ("warning", "crisis"):
            stop = b["at"] if b is not None else end
            for at in np.arange(a["at"] + 1800.0, stop, 1800.0):
                add(
                    float(at),
                    "notified",
                    None,
                    None,
                    {
                        "what": "reply",
                        "notifier": "slack",
                        "latency_seconds": round(float(rng.uniform(0.05, 1.2)), 3),
                    },
                    f"{INCIDENT_ID}#status:{int(at)}#sent",
                )

    # people: each escalation to warning or above acknowledged within minutes (the parent message is
    # then updated to say who); some snoozes
    actions = 0
    for e in levels:
        if e["level"] in ("warning", "crisis"):
            who = PEOPLE[actions % 3]
            at = e["at"] + float(rng.uniform(90, 900))
            add(
                at,
                "acknowledged",
                e["level"],
                who,
                {"action": "acknowledge", "actor_id": f"U0{actions:04d}"},
                f"{INCIDENT_ID}#action:a{actions}",
            )
            add(
                at + 1.0,
                "notified",
                None,
                None,
                {
                    "what": "update",
                    "notifier": "slack",
                    "latency_seconds": round(float(rng.uniform(0.05, 1.2)), 3),
                },
                f"{INCIDENT_ID}#action:a{actions}#sent:update",
            )
            actions += 1
            if rng.random() < 0.3:
                until = at + 3600.0
                add(
                    at + 30,
                    "snoozed",
                    e["level"],
                    who,
                    {"action": "snooze", "actor_id": f"U0{actions:04d}", "until": until},
                    f"{INCIDENT_ID}#action:a{actions}",
                )
                actions += 1

    # the war room's notes fill the rest (one event is left for the resolution)
    notes = EVENTS - len(events) - 1
    if notes < 0:
        raise SystemExit(f"{len(events)} events before notes: over {EVENTS}")
    times = np.sort(rng.uniform(opened_at + 300, end - 120, notes))
    phrases = [
        "Statement drafted, waiting for legal",
        "Call centre queue at {n} callers, extra staff requested",
        "Refund policy clarification posted on the website",
        "Press enquiry from a national daily, Kim answering",
        "Influencer thread with {n} reshares, support replying in public",
        "Ops: {n} flights rebooked since the last update",
    ]
    for k, at in enumerate(times):
        text = phrases[k % len(phrases)].format(n=int(rng.integers(20, 3000)))
        add(
            float(at),
            "note",
            None,
            PEOPLE[k % len(PEOPLE)],
            {"text": f"{text} (#{k + 1})"},
            f"{INCIDENT_ID}#note:{k:05d}",
        )
    add(
        end,
        "resolved",
        "calm",
        PEOPLE[0],
        {"action": "resolve", "actor_id": "U00000"},
        f"{INCIDENT_ID}#resolve",
    )
    events.sort(key=lambda e: e["at"])
    assert len(events) == EVENTS
    return events


def build_store(url: str, seed: int = 48) -> dict[str, Any]:
    """Write the incident into the store at ``url``; returns what was written."""
    rng = np.random.default_rng(seed)
    samples = make_samples(rng)
    events = plan_events(rng, samples)
    store = IncidentStore.open(url)
    started = time.perf_counter()
    columns: dict[str, Any] = {
        "id": INCIDENT_ID, "stream": STREAM, "stream_name": NAME, "kind": "crisis", "level": "calm",
        "peak_level": "calm", "peak_rank": 0, "opened_at": OPENED.timestamp(), "detected_at": None,
        "acknowledged_at": None, "acknowledged_by": None, "resolved_at": None, "resolved_by": None,
        "bucket_seconds": 60, "why": {},
    }  # fmt: skip
    written = 0  # samples written so far
    for e in events:
        due = [s for s in samples[written:] if s.t + 60.0 <= e["at"]]  # buckets closed by then
        if e["type"] == "opened":
            written += len(due)
        else:
            for i in range(0, len(due), 60):  # as the recorder does bucket by bucket, batched by the hour
                store.add_samples(INCIDENT_ID, due[i : i + 60])
            written += len(due)
        entry = {k: e[k] for k in ("key", "at", "type", "level", "actor", "detail")}
        if e["type"] in ("opened", "escalated", "deescalated", "resolved", "acknowledged", "snoozed"):
            if e["type"] in ("opened", "escalated", "deescalated"):
                rank = LEVELS.index(e["level"])
                columns["level"] = e["level"]
                if rank >= columns["peak_rank"]:
                    columns.update(peak_level=e["level"], peak_rank=rank, why=e["detail"]["why"])
                if rank >= 2 and columns["detected_at"] is None:
                    columns["detected_at"] = e["at"]
            elif e["type"] == "acknowledged" and columns["acknowledged_at"] is None:
                columns.update(acknowledged_at=e["at"], acknowledged_by=e["actor"])
            elif e["type"] == "resolved":
                columns.update(level="calm", resolved_at=e["at"], resolved_by=e["actor"])
            history = samples[:written] if e["type"] == "opened" else ()
            assert store.record(dict(columns), entry, history)
        else:
            assert store.add_entry(INCIDENT_ID, entry)
    if written < len(samples):
        store.add_samples(INCIDENT_ID, samples[written:])
    seconds = time.perf_counter() - started
    assert len(store.samples(INCIDENT_ID)) == SAMPLES and len(store.timeline(INCIDENT_ID)) == EVENTS
    row = store.incident(INCIDENT_ID)
    assert row is not None
    store.close()
    counts: dict[str, int] = {}
    for e in events:
        counts[e["type"]] = counts.get(e["type"], 0) + 1
    return {
        "incident": INCIDENT_ID,
        "samples": SAMPLES,
        "events": EVENTS,
        "events_by_type": dict(sorted(counts.items())),
        "peak_level": row.peak_level,
        "peak_mentions_per_minute": row.peak_mentions,
        "total_mentions": row.total_mentions,
        "write_seconds": round(seconds, 2),
    }


# -- serving and measuring --------------------------------------------------------------------------
class Served:
    """A RadarService on the store at ``url``, behind uvicorn on 127.0.0.1 (a free port)."""

    def __init__(self, url: str, state_dir: Path) -> None:
        os.environ.pop(STORE_URL_ENV, None)  # it would take precedence over the configuration
        config = RadarConfig.model_validate(
            {
                "store": {"url": url},
                "streams": {
                    STREAM: {"display_name": NAME, "keywords": ["acme air"], "handles": ["@AcmeAir"]}
                },
            }
        )
        self.service = RadarService(config, state_dir=state_dir, notifiers=[], live=False, fsync=False)
        self.server = LoopbackServer(create_app(self.service, token="", slack_secret=""), timeout=20)
        self.base = self.server.base

    def close(self) -> None:
        self.server.stop()
        self.service.stop()


def summary(values: list[float], digits: int = 1) -> dict[str, float | None]:
    known = [v for v in values if v is not None]
    if not known:
        return {"median": None, "min": None, "max": None}
    return {
        "median": round(statistics.median(known), digits),
        "min": round(min(known), digits),
        "max": round(max(known), digits),
    }


def measure_server(base: str, path: str, runs: int) -> tuple[dict[str, Any], bytes]:
    with httpx.Client(base_url=base, timeout=60) as client:
        started = time.perf_counter()
        first = client.get(path)
        cold = time.perf_counter() - started
        first.raise_for_status()
        times = []
        body = first.content
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(path)
            body = response.content  # httpx has read the whole body
            times.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
    return {
        "first_request_ms": round(cold * 1000, 1),
        "render_ms": summary(times),
        "runs_ms": [round(t, 1) for t in times],
    }, body


_TIMING = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const paint = Object.fromEntries(performance.getEntriesByType('paint').map(p => [p.name, p.startTime]));
  return {responseStart: nav.responseStart, responseEnd: nav.responseEnd,
          domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
          decodedBodySize: nav.decodedBodySize, firstPaint: paint['first-paint'] ?? null,
          firstContentfulPaint: paint['first-contentful-paint'] ?? null};
}"""


def measure_browser(base: str, path: str, runs: int, screenshot: Path | None) -> dict[str, Any]:
    """Chromium goes from the incident list to the incident page, ``runs`` times (after a warm-up)."""
    from playwright.sync_api import sync_playwright

    from tests.browser import launch

    keys = ("responseStart", "responseEnd", "domContentLoaded", "load", "firstPaint", "firstContentfulPaint")
    goto_ms: list[float] = []
    timings: dict[str, list[float]] = {k: [] for k in keys}
    after_response: dict[str, list[float]] = {k: [] for k in ("domContentLoaded", "load", "firstPaint")}
    decoded = 0
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            for run in range(runs + 1):  # the first is a warm-up
                page.goto(base + "/incidents", wait_until="load")  # where a director comes from
                started = time.perf_counter()
                response = page.goto(base + path, wait_until="load")
                elapsed = (time.perf_counter() - started) * 1000
                if response is None or response.status != 200:
                    raise RuntimeError(f"{path}: {response.status if response else 'no response'}")
                page.wait_for_timeout(100)  # let the paint entries be queued
                timing = page.evaluate(_TIMING)
                decoded = int(timing["decodedBodySize"])
                if run == 0:
                    continue
                goto_ms.append(elapsed)
                for k in keys:
                    timings[k].append(timing[k])
                for k in after_response:
                    if timing[k] is not None:
                        after_response[k].append(timing[k] - timing["responseEnd"])
            if screenshot is not None:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                clip = {"x": 0, "y": 0, "width": 1280, "height": 1500}  # the event log goes on for 3,000 rows
                page.screenshot(path=screenshot, full_page=True, clip=clip)
            context.close()
        finally:
            browser.close()
    return {
        "chromium": "/usr/bin/chromium (headless)",
        "goto_load_ms": summary(goto_ms),
        "navigation_ms": {k: summary(v) for k, v in timings.items()},
        "client_ms_after_response_end": {k: summary(v) for k, v in after_response.items()},
        "decoded_body_bytes": decoded,
        "runs_goto_load_ms": [round(t, 1) for t in goto_ms],
    }


def breakdown(url: str, runs: int) -> dict[str, Any]:
    """Where the server's time goes (in-process, same store): the reads, the figures, the chart."""
    store = IncidentStore.open(url)
    parts: dict[str, list[float]] = {
        "incident_row": [],
        "samples": [],
        "timeline": [],
        "figures": [],
        "svg": [],
    }
    try:
        for _ in range(runs):
            t0 = time.perf_counter()
            row = store.incident(INCIDENT_ID)
            t1 = time.perf_counter()
            samples = store.samples(INCIDENT_ID)
            t2 = time.perf_counter()
            store.timeline(INCIDENT_ID)
            t3 = time.perf_counter()
            assert row is not None
            f = figures(row, samples)
            t4 = time.perf_counter()
            svg(
                samples,
                {
                    "onset": f.onset,
                    "detected": f.detected,
                    "acknowledged": f.acknowledged,
                    "resolved": f.resolved,
                },
            )
            t5 = time.perf_counter()
            for k, (a, b) in zip(parts, [(t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5)], strict=True):
                parts[k].append((b - a) * 1000)
    finally:
        store.close()
    return {k: summary(v, 2)["median"] for k, v in parts.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "incident_page.json")
    parser.add_argument(
        "--screenshot", type=Path, default=ROOT / "bench" / "results" / "pages" / "incident-48h.png"
    )
    args = parser.parse_args(argv)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-incident-page-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'incidents.sqlite3'}"
        data = build_store(url)
        served = Served(url, Path(tmp) / "state")
        try:
            path = f"/incidents/{quote(INCIDENT_ID)}"
            server, body = measure_server(served.base, path, args.runs)
            browser = measure_browser(served.base, path, args.runs, args.screenshot)
        finally:
            served.close()
        where = breakdown(url, args.runs)
    render = server["render_ms"]["median"]
    load = browser["goto_load_ms"]["median"]
    report = {
        "command": " ".join(["python bench/incident_page.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs",
        "commit": commit.stdout.strip(),
        "worktree_modified": bool(dirty.stdout.strip()),
        "load_average_1min": {"start": round(load_before[0], 2), "end": round(os.getloadavg()[0], 2)},
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "target": "the incident page renders (server) and loads (Chromium) in under 1 s",
        "runs": args.runs,
        "store": {"url": "sqlite:///TMP/incidents.sqlite3", **data},
        "html": {
            "bytes": len(body),
            "gzip_bytes": len(gzip.compress(body)),
            "timeline_rows": body.count(b'<tr class="ev-'),
        },
        "server": server,
        "server_in_process_ms": where,
        "browser": browser,
        "target_met": bool(render is not None and load is not None and render < 1000 and load < 1000),
        "screenshot": str(
            args.screenshot.relative_to(ROOT) if args.screenshot.is_relative_to(ROOT) else args.screenshot
        ),
    }
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
