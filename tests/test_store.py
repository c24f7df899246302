"""The incident store on SQLite and on a real PostgreSQL server (started on loopback by the tests).

Covers: Alembic migrations from empty and from the previous revision with data in it, the recorder's
lifecycle record (timeline, figures, who acknowledged), idempotent replays, writes from several
threads while ingest runs, retention, and a radar that crashes mid-incident and restarts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from alerts.escalation import EscalationPolicy, IncidentEvent, Observation
from alerts.incident import Action
from alerts.level import Level
from radar.config import RadarConfig
from radar.demo import demo_config
from radar.incidents.figures import figures
from radar.incidents.recorder import IncidentRecorder
from radar.incidents.spool import StoreSpool
from radar.incidents.store import IncidentStore, make_engine, migrate
from radar.mention import Mention, parse_mention
from radar.sample import Sample
from radar.scenario import demo_scenario
from radar.service import RadarService

T0 = datetime(2026, 3, 4, 9, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'incidents.sqlite3'}"
    else:
        yield request.getfixturevalue("postgres_url")


def why(**extra: Any) -> dict[str, Any]:
    return {"stream_name": "Acme Air", "window_minutes": 15, "mentions": 90, "expected": 30.0, "ratio": 4.0,
            "negative_share": 0.5, "negative_share_baseline": 0.1,
            "top_terms": [{"term": "strike", "count": 20, "lift": 30.0}], **extra}  # fmt: skip


class Lifecycle:
    """An incident driven through the real escalation policy into a recorder."""

    def __init__(self, recorder: IncidentRecorder) -> None:
        self.recorder = recorder
        self.policy = EscalationPolicy(
            deescalate_after=timedelta(minutes=10), quiet_period=timedelta(minutes=30)
        )
        self.events: list[IncidentEvent] = []

    def at(self, minute: float, level: Level, mentions: int = 10, expected: float = 10.0) -> None:
        when = T0 + timedelta(minutes=minute)
        now = self.policy.observe(Observation("acme", "crisis", when, level, why()))
        for event in now:
            self.events.append(event)
            self.recorder.event(event)
        incident = self.policy.incident("acme", "crisis")
        ids = [incident.id] if incident else [e.incident.id for e in now if e.type == "resolved"]
        sample = Sample(
            when.timestamp() - 60, mentions, mentions // 2, expected, 0.0, expected * 2, int(level)
        )
        if ids:
            self.recorder.bucket(ids, sample)

    def act(self, minute: float, action: str) -> None:
        incident = next(self.policy.open_incidents())
        record = Action(f"a{minute}", T0 + timedelta(minutes=minute), action, "jane", actor_id="U1")
        for event in self.policy.act(incident.id, record):
            self.events.append(event)
            self.recorder.event(event)


def run_lifecycle(store: IncidentStore) -> Lifecycle:
    life = Lifecycle(IncidentRecorder(store))
    life.at(0, Level.WATCH, 25)
    life.at(1, Level.WARNING, 40)
    life.at(2, Level.CRISIS, 90)
    life.act(6, "acknowledge")
    for minute in range(3, 50):
        life.at(minute, Level.CALM if minute > 8 else Level.CRISIS, 12 if minute > 8 else 60)
    return life


def test_migrations_from_empty_give_the_model_schema(url: str) -> None:
    store = IncidentStore.open(url)
    tables = set(inspect(store.engine).get_table_names())
    assert {"incidents", "timeline", "samples", "alembic_version"} <= tables
    with store.engine.connect() as connection:
        assert connection.execute(text("select version_num from alembic_version")).scalar() == "0003"
    IncidentStore.open(url).close()  # opening again is a no-op upgrade
    store.close()


@pytest.mark.parametrize("previous", ["0001", "0002"])
def test_an_upgrade_from_the_previous_revision_keeps_history(url: str, previous: str) -> None:
    engine = make_engine(url)
    migrate(engine, previous)
    with engine.begin() as connection:
        connection.execute(
            text(
                "insert into incidents (id, stream, stream_name, kind, level, peak_level, peak_rank, "
                "opened_at, detected_at, bucket_seconds, why, updated_at) values ('acme:crisis:1', 'acme', "
                "'Acme Air', 'crisis', 'calm', 'crisis', 3, 100.0, 160.0, 60, '{}', 100.0)"
            )
        )
        connection.execute(
            text(
                "insert into timeline (incident_id, key, at, type, level, detail) "
                "values ('acme:crisis:1', 'k1', 100.0, 'opened', 'crisis', '{}')"
            )
        )
    engine.dispose()
    store = IncidentStore.open(url)  # upgrades to the newest revision
    row = store.incident("acme:crisis:1")
    assert row is not None and row.peak_level == "crisis" and row.detected_at == 160.0
    assert row.total_mentions == 0 and row.samples_dropped is False  # new columns, defaults
    assert row.onset_at is None
    assert [e.type for e in store.timeline("acme:crisis:1")] == ["opened"]
    store.close()


def test_the_lifecycle_is_recorded_with_its_figures_and_replays_add_nothing(url: str) -> None:
    store = IncidentStore.open(url)
    life = run_lifecycle(store)
    incident_id = life.events[0].incident.id
    entries = store.timeline(incident_id)
    assert [e.type for e in entries] == [
        "opened",
        "escalated",
        "escalated",
        "acknowledged",
        "deescalated",
        "resolved",
    ]
    assert entries[3].actor == "jane" and entries[1].detail["why"]["ratio"] == 4.0
    row = store.incident(incident_id)
    assert row is not None
    assert row.peak_level == "crisis" and row.level == "calm"
    assert row.detected_at == (T0 + timedelta(minutes=1)).timestamp()
    assert row.acknowledged_by == "jane"
    f = figures(row, store.samples(incident_id))
    assert (
        f.time_to_detect == 120.0
    )  # onset: the first bucket above expected (opened at minute 0 → bucket -1)
    assert f.time_to_acknowledge == 300.0
    assert f.peak_mentions == 90 and f.peak_multiple == 9.0
    assert f.total_mentions == sum(
        s.mentions for s in store.samples(incident_id) if s.t >= row.opened_at - 60
    )
    assert f.top_terms[0]["term"] == "strike"
    for event in life.events:  # a journal replay after a crash re-records the same events
        life.recorder.event(event)
    assert len(store.timeline(incident_id)) == len(entries)
    store.close()


@pytest.mark.parametrize("key", ["time_to_detect", "time_to_acknowledge", "time_to_resolve"])
def test_the_list_sorts_by_a_duration(url: str, key: str) -> None:
    store = IncidentStore.open(url)
    incident_id = run_lifecycle(store).events[0].incident.id
    assert [r.id for r in store.incidents(sort=key)] == [incident_id]
    assert [r.id for r in store.incidents(sort=f"-{key}")] == [incident_id]
    store.close()


def test_a_store_outage_spools_the_writes_across_a_restart_and_loses_none(tmp_path: Path) -> None:
    """PostgreSQL goes down mid-incident: detection goes on, the writes wait in the spool file,
    survive a restart of the radar, and reach the store in order once it is back."""
    from tests.pgserver import PostgresServer

    clock = [0.0]
    spool_file = tmp_path / "store-spool.jsonl"
    with PostgresServer() as server:
        server.create_database("outage")
        store = IncidentStore.open(server.url("outage"))
        life = Lifecycle(IncidentRecorder(store, spool=StoreSpool(spool_file), clock=lambda: clock[0]))
        life.at(0, Level.WARNING, 40)
        incident_id = life.events[0].incident.id
        assert [e.type for e in store.timeline(incident_id)] == ["opened"]

        server.pause()
        life.at(1, Level.CRISIS, 90)  # the store is down: nothing raises, the writes are spooled
        life.act(2, "acknowledge")
        life.recorder.notified(
            incident_id, "reply", "slack:reply:1", (T0 + timedelta(minutes=2)).timestamp(), {}
        )
        clock[0] += 5.0
        life.at(3, Level.CRISIS, 80)
        assert life.recorder.pending == 5 and life.recorder.failures >= 2
        assert len(spool_file.read_text().splitlines()) == 5

        # the radar restarts while the store is still down: the spool file carries the writes
        recorder = IncidentRecorder(store, spool=StoreSpool(spool_file), clock=lambda: clock[0])
        assert recorder.pending == 5
        server.resume()
        assert recorder.flush()
        assert recorder.pending == 0 and spool_file.read_text() == ""
        types = [e.type for e in store.timeline(incident_id)]
        assert types == ["opened", "escalated", "acknowledged", "notified"]
        assert [s.mentions for s in store.samples(incident_id)][-3:] == [40, 90, 80]
        row = store.incident(incident_id)
        assert row is not None and row.peak_level == "crisis" and row.acknowledged_by == "jane"
        assert recorder.flush() and len(store.timeline(incident_id)) == 4  # nothing twice
        store.close()


def test_concurrent_writes_while_ingesting(url: str) -> None:
    store = IncidentStore.open(url)
    recorder = IncidentRecorder(store)
    errors: list[BaseException] = []

    def stream(name: str) -> None:
        try:
            policy = EscalationPolicy(
                deescalate_after=timedelta(minutes=5), quiet_period=timedelta(minutes=10)
            )
            for minute in range(60):
                when = T0 + timedelta(minutes=minute)
                level = Level.CRISIS if 10 <= minute < 30 else Level.CALM
                for event in policy.observe(Observation(name, "crisis", when, level, why())):
                    recorder.event(event)
                incident = policy.incident(name, "crisis")
                if incident is not None:
                    recorder.bucket([incident.id], Sample(when.timestamp(), 50, 25, 10.0, 0.0, 20.0, 3))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=stream, args=(f"brand{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and recorder.failures == 0
    rows = store.incidents()
    assert len(rows) == 6
    for row in rows:
        assert [e.type for e in store.timeline(row.id)] == ["opened", "deescalated", "resolved"]
        assert row.total_mentions == 50 * len([s for s in store.samples(row.id) if s.t >= row.opened_at - 60])
    store.close()


def test_retention_drops_old_samples_and_keeps_figures_and_timelines(tmp_path: Path) -> None:
    store = IncidentStore.open(f"sqlite:///{tmp_path / 'i.sqlite3'}")
    life = run_lifecycle(store)
    incident_id = life.events[0].incident.id
    before = store.incident(incident_id)
    assert before is not None and store.samples(incident_id)
    assert store.drop_samples_before((T0 + timedelta(hours=1)).timestamp()) == 1
    after = store.incident(incident_id)
    assert after is not None and after.samples_dropped and store.samples(incident_id) == []
    assert after.peak_mentions == before.peak_mentions and after.total_mentions == before.total_mentions
    assert len(store.timeline(incident_id)) == 6
    assert store.drop_samples_before((T0 + timedelta(hours=1)).timestamp()) == 0
    store.close()


# -- the whole radar ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def crisis_mentions() -> tuple[list[Mention], datetime]:
    scenario = demo_scenario(1)
    crisis = next(e for e in scenario.events if e.kind == "sudden_crisis")
    mentions = [parse_mention(r, None) for r in scenario.mentions()]
    return [m for m in mentions if m.created_at < crisis.start + timedelta(minutes=40)], crisis.start


def test_a_crash_mid_incident_then_restart(
    tmp_path: Path, crisis_mentions: tuple[list[Mention], datetime], url: str
) -> None:
    mentions, onset = crisis_mentions
    base = demo_config(demo_scenario(1), str(tmp_path)).model_dump()
    config = RadarConfig.model_validate({**base, "store": {"url": url}})
    first = [m for m in mentions if m.created_at < onset + timedelta(minutes=15)]
    rest = [m for m in mentions if m.created_at >= onset + timedelta(minutes=15)]
    service = RadarService(config, state_dir=tmp_path, notifiers=[], live=False, fsync=False)
    for i in range(0, len(first), 2000):
        service.submit(first[i : i + 2000])
    service.checkpoint()
    service.submit(rest[:500])  # after the checkpoint: only in the journal
    (row,) = [r for r in service.store.incidents() if r.kind == "crisis"]
    timeline = [(e.type, e.at) for e in service.store.timeline(row.id)]
    samples = service.store.samples(row.id)
    service.journal.close()  # kill -9: no final checkpoint, the store's transactions are all there is
    service.store.close()

    again = RadarService(config, state_dir=tmp_path, notifiers=[], live=False, fsync=False)
    assert again.replayed == 500
    (same,) = [r for r in again.store.incidents() if r.kind == "crisis"]
    assert same.id == row.id
    assert [(e.type, e.at) for e in again.store.timeline(row.id)] == timeline  # replay added nothing
    assert [s.t for s in again.store.samples(row.id)] == [s.t for s in samples]
    again.submit(rest[500:])
    assert len(again.store.samples(row.id)) > len(samples)
    again.stop()


def test_radar_postmortem_writes_the_draft_and_its_chart(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'incidents.sqlite3'}"
    store = IncidentStore.open(url)
    incident_id = run_lifecycle(store).events[0].incident.id
    store.close()
    env = {**os.environ, "RADAR_STORE_URL": url}
    proc = subprocess.run(
        [sys.executable, "-m", "radar.cli", "postmortem", incident_id, "--out", str(tmp_path / "pm")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    stem = incident_id.replace(":", "-")
    text = (tmp_path / "pm" / f"{stem}-postmortem.md").read_text()
    assert f"![Mentions against the expected band]({stem}-chart.png)" in text
    assert "| Acknowledged | 2026-03-04T09:06:00Z by jane (5 min after detection) |" in text
    assert (tmp_path / "pm" / f"{stem}-chart.png").read_bytes().startswith(b"\x89PNG")
    missing = subprocess.run(
        [sys.executable, "-m", "radar.cli", "postmortem", "nope", "--out", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert missing.returncode == 1 and "no incident 'nope'" in missing.stderr
