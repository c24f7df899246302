"""Scenario generator: determinism, event truth, wire format, arrival order, realism, texts."""

from __future__ import annotations

import itertools
import json
import random
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from radar import phrases
from radar.mention import parse_mention
from radar.scenario import (
    CRISIS_KINDS,
    EVENT_KINDS,
    Scenario,
    ScenarioEvent,
    StreamProfile,
    default_scenario,
    demo_scenario,
    main,
    stream_rules,
    write_scenario,
)

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday: the 4 days below are all weekdays
VADER = SentimentIntensityAnalyzer()


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return START + timedelta(days=day, hours=hour, minutes=minute)


def event(i: int, kind: str, stream: str, start: datetime, minutes: int, **params: Any) -> ScenarioEvent:
    return ScenarioEvent.make(f"e{i}", kind, stream, start, start + timedelta(minutes=minutes), **params)


def small_scenario(seed: int = 11) -> Scenario:
    streams = [
        StreamProfile("acme", "Acme Air", 6.0, 0.2),
        StreamProfile("nimbus", "Nimbus Mobile", 2.0, 0.25),
        StreamProfile("kestrel", "Kestrel Bikes", 0.4, 0.2),
    ]
    events = [
        event(1, "outage", "acme", at(1, 15), 120),
        event(2, "buzz", "nimbus", at(1, 13), 120, peak=5.0),
        event(3, "spam", "acme", at(2, 10), 45, peak=5.0, accounts=4),
        event(4, "sentiment_flip", "nimbus", at(2, 12), 180, negative_share=0.7),
        event(5, "blip", "kestrel", at(2, 15), 15),
        event(6, "sudden_crisis", "acme", at(3, 13), 240, peak=6.0, negative_share=0.7, topic="data breach"),
        event(7, "low_volume_crisis", "kestrel", at(3, 12), 120, target_rate=4.0),
    ]
    return Scenario(START, 4, seed, streams, events)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return small_scenario()


@pytest.fixture(scope="module")
def records(scenario: Scenario) -> list[dict[str, Any]]:
    return list(scenario.mentions())


def ts(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["created_at"].replace("Z", "+00:00"))


def stream_of(record: dict[str, Any]) -> str:
    return str(record["id"]).rsplit("-", 1)[0]


Records = list[dict[str, Any]]


def window(records: Records, stream: str, start: datetime, end: datetime) -> Records:
    return [r for r in records if stream_of(r) == stream and start <= ts(r) < end]


def negative_share(records: list[dict[str, Any]]) -> float:
    return sum(VADER.polarity_scores(r["text"])["compound"] <= -0.05 for r in records) / len(records)


def minute_counts(records: list[dict[str, Any]], stream: str, days: int) -> np.ndarray:
    minutes = [int((ts(r) - START).total_seconds() // 60) for r in records if stream_of(r) == stream]
    return np.bincount(minutes, minlength=days * 1440)


# -- determinism and truth ------------------------------------------------------------------------------
def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    def one(seed: int, name: str) -> bytes:
        outage = event(1, "outage", "acme", at(0, 15), 60)
        sc = Scenario(START, 1, seed, [StreamProfile("acme", "Acme Air", 1.0, 0.2)], [outage])
        write_scenario(sc, tmp_path / name, tmp_path / f"{name}.truth")
        return (tmp_path / name).read_bytes() + (tmp_path / f"{name}.truth").read_bytes()

    assert one(5, "a") == one(5, "b")
    assert one(5, "a") != one(6, "c")
    a = [json.dumps(r) for r in small_scenario(3).mentions()]
    assert a == [json.dumps(r) for r in small_scenario(3).mentions()]


def test_write_scenario_writes_jsonl_and_the_truth(tmp_path: Path, scenario: Scenario) -> None:
    n = write_scenario(scenario, tmp_path / "m.jsonl", tmp_path / "t.json")
    lines = (tmp_path / "m.jsonl").read_text(encoding="utf-8").splitlines()
    assert n == len(lines) > 1000
    truth = json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))
    assert truth["seed"] == 11 and truth["days"] == 4 and truth["start"] == "2026-03-02T00:00:00Z"
    assert [s["name"] for s in truth["streams"]] == ["acme", "nimbus", "kestrel"]
    assert truth["events"] == [e.to_json() for e in scenario.events]
    crisis = next(e for e in truth["events"] if e["kind"] == "sudden_crisis")
    assert crisis["start"] == "2026-03-05T13:00:00Z" and crisis["end"] == "2026-03-05T17:00:00Z"
    assert crisis["must_alert"] and not crisis["quiet"]
    assert crisis["params"]["peak"] == 6.0 and crisis["params"]["topic"] == "data breach"
    assert 3 <= crisis["params"]["ramp_min"] <= 6  # completed from the seed


def test_default_scenario_has_every_kind_placed_by_the_rules() -> None:
    for seed, days in [(7, 21), (1, 7), (2, 10), (3, 28), (99, 21)]:
        sc = default_scenario(seed=seed, days=days)
        assert len(sc.streams) == 4 and sc.start == START and sc.days == days
        kinds = {e.kind for e in sc.events}
        assert kinds == set(EVENT_KINDS), (seed, days)
        assert [e.id for e in sc.events] == [f"e{i}" for i in range(1, len(sc.events) + 1)]
        assert sorted(sc.events, key=lambda e: e.start) == sc.events
        for e in sc.events:
            assert e.start >= START + timedelta(days=3), e  # detectors learn first
            assert e.end <= sc.end
            assert e.must_alert == (e.kind in CRISIS_KINDS)
            if e.must_alert:
                assert e.start >= START + timedelta(days=days / 2), e
            if e.kind == "outage":
                assert 120 <= e.minutes <= 180
        by_stream: dict[str, list[ScenarioEvent]] = {}
        for e in sc.events:
            by_stream.setdefault(e.stream, []).append(e)
        for evs in by_stream.values():  # no overlap within a stream
            assert all(a.end <= b.start for a, b in itertools.pairwise(evs))
        spikes = [e for e in sc.events if e.kind == "scheduled_spike"]
        assert len({e.stream for e in spikes}) == 1
        assert [e.occurrence for e in spikes] == list(range(1, len(spikes) + 1))
        assert len({(e.start.weekday(), e.start.time(), e.minutes) for e in spikes}) == 1
        assert all(b.start - a.start == timedelta(days=7) for a, b in itertools.pairwise(spikes))
        assert [e.quiet for e in spikes] == [e.occurrence > 2 for e in spikes]
        quiet = {e.kind for e in sc.events if e.quiet}
        assert quiet >= {"buzz", "spam", "outage", "blip"} and not quiet & CRISIS_KINDS
    assert len([e for e in default_scenario().events if e.kind == "scheduled_spike"]) == 3


def test_default_scenario_size_order_and_unique_ids() -> None:
    sc = default_scenario()
    last = ""
    ids = set()
    count = 0
    for record in sc.mentions():
        count += 1
        ids.add(record["id"])
        if not record.get("backlog"):
            assert record["created_at"] >= last
            last = record["created_at"]
    assert 150_000 <= count <= 300_000
    assert len(ids) == count


def test_demo_scenario_is_small_and_ends_after_its_crisis() -> None:
    sc = demo_scenario()
    assert len(sc.streams) == 3 and sc.days == 4
    crisis = [e for e in sc.events if e.kind == "sudden_crisis"]
    assert len(crisis) == 1 and crisis[0].start.date() == (sc.end - timedelta(days=1)).date()
    assert timedelta(hours=1.5) <= sc.end - crisis[0].end <= timedelta(hours=3)
    buzz = [e for e in sc.events if e.kind == "buzz"]
    assert buzz and buzz[0].stream != crisis[0].stream
    assert 10_000 < sum(1 for _ in sc.mentions()) < 60_000


def test_main_writes_files(tmp_path: Path) -> None:
    out, truth = tmp_path / "m.jsonl", tmp_path / "t.json"
    assert main(["--demo", "--seed", "2", "--out", str(out), "--truth", str(truth)]) == 0
    data = json.loads(truth.read_text(encoding="utf-8"))
    assert data["mentions"] == len(out.read_text(encoding="utf-8").splitlines())
    with pytest.raises(SystemExit):
        main(["--days", "3", "--out", str(out)])


# -- the wire format ------------------------------------------------------------------------------------
def test_every_record_is_a_valid_mention_without_stream_or_sentiment(records: list[dict[str, Any]]) -> None:
    ids = set()
    for r in records:
        m = parse_mention(r, now=None)
        assert m.streams == () and m.sentiment is None
        assert "stream" not in r and "sentiment" not in r
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["created_at"])
        assert r["lang"] == "en" and r["source"] in {"twitter", "bluesky", "mastodon"}
        assert r["url"] == f"https://example.social/{r['author']}/status/{r['id']}"
        ids.add(r["id"])
    assert len(ids) == len(records)
    assert set(Counter(r["source"] for r in records)) == {"twitter", "bluesky", "mastodon"}


def test_authors_repeat_and_audiences_are_heavy_tailed(records: list[dict[str, Any]]) -> None:
    acme = [r for r in records if stream_of(r) == "acme"]
    per_author = Counter(r["author"] for r in acme)
    assert per_author.most_common(1)[0][1] > 50  # some people post a lot
    assert 1000 < len(per_author) < len(acme) / 2
    followers = np.array([r["author_followers"] for r in records])
    assert 150 < np.median(followers) < 600
    assert followers.max() > 50_000
    reshares = np.array([r["reshares"] for r in records])
    assert np.median(reshares) <= 1 and reshares.max() > 200
    big = followers > 10_000
    assert reshares[big].mean() > 5 * reshares[~big].mean()  # reach goes with audience


def test_only_the_outage_backlog_arrives_out_of_order(scenario: Scenario, records: Records) -> None:
    outage = next(e for e in scenario.events if e.kind == "outage")
    last = START
    backlog_positions = []
    for i, r in enumerate(records):
        if r.get("backlog"):
            assert stream_of(r) == outage.stream and outage.start <= ts(r) < outage.end
            backlog_positions.append(i)
        else:
            assert ts(r) >= last
            last = ts(r)
            assert not (stream_of(r) == outage.stream and outage.start <= ts(r) < outage.end)
    assert len(backlog_positions) > 200  # two afternoon hours at about 9 a minute
    first, final = backlog_positions[0], backlog_positions[-1]
    assert backlog_positions == list(range(first, final + 1))  # one burst
    assert all(ts(r) < outage.end for r in records[:first] if not r.get("backlog"))
    assert all(ts(r) >= outage.end for r in records[final + 1 :])
    held = [ts(records[i]) for i in backlog_positions]
    assert held == sorted(held)


# -- realism --------------------------------------------------------------------------------------------
def test_daily_rhythm_is_visible(records: list[dict[str, Any]]) -> None:
    hourly = minute_counts(records, "acme", 4).reshape(4, 24, 60).sum(axis=2)[:3]
    night = hourly[:, 2:5].mean()
    afternoon = hourly[:, 14:19].mean()
    assert night < 0.35 * afternoon
    assert 0.15 < night / 60 / 6.0 < 0.4 and 1.2 < afternoon / 60 / 6.0 < 2.0


def test_counts_are_overdispersed_in_calm_time(records: list[dict[str, Any]]) -> None:
    counts = minute_counts(records, "acme", 4)
    calm = np.concatenate([counts[d * 1440 + 13 * 60 : d * 1440 + 17 * 60] for d in (0, 2)])
    five = calm.reshape(-1, 5).sum(axis=1)
    assert five.var() / five.mean() > 1.5


def test_sudden_crisis_raises_volume_negativity_and_a_topic(records: list[dict[str, Any]]) -> None:
    during = window(records, "acme", at(3, 13, 10), at(3, 16))  # the plateau
    usual = window(records, "acme", at(0, 13, 10), at(0, 16))
    assert len(during) > 3.5 * len(usual)
    assert negative_share(during) > 0.55 and negative_share(usual) < 0.3
    assert sum("breach" in r["text"].lower() for r in during) > 0.5 * len(during)
    assert len({r["author"] for r in during}) > 0.6 * len(during)  # many distinct people
    assert max(r["reshares"] for r in during) > 500  # a few posts travel far
    onset = window(records, "acme", at(3, 13, 5), at(3, 13, 15))
    before = window(records, "acme", at(3, 12, 50), at(3, 13))
    assert len(onset) > 3 * len(before)  # within about 5 minutes


def test_low_volume_crisis_on_a_small_stream(records: list[dict[str, Any]]) -> None:
    during = window(records, "kestrel", at(3, 12, 15), at(3, 13, 45))
    usual = window(records, "kestrel", at(0, 12, 15), at(0, 13, 45))
    assert len(during) / 90 > 2.5 and len(usual) / 90 < 1.2
    assert negative_share(during) > 0.55


def test_buzz_is_positive_and_sentiment_flip_keeps_volume(records: list[dict[str, Any]]) -> None:
    buzz = window(records, "nimbus", at(1, 13, 20), at(1, 14, 30))
    usual = window(records, "nimbus", at(0, 13, 20), at(0, 14, 30))
    assert len(buzz) > 2.5 * len(usual)
    assert negative_share(buzz) < negative_share(usual)
    flip = window(records, "nimbus", at(2, 12, 15), at(2, 14, 45))
    usual = window(records, "nimbus", at(0, 12, 15), at(0, 14, 45))
    assert 0.6 < len(flip) / len(usual) < 1.6
    assert negative_share(flip) > 0.5 > 0.3 > negative_share(usual)


def test_spam_comes_from_a_few_accounts(records: list[dict[str, Any]]) -> None:
    during = window(records, "acme", at(2, 10, 2), at(2, 10, 43))
    authors = Counter(r["author"] for r in during)
    top = authors.most_common(4)
    assert sum(n for _, n in top) > 0.6 * len(during)
    assert all(n / 41 > 2 for _, n in top)  # several posts a minute each
    spammers = {a for a, _ in top}
    assert all("https://" in r["text"] for r in during if r["author"] in spammers)
    assert not any(r["author"] in spammers for r in window(records, "acme", at(0, 0), at(2, 9)))


# -- texts ----------------------------------------------------------------------------------------------
def _matches(text: str, rules: dict[str, list[str]]) -> bool:
    low = text.lower()
    if any(re.search(rf"(?<!\w){re.escape(k.lower())}(?!\w)", low) for k in rules["keywords"]):
        return True
    tags = rules["handles"] + rules["hashtags"]
    return any(re.search(rf"(?<!\w){re.escape(tag.lower())}(?!\w)", low) for tag in tags)


def test_stream_rules_match_every_text_to_its_stream_only(
    scenario: Scenario, records: list[dict[str, Any]]
) -> None:
    rules = stream_rules(scenario)
    assert rules["acme"] == {"keywords": ["Acme Air"], "handles": ["@AcmeAir"], "hashtags": ["#acmeair"]}
    for r in records[::7]:
        matched = [name for name, rule in rules.items() if _matches(r["text"], rule)]
        assert matched == [stream_of(r)], r["text"]


@pytest.mark.parametrize("display", ["Acme Air", "Nimbus Mobile", "Kestrel Bikes"])
def test_texts_read_as_their_sentiment_to_vader(display: str) -> None:
    book = phrases.Phrasebook(display, random.Random(4))

    def share(make: Any, negative: bool, n: int = 600) -> float:
        scores = [VADER.polarity_scores(make())["compound"] for _ in range(n)]
        return sum((s <= -0.05) if negative else (s >= 0.05) for s in scores) / n

    assert share(book.negative, negative=True) >= 0.8
    assert share(book.positive, negative=False) >= 0.8
    assert share(book.neutral, negative=True) < 0.05
    topics = (*phrases.CRISIS_TOPICS, *phrases.SLOW_BURN_TOPICS, *phrases.FLIP_TOPICS)
    assert share(lambda: book.topic(random.choice(topics), "negative"), negative=True, n=300) >= 0.8
    assert share(lambda: book.topic(random.choice(phrases.BUZZ_TOPICS), "positive"), negative=False) >= 0.8


def test_texts_are_as_long_as_real_posts_and_context_is_neutral() -> None:
    book = phrases.Phrasebook("Acme Air", random.Random(2))
    texts = [make() for make in (book.negative, book.neutral, book.positive) for _ in range(400)]
    chars = sum(map(len, texts)) / len(texts)
    words = sum(len(t.split()) for t in texts) / len(texts)
    assert 85 <= chars <= 125, chars  # tweets in the wild: about 100 characters, 18 words
    assert 14 <= words <= 22, words
    contexts = {book.context() for _ in range(5000)}
    assert len(contexts) > 500
    assert [c for c in contexts if VADER.polarity_scores(c)["compound"] != 0] == []


def test_texts_vary() -> None:
    book = phrases.Phrasebook("Acme Air", random.Random(1))
    texts = [book.negative() for _ in range(500)]
    assert len(set(texts)) > 300


# -- validation -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"name": "Acme Air"}, "name"),
        ({"display": "!!"}, "display"),
        ({"rate_per_min": 0.0}, "rate_per_min"),
        ({"negative_share": 1.5}, "negative_share"),
        ({"positive_share": 0.9}, "positive_share"),
    ],
)
def test_stream_profile_validates(kwargs: dict[str, Any], param: str) -> None:
    args: dict[str, Any] = {"name": "acme", "display": "Acme Air", "rate_per_min": 1.0, "negative_share": 0.2}
    args.update(kwargs)
    with pytest.raises(ValueError, match=param):
        StreamProfile(**args)


def test_events_and_scenarios_validate() -> None:
    with pytest.raises(ValueError, match="kind"):
        event(1, "meteor", "acme", at(1, 1), 10)
    with pytest.raises(ValueError, match="end"):
        ScenarioEvent.make("e1", "blip", "acme", at(1, 1), at(1, 1))
    with pytest.raises(ValueError, match="start"):
        ScenarioEvent.make("e1", "blip", "acme", datetime(2026, 3, 3), datetime(2026, 3, 4))
    acme = [StreamProfile("acme", "Acme Air", 1.0, 0.2)]
    with pytest.raises(ValueError, match="events"):
        Scenario(START, 2, 1, acme, [event(1, "blip", "nimbus", at(1, 1), 10)])
    with pytest.raises(ValueError, match="days"):
        Scenario(START, 0, 1, acme)
    with pytest.raises(ValueError, match="streams"):
        Scenario(START, 1, 1, acme + acme)
    with pytest.raises(ValueError, match="days"):
        default_scenario(days=5)
    spike = ScenarioEvent.make("e1", "scheduled_spike", "acme", at(1, 1), at(1, 2), occurrence=3)
    assert spike.quiet and not spike.must_alert
