"""Escalation: hysteresis, one identity, quiet-period resolution, what gets announced."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from alerts.console import ConsoleNotifier, headline
from alerts.escalation import EscalationPolicy, Observation
from alerts.level import Level
from alerts.notifier import FanOut, is_announced

T0 = datetime(2026, 3, 4, 9, tzinfo=UTC)


def _run(policy: EscalationPolicy, levels: list[int], kind: str = "crisis") -> list[tuple[int, str, str]]:
    out = []
    for minute, level in enumerate(levels):
        obs = Observation("acme", kind, T0 + timedelta(minutes=minute), Level(level), {"ratio": 3.0})
        for e in policy.observe(obs):
            out.append((minute, e.type, str(e.level)))
    return out


def test_one_identity_through_escalation_and_deescalation() -> None:
    p = EscalationPolicy(timedelta(minutes=5), timedelta(minutes=20))
    events = []
    for minute, level in enumerate([1, 2, 3, 3, 2, 2, 2, 2, 2, 2, 2] + [0] * 40):
        obs = Observation("acme", "crisis", T0 + timedelta(minutes=minute), Level(level))
        events.extend(p.observe(obs))
    ids = {e.incident.id for e in events}
    assert len(ids) == 1
    assert [e.type for e in events] == [
        "opened",
        "escalated",
        "escalated",
        "deescalated",
        "deescalated",
        "resolved",
    ]
    incident = events[-1].incident
    assert incident.peak_level == Level.CRISIS
    assert [str(c.level) for c in incident.levels] == [
        "watch",
        "warning",
        "crisis",
        "warning",
        "watch",
        "calm",
    ]
    assert incident.resolved_at is not None
    times = [c.at for c in incident.levels]
    assert times == sorted(times)


def test_flapping_does_not_flap_the_level() -> None:
    p = EscalationPolicy(timedelta(minutes=10), timedelta(minutes=30))
    events = _run(p, [3, 2, 3, 2, 3, 2, 3, 2, 3])
    assert events == [(0, "opened", "crisis")]


def test_escalation_is_immediate() -> None:
    p = EscalationPolicy(timedelta(minutes=10), timedelta(minutes=30))
    events = _run(p, [0, 0, 2, 3])
    assert events == [(2, "opened", "warning"), (3, "escalated", "crisis")]


def test_resolution_waits_for_the_quiet_period_and_a_new_incident_gets_a_new_id() -> None:
    p = EscalationPolicy(timedelta(minutes=5), timedelta(minutes=30))
    first = _run(p, [2] + [0] * 29)
    assert [e[1] for e in first] == ["opened", "deescalated"]
    ev = p.observe(Observation("acme", "crisis", T0 + timedelta(minutes=30), Level.CALM))
    assert [e.type for e in ev] == ["resolved"]
    again = p.observe(Observation("acme", "crisis", T0 + timedelta(minutes=40), Level.WARNING))
    assert again[0].type == "opened" and again[0].incident.id != ev[0].incident.id


def test_policy_validates_arguments() -> None:
    with pytest.raises(ValueError, match="quiet_period"):
        EscalationPolicy(timedelta(minutes=1), timedelta(minutes=-1))


def test_only_crisis_incidents_from_warning_up_are_announced() -> None:
    p = EscalationPolicy(timedelta(minutes=5), timedelta(minutes=5))
    watch = p.observe(Observation("a", "crisis", T0, Level.WATCH))[0]
    assert not is_announced(watch)
    warn = p.observe(Observation("a", "crisis", T0 + timedelta(minutes=1), Level.WARNING))[0]
    assert is_announced(warn)
    buzz = p.observe(Observation("b", "buzz", T0, Level.WARNING))[0]
    assert not is_announced(buzz)
    resolved = [
        e
        for m in range(2, 20)
        for e in p.observe(Observation("a", "crisis", T0 + timedelta(minutes=m), Level.CALM))
    ][-1]
    assert resolved.type == "resolved" and is_announced(resolved)


def test_console_notifier_prints_the_why() -> None:
    p = EscalationPolicy()
    why = {
        "stream_name": "Acme Air",
        "ratio": 6.2,
        "window_minutes": 15,
        "negative_share": 0.71,
        "negative_share_baseline": 0.18,
        "mentions": 812,
        "expected": 150.0,
        "band": [3.0, 20.0],
        "negative": 577,
        "negative_expected": 27.0,
        "surprise": 40.0,
        "top_terms": [{"term": "breach", "count": 300, "lift": 80.0}],
        "top_posts": [
            {
                "id": "p1",
                "url": "https://x/1",
                "author": "reporter",
                "followers": 120000,
                "reshares": 900,
                "text": "Acme Air data breach",
            }
        ],
    }
    event = p.observe(Observation("acme", "crisis", T0, Level.CRISIS, why))[0]
    buf = io.StringIO()
    FanOut([ConsoleNotifier(buf)]).notify(event)
    text = buf.getvalue()
    assert "CRISIS: Acme Air" in headline(event)
    for needle in ("6.2× normal", "71% negative", "usually 18%", "breach", "reporter", "https://x/1", "812"):
        assert needle in text


def test_fanout_survives_a_broken_notifier() -> None:
    class Broken:
        def notify(self, event: object) -> None:
            raise RuntimeError("down")

    buf = io.StringIO()
    fan = FanOut([Broken(), ConsoleNotifier(buf)])
    event = EscalationPolicy().observe(Observation("a", "crisis", T0, Level.CRISIS))[0]
    fan.notify(event)
    assert fan.failures == 1 and "CRISIS" in buf.getvalue()
