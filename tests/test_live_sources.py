"""The radar running a live source end to end: ``[sources.jetstream]`` enabled in the configuration,
a local Jetstream and profile server, the real service (supervisor, journal, checkpoint): matched
posts become journaled mentions of their stream, the cursor is saved with the checkpoint, and a
restarted radar resumes from it without losing or doubling a mention. Source health shows in
``/metrics`` and ``/healthz``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from radar.config import RadarConfig
from radar.service import RadarService
from tests.jetstream_server import JetstreamServer, ProfileServer, like_event, post_event

DID = "did:plc:abcdefghijklmnopqrstuvwx"
T0_US = 1_772_600_000_000_000  # 2026-03-04


def config(server: JetstreamServer, profiles: ProfileServer) -> RadarConfig:
    return RadarConfig.model_validate(
        {
            "streams": {"acme": {"keywords": ["acme air"], "hashtags": ["#acmeair"]}},
            "sources": {
                "silent_after_minutes": 60,
                "jetstream": {
                    "enabled": True,
                    "url": server.url,
                    "profile_api": profiles.base_url,
                    "resume_overlap_seconds": 2,
                },
            },
        }
    )


def events(start: int, count: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(start, start + count):
        t = T0_US + i * 1_000_000
        text = f"Acme Air delayed my flight again ({i})" if i % 2 == 0 else f"lovely weather today {i}"
        out.append(post_event(DID, t, text))
        out.append(like_event(DID, t + 1, f"at://{DID}/app.bsky.feed.post/x{i}"))
    return out


def wait_until(check: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def journaled(service: RadarService) -> list[str]:
    return [m.id for _, m in service.journal.replay(0)]


def test_a_live_source_feeds_the_radar_and_resumes_after_a_restart(tmp_path: Path) -> None:
    with (
        JetstreamServer() as server,
        ProfileServer({DID: ("traveller.bsky.social", 321)}) as profiles,
    ):
        service = RadarService(
            config(server, profiles), state_dir=tmp_path, notifiers=[], live=False, fsync=False
        )
        service.start()
        try:
            server.wait_connections(1)  # no cursor yet: the live tail
            server.publish(*events(0, 40))
            wait_until(lambda: len(journaled(service)) == 20)
            first = journaled(service)
            mention = next(m for _, m in service.journal.replay(0))
            assert mention.streams == ("acme",) and mention.source == "bluesky"
            assert mention.author == "traveller.bsky.social" and mention.author_followers == 321
            health = service.health()["sources"][0]
            assert health["name"] == "bluesky" and health["connected"] and health["events"] >= 40
            text = service.metrics.exposition().decode()
            assert 'radar_source_connected{source="bluesky"} 1.0' in text
            assert 'radar_source_mentions_total{source="bluesky"} 20.0' in text
        finally:
            service.stop()  # the final checkpoint saves the cursor
        saved = json.loads((tmp_path / "sources.json").read_text())
        assert saved["bluesky"]["cursor"] >= T0_US + 38 * 1_000_000

        server.publish(*events(40, 20))  # more arrives while the radar is down
        again = RadarService(
            config(server, profiles), state_dir=tmp_path, notifiers=[], live=False, fsync=False
        )
        again.start()
        expected = {f"at://{DID}/app.bsky.feed.post/{e['commit']['rkey']}" for e in events(40, 20)[::4]}
        try:
            wait_until(lambda: expected <= set(journaled(again)))
            again_ids = journaled(again)
            assert again_ids[:20] == first  # one segment: the checkpoint did not drop it
            tail = again_ids[20:]
            overlap = [i for i in tail if i in first]
            assert set(tail) - set(first) == expected  # nothing lost
            duplicates = again.metrics.duplicates._value.get()
            assert duplicates == len(overlap) and len(overlap) <= 2  # nothing doubled in the radar
            resumed = server.connections[-1].cursor
            assert resumed is not None and resumed <= saved["bluesky"]["cursor"] - 2_000_000
        finally:
            again.stop()
