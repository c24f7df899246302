"""The service's durability in process: journal before pipeline, checkpoint and restore, idle clock.

Real journal and checkpoint files in a temporary directory, real VADER, the demo scenario's
mentions (a sudden crisis for ``acme`` late on day 4). A "crash" is the service object dropped
without :meth:`RadarService.stop` (its journal closed, as the kernel would on ``kill -9``).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.escalation import IncidentEvent
from radar.batch import BatchResult, Rejection
from radar.clock import ManualClock
from radar.config import RadarConfig
from radar.demo import demo_config
from radar.journal import JournalError
from radar.mention import Mention, parse_mention
from radar.scenario import demo_scenario
from radar.service import RadarService

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


class Recorder:
    """A notifier that keeps what it hears."""

    def __init__(self) -> None:
        self.events: list[IncidentEvent] = []

    def notify(self, event: IncidentEvent) -> None:
        self.events.append(event)


@pytest.fixture(scope="module")
def scenario_mentions() -> tuple[list[Mention], datetime]:
    scenario = demo_scenario(1)
    mentions = [parse_mention(r, None) for r in scenario.mentions()]
    crisis = next(e for e in scenario.events if e.kind == "sudden_crisis")
    return mentions, crisis.start


def _config(state_dir: Path) -> RadarConfig:
    return demo_config(demo_scenario(1), str(state_dir))


def _service(state_dir: Path, recorder: Recorder, **kw: Any) -> RadarService:
    return RadarService(
        _config(state_dir),
        state_dir=state_dir,
        notifiers=[recorder],
        clock=ManualClock(NOW),
        live=False,
        fsync=False,
        **kw,
    )


def _chunks(mentions: list[Mention], size: int = 1000) -> Iterator[list[Mention]]:
    for i in range(0, len(mentions), size):
        yield mentions[i : i + size]


def _feed(service: RadarService, mentions: list[Mention]) -> int:
    accepted = 0
    for chunk in _chunks(mentions):
        accepted += service.submit(chunk).accepted
    return accepted


def _crash(service: RadarService) -> None:
    service.journal.close()  # what the kernel does to a killed process's files; no final checkpoint


def _split(mentions: list[Mention], at: datetime) -> tuple[list[Mention], list[Mention]]:
    before = [m for m in mentions if m.created_at < at]
    return before, [m for m in mentions if m.created_at >= at]


def test_restart_restores_detectors_and_the_open_incident(
    scenario_mentions: tuple[list[Mention], datetime], tmp_path: Path
) -> None:
    mentions, onset = scenario_mentions
    first, rest = _split(mentions, onset + timedelta(minutes=40))
    second, _ = _split(rest, onset + timedelta(minutes=70))

    heard = Recorder()
    service = _service(tmp_path, heard)
    _feed(service, first)
    open_before = [i for i in service.pipeline.open_incidents() if i.stream == "acme" and i.kind == "crisis"]
    assert open_before, "the demo crisis should have opened an incident 40 minutes after onset"
    incident_id = open_before[0].id
    assert next(e.type for e in heard.events if e.incident.id == incident_id) == "opened"
    service.checkpoint()
    checkpoint_seq = service.journal.last_seq
    _feed(service, second)  # journaled after the checkpoint: replayed on restart
    expected = [i.to_json() for i in service.pipeline.all_incidents()]
    learned = {name: pickle.dumps(s.detector) for name, s in service.pipeline.streams.items()}
    _crash(service)

    again = Recorder()
    restarted = _service(tmp_path, again)
    assert restarted.restored_from == checkpoint_seq
    assert restarted.replayed == len(second)
    assert [i.to_json() for i in restarted.pipeline.all_incidents()] == expected
    assert incident_id in [i.id for i in restarted.pipeline.open_incidents()]
    assert not any(e.type == "opened" and e.incident.id == incident_id for e in again.events)
    assert {name: s.learning for name, s in restarted.pipeline.streams.items()} == {
        "acme": False,
        "nimbus": False,
        "fernwood": False,
    }
    # the detectors carry on from exactly where the crashed radar was, not from scratch
    assert {name: pickle.dumps(s.detector) for name, s in restarted.pipeline.streams.items()} == learned
    health = restarted.health()
    assert health["streams"]["acme"]["learning"] is False
    assert health["streams"]["acme"]["level"] in {"warning", "crisis"}
    assert "radar_streams 3.0" in restarted.metrics.exposition().decode()  # restored streams count
    restarted.stop()


def test_clean_stop_writes_a_checkpoint_and_nothing_is_replayed(
    scenario_mentions: tuple[list[Mention], datetime], tmp_path: Path
) -> None:
    mentions, onset = scenario_mentions
    first, _ = _split(mentions, onset - timedelta(hours=6))
    service = _service(tmp_path, Recorder())
    _feed(service, first)
    service.stop()
    restarted = _service(tmp_path, Recorder())
    assert restarted.restored_from == len(first)
    assert restarted.replayed == 0
    assert restarted.journal.last_seq == len(first)  # numbering carries on across the restart
    restarted.stop()


def test_a_damaged_newest_checkpoint_falls_back_without_loss(
    scenario_mentions: tuple[list[Mention], datetime], tmp_path: Path
) -> None:
    mentions, onset = scenario_mentions
    a, rest = _split(mentions, onset - timedelta(days=1))
    b, rest = _split(rest, onset - timedelta(hours=12))
    c, _ = _split(rest, onset + timedelta(minutes=60))

    service = _service(tmp_path, Recorder(), journal_segment_bytes=256 * 1024)
    _feed(service, a)
    service.checkpoint()
    _feed(service, b)
    service.checkpoint()  # drops journal segments the older checkpoint no longer needs
    _feed(service, c)
    expected = [i.to_json() for i in service.pipeline.all_incidents()]
    assert service.journal.segment_count > 1
    _crash(service)

    newest = sorted((tmp_path / "checkpoints").iterdir())[-1]
    data = bytearray(newest.read_bytes())
    data[-10] ^= 0xFF
    newest.write_bytes(bytes(data))

    restarted = _service(tmp_path, Recorder())
    assert restarted.restored_from == len(a)
    assert restarted.replayed == len(b) + len(c)
    assert [i.to_json() for i in restarted.pipeline.all_incidents()] == expected
    restarted.stop()


def test_nothing_is_fed_when_the_journal_cannot_write(tmp_path: Path) -> None:
    service = _service(tmp_path, Recorder())
    service.journal.close()
    mention = parse_mention({"id": "1", "created_at": "2026-03-02T10:00:00Z", "text": "acme air"}, None)
    with pytest.raises(JournalError):
        service.submit([mention])
    assert service.pipeline.max_event_t < 0  # the pipeline never saw it
    assert not service.pipeline.dedup.seen("1")  # so a retry after the outage is not a duplicate


def test_report_names_rejections_and_duplicates(tmp_path: Path) -> None:
    config = RadarConfig.model_validate(
        {"radar": {"max_streams": 1}, "streams": {"acme": {"keywords": ["acme"]}}}
    )
    service = RadarService(
        config, state_dir=tmp_path, notifiers=[], clock=ManualClock(NOW), live=False, fsync=False
    )
    raw = [
        {"id": "1", "created_at": "2026-03-02T10:00:00Z", "text": "acme lost my bag"},
        {"id": "1", "created_at": "2026-03-02T10:00:00Z", "text": "acme lost my bag"},
        {"id": "2", "created_at": "2026-03-02T10:00:01Z", "text": "nothing to see"},
        {"id": "3", "created_at": "2026-03-02T10:00:02Z", "text": "hello", "stream": "newbrand"},
    ]
    batch = BatchResult(
        mentions=[parse_mention(r, None) for r in raw],
        rejected=[Rejection(1, "missing_field", "text: required")],
    )
    report = service.submit(batch).to_json()
    assert report["accepted"] == 3  # the duplicate and the unmatched mention are journaled, counted once
    assert report["duplicates"] == 1
    assert report["unmatched"] == 1
    assert [(r["index"], r["reason"]) for r in report["rejected"]] == [
        (1, "missing_field"),
        (4, "stream_limit"),
    ]
    assert "max_streams=1" in report["rejected"][1]["error"]
    exposition = service.metrics.exposition().decode()
    assert 'radar_mentions_rejected_total{reason="stream_limit"} 1.0' in exposition
    assert 'radar_mentions_rejected_total{reason="missing_field"} 1.0' in exposition


def test_idle_streams_close_on_the_wall_clock_but_replays_are_not_cut_off(tmp_path: Path) -> None:
    config = RadarConfig.model_validate({"streams": {"acme": {"keywords": ["acme"]}}})
    clock = ManualClock(NOW)
    service = RadarService(config, state_dir=tmp_path, notifiers=[], clock=clock, live=True, fsync=False)
    old = datetime(2026, 3, 2, 10, tzinfo=UTC)  # a file from March replayed in November
    mention = parse_mention({"id": "1", "created_at": old.isoformat(), "text": "acme"}, None)
    service.submit([mention])
    clock.advance(timedelta(minutes=10))
    service.tick()
    watermark = service.pipeline.windower.watermark
    lateness = config.radar.allowed_lateness_seconds
    # event time ran on for the 10 idle minutes, no further: the rest of the file is still on time
    assert watermark <= old.timestamp() + 600 - lateness
    assert watermark >= old.timestamp() + 600 - lateness - config.radar.bucket_seconds
    later = parse_mention(
        {"id": "2", "created_at": (old + timedelta(minutes=10)).isoformat(), "text": "acme"}, None
    )
    assert service.submit([later]).outcomes["accepted"] == 1
    service.stop()


def test_a_mention_dated_in_the_future_does_not_make_the_present_late(tmp_path: Path) -> None:
    config = RadarConfig.model_validate({"streams": {"acme": {"keywords": ["acme"]}}})
    clock = ManualClock(NOW)
    service = RadarService(config, state_dir=tmp_path, notifiers=[], clock=clock, live=True, fsync=False)

    def mention(i: int, at: datetime) -> Mention:
        return parse_mention({"id": str(i), "created_at": at.isoformat(), "text": "acme"}, NOW)

    ahead = NOW + timedelta(hours=23)  # accepted: within the day a clock may be off
    assert service.submit([mention(0, ahead)]).outcomes["accepted"] == 1
    assert service.pipeline.max_event_t <= NOW.timestamp()
    for i in range(1, 31):  # the present goes on: none of it is late
        clock.advance(timedelta(seconds=20))
        report = service.submit([mention(i, clock.now())])
        assert report.outcomes["accepted"] == 1, report.outcomes
    service.tick()
    assert service.pipeline.windower.late_count("acme") == 0
    clock.set(ahead + timedelta(minutes=10))  # its bucket closes once the clock has passed it
    service.tick()
    closed = service.metrics.exposition().decode()
    assert 'radar_stream_mentions_total{stream="acme"} 31.0' in closed
    service.stop()


def test_a_mention_dated_decades_ago_does_not_stall_the_radar(tmp_path: Path) -> None:
    config = RadarConfig.model_validate({"streams": {"acme": {"keywords": ["acme"]}}})
    service = RadarService(
        config, state_dir=tmp_path, notifiers=[], clock=ManualClock(NOW), live=True, fsync=False
    )
    old = parse_mention({"id": "old", "created_at": "2000-01-01T00:00:00Z", "text": "acme"}, NOW)
    now = parse_mention({"id": "now", "created_at": NOW.isoformat(), "text": "acme"}, NOW)
    assert service.submit([old]).outcomes["accepted"] == 1
    assert service.submit([now]).outcomes["accepted"] == 1  # closes 2000 .. now: all but 4 hours skipped
    assert service.pipeline.windower.skipped_count("acme") > 13_000_000
    assert service.pipeline.windower.watermark >= NOW.timestamp() - config.radar.allowed_lateness_seconds
    _crash(service)  # the restart replays both from the journal
    restarted = RadarService(
        config, state_dir=tmp_path, notifiers=[], clock=ManualClock(NOW), live=True, fsync=False
    )
    assert restarted.pipeline.windower.watermark >= NOW.timestamp() - config.radar.allowed_lateness_seconds
    restarted.stop()


def test_the_action_log_keeps_only_what_a_kept_checkpoint_may_lack(
    scenario_mentions: tuple[list[Mention], datetime], tmp_path: Path
) -> None:
    mentions, onset = scenario_mentions
    first, _ = _split(mentions, onset + timedelta(minutes=40))
    log_file = tmp_path / "actions.jsonl"
    service = _service(tmp_path, Recorder())
    _feed(service, first)
    crisis = next(i for i in service.pipeline.open_incidents() if i.stream == "acme" and i.kind == "crisis")
    assert service.act(crisis.id, "acknowledge", "jane") is not None
    assert log_file.read_text().count("\n") == 1
    service.checkpoint()  # the only checkpoint holds the acknowledgement: the log needs it no more
    assert log_file.read_text() == ""
    assert service.act(crisis.id, "snooze", "joe", snooze=timedelta(hours=1)) is not None
    expected = crisis.to_json()
    assert [a["action"] for a in expected["actions"]] == ["acknowledge", "snooze"]
    _crash(service)  # the snooze is in no checkpoint: only the log has it

    restarted = _service(tmp_path, Recorder())
    assert restarted.pipeline.policy.find(crisis.id).to_json() == expected
    restarted.checkpoint()  # the older checkpoint lacks the snooze and its mark is not known here
    assert [line.count('"snooze"') for line in log_file.read_text().splitlines()] == [1]
    restarted.checkpoint()
    restarted.checkpoint()  # the checkpoint written before the restart is pruned (3 are kept)
    assert len(restarted.checkpointer.paths()) == 3
    assert log_file.read_text() == ""
    _crash(restarted)

    again = _service(tmp_path, Recorder())
    assert again.pipeline.policy.find(crisis.id).to_json() == expected
