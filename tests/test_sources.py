"""The supervisor of live sources and what a silent source does to the streams it feeds.

The sources here are small scripted implementations of the ``Source`` protocol (the one seam); the
real protocols are tested against local servers in ``test_jetstream.py`` and ``test_mastodon.py``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from radar.config import RadarConfig
from radar.mention import Mention, parse_mention
from radar.pipeline import Pipeline
from radar.sentiment import VaderScorer
from radar.sources.source import SourceHealth
from radar.sources.supervisor import Supervisor

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def mention(i: int, stream: str = "acme", source: str = "bluesky", at: datetime = T0) -> Mention:
    return parse_mention(
        {"id": f"{source}-{stream}-{i}", "created_at": at.isoformat(), "text": "fine day", "stream": stream,
         "source": source},
        None,
    )  # fmt: skip


class Scripted:
    """Yields the batches of ``script`` one connection after another; ``None`` in it is a dropped
    connection; the position is the index of the next batch."""

    def __init__(self, script: list[list[Mention] | None], name: str = "bluesky") -> None:
        self.name, self.script, self.health = name, script, SourceHealth(name)
        self.next = 0
        self.started_at: list[int] = []
        self.dropped: set[int] = set()

    async def batches(self) -> AsyncIterator[Sequence[Mention]]:
        self.started_at.append(self.next)
        while self.next < len(self.script):
            item = self.script[self.next]
            if item is None:
                self.next += 1
                if self.next - 1 not in self.dropped:  # each drop happens once
                    self.dropped.add(self.next - 1)
                    raise ConnectionError("dropped")
                continue
            self.health.events += len(item)
            self.health.last_event_at = time.time()
            self.next += 1  # the position after this batch
            yield item
        await asyncio.sleep(3600)  # connected, nothing more to say

    def position(self) -> dict[str, Any]:
        return {"next": self.next}

    def resume(self, position: dict[str, Any]) -> None:
        self.next = int(position["next"])

    async def close(self) -> None:
        pass


def wait_until(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_dropped_source_is_restarted_with_backoff_and_loses_nothing() -> None:
    batches = [[mention(i)] for i in range(6)]
    source = Scripted(
        [batches[0], batches[1], None, batches[2], None, None, batches[3], batches[4], batches[5]]
    )
    got: list[str] = []
    sup = Supervisor([source], lambda batch, name: got.extend(m.id for m in batch), base=0.01, cap=0.05)
    sup.start()
    try:
        # the position is recorded once the sink has returned: wait for it, not only for the sink
        wait_until(lambda: len(got) == 6 and sup.positions() == {"bluesky": {"next": 9}})
    finally:
        sup.stop()
    assert got == [f"bluesky-acme-{i}" for i in range(6)]
    assert source.health.errors == 3 and source.health.reconnects == 3


def test_a_failing_sink_counts_as_an_error_and_the_batch_is_taken_again() -> None:
    source = Scripted([[mention(0)], [mention(1)]])
    calls: list[str] = []
    lock = threading.Lock()

    def sink(batch: list[Mention], name: str) -> None:
        with lock:
            calls.append(batch[0].id)
            if len(calls) == 2:
                raise OSError("journal full")

    sup = Supervisor([source], sink, base=0.01, cap=0.02)
    source.next = 0
    sup.start()
    try:
        wait_until(lambda: len(calls) >= 3)
    finally:
        sup.stop()
    assert calls[:3] == ["bluesky-acme-0", "bluesky-acme-1", "bluesky-acme-1"]  # not lost
    assert source.health.errors == 1


def test_positions_resume_a_restarted_supervisor() -> None:
    source = Scripted([[mention(0)], [mention(1)], [mention(2)]])
    source.resume({"next": 2})  # what the last checkpoint held
    got: list[str] = []
    sup = Supervisor(
        [source], lambda batch, name: got.extend(m.id for m in batch), positions={"bluesky": {"next": 1}}
    )
    sup.start()
    try:
        wait_until(lambda: len(got) == 2)
    finally:
        sup.stop()
    assert source.started_at[0] == 1 and got == ["bluesky-acme-1", "bluesky-acme-2"]


def test_a_quiet_source_is_reported_silent_once_and_back_when_it_delivers() -> None:
    now = [1000.0]
    calls: list[tuple[str, bool]] = []
    source = Scripted([])
    sup = Supervisor(
        [source],
        lambda b, n: None,
        on_silent=lambda n, s: calls.append((n, s)),
        silent_after=60,
        clock=lambda: now[0],
    )
    now[0] += 59
    assert sup.check_silence() == []
    now[0] += 2
    assert sup.check_silence() == ["bluesky"] and source.health.silent
    assert sup.check_silence() == []  # told once
    source.health.last_event_at = now[0]
    sup._heard(source)
    assert calls == [("bluesky", True), ("bluesky", False)] and not source.health.silent


def test_a_silent_source_makes_the_streams_it_feeds_treat_buckets_as_missing() -> None:
    config = RadarConfig.model_validate({"detection": {"warmup_hours": 2}})
    pipeline = Pipeline(config, VaderScorer())
    minute = timedelta(minutes=1)
    for m in range(6 * 60):  # six hours: acme from Bluesky, nimbus from Mastodon, 3 mentions a minute each
        at = T0 + m * minute
        for k in range(3):
            pipeline.ingest(mention(m * 3 + k, "acme", "bluesky", at + k * timedelta(seconds=10)))
            pipeline.ingest(mention(m * 3 + k, "nimbus", "mastodon", at + k * timedelta(seconds=10)))
        pipeline.advance()
    assert not pipeline.streams["acme"].learning
    end = T0 + 6 * 60 * minute
    for m in range(30):  # Bluesky is down: acme gets nothing, nimbus goes on; after 10 minutes: silent
        at = end + m * minute
        for k in range(3):
            pipeline.ingest(mention(10_000 + m * 3 + k, "nimbus", "mastodon", at + k * timedelta(seconds=10)))
        pipeline.advance()
        if m == 10:
            assert pipeline.source_silent("bluesky", True) == ["acme"]
            assert pipeline.streams["acme"].detector.silent and not pipeline.streams["nimbus"].detector.silent
    kinds = {(i.stream, i.kind) for i in pipeline.open_incidents()}
    assert ("acme", "source_silent") in kinds  # a notice, not a page
    assert not any(i.pages and i.stream == "acme" for i in pipeline.open_incidents())
    assert pipeline.streams["acme"].last is not None and pipeline.streams["acme"].last.silent
    at = end + 30 * minute
    pipeline.ingest(mention(99_999, "acme", "bluesky", at))  # back
    pipeline.advance((at + 3 * minute).timestamp())
    assert not pipeline.streams["acme"].detector.silent
