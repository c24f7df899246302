"""Terms: tokenising, the usual-terms sketch, and the emerging topic that confirms a slow burn."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from scipy.stats import poisson

from radar.config import RadarConfig
from radar.mention import Mention, parse_mention
from radar.pipeline import Pipeline
from radar.sentiment import VaderScorer
from radar.terms import TermBaseline, poisson_surprise

START = datetime(2026, 3, 2, tzinfo=UTC)
EVERYDAY = [f"word{i}" for i in range(150)] + ["flight", "crew", "seat", "lounge", "booking", "today"]


@pytest.mark.parametrize(("count", "mean"), [(3, 0.5), (10, 1.0), (40, 12.5), (200, 90.0)])
def test_poisson_surprise_matches_scipy(count: int, mean: float) -> None:
    assert poisson_surprise(count, mean) == pytest.approx(-poisson.logsf(count - 1, mean) / math.log(10))
    assert poisson_surprise(mean, mean) == 0.0


def _learned(rng: np.random.Generator, buckets: int = 3000) -> TermBaseline:
    base = TermBaseline()
    for _ in range(buckets):
        texts = [set(rng.choice(EVERYDAY, 4)) for _ in range(5)]
        base.learn(Counter(t for text in texts for t in text), len(texts))
    return base


def test_a_new_topic_emerges_and_everyday_chatter_does_not() -> None:
    rng = np.random.default_rng(2)
    base = _learned(rng)
    hour = Counter(t for _ in range(300) for t in set(rng.choice(EVERYDAY, 4)))
    term, usual = base.emerging(hour, 300)
    assert usual < 10, (term, usual)
    hour["glitch"] += 15  # 15 of 300 mentions about something this stream never talks about
    term, surprise = base.emerging(hour, 300)
    assert term == "glitch" and surprise > 20
    assert base.emerging({}, 0) == ("", 0.0)


# -- through the pipeline: an emerging topic raises a slow burn to warning early ---------------------------
def _mention(i: int, at: datetime, words: list[str], negative: bool) -> Mention:
    record = {
        "id": f"m{i}",
        "created_at": at.isoformat(),
        "text": "acme " + " ".join(words),
        "stream": "acme",
        "sentiment": -0.8 if negative else 0.5,
    }
    return parse_mention(record, START + timedelta(days=30))


def _stream(topic: str | None, burn_minutes: int = 150) -> list[Mention]:
    """Two and a half calm days (5 mentions a minute, 20 % negative), then negatives ramping up.

    The burn adds mentions, 80 % negative, up to +2 per minute (about 2.2x the usual negatives
    after two hours); with ``topic`` they talk about it, without they sound like every day.
    """
    rng = np.random.default_rng(11)
    out: list[Mention] = []
    calm = int(2.5 * 1440)
    for minute in range(calm + burn_minutes):
        at = START + timedelta(minutes=minute)
        extra = 2.0 * (minute - calm) / burn_minutes if minute >= calm else 0.0
        for k in range(int(rng.poisson(5.0))):
            words = list(rng.choice(EVERYDAY, 4))
            out.append(_mention(len(out), at + timedelta(seconds=k), words, rng.random() < 0.2))
        for k in range(int(rng.poisson(extra))):
            words = list(rng.choice(EVERYDAY, 3)) + ([topic] if topic else list(rng.choice(EVERYDAY, 1)))
            out.append(_mention(len(out), at + timedelta(seconds=30 + k), words, rng.random() < 0.8))
    return out


def _first_warning(topic: str | None) -> tuple[int | None, dict[str, Any] | None]:
    pipeline = Pipeline(RadarConfig(), VaderScorer())
    pipeline.ingest_all(_stream(topic))
    pipeline.finish()
    onset = START + timedelta(days=2.5)
    for incident in pipeline.all_incidents():
        for change in incident.to_json()["levels"]:
            if change["level"] in ("warning", "crisis"):
                at = datetime.fromisoformat(change["at"].replace("Z", "+00:00"))
                return round((at - onset).total_seconds() / 60), change.get("why")
    return None, None


def test_an_emerging_topic_raises_a_slow_burn_to_warning_in_the_pipeline() -> None:
    delay, why = _first_warning("glitch")
    assert delay is not None and 0 < delay <= 120, delay
    assert why is not None and why["topic"]["term"] == "glitch" and why["topic"]["raised_to_warning"]
    assert why["slow_burn"]
    # the same negative ramp in everyday words waits for the counts
    plain, _ = _first_warning(None)
    assert plain is None or plain > delay + 15, (plain, delay)
