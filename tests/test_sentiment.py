"""Sentiment (:mod:`radar.sentiment`): VADER by default, the mention's own ``sentiment`` first, any
object with ``score(text) -> float`` as a scorer, and scores classed negative/neutral/positive by the
(per-stream) ``negative_threshold`` / ``positive_threshold`` (README: at or below / at or above).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from radar.backtest import run_backtest
from radar.clock import ManualClock
from radar.config import DetectionSettings, RadarConfig
from radar.mention import Mention, parse_mention
from radar.pipeline import Pipeline
from radar.sentiment import SentimentScorer, VaderScorer, classify
from radar.service import RadarService

NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)


class FixedScorer:
    """A scorer that gives every text the same score and remembers what it was asked."""

    def __init__(self, value: float) -> None:
        self.value = value
        self.texts: list[str] = []

    def score(self, text: str) -> float:
        self.texts.append(text)
        return self.value


class NotAScorer:
    def rate(self, text: str) -> float:
        return 0.0


def mention(i: int, text: str, **extra: Any) -> Mention:
    at = NOW - timedelta(hours=1) + timedelta(seconds=i)
    return parse_mention({"id": f"m{i}", "created_at": at.isoformat(), "text": text, **extra}, NOW)


def polarities(pipeline: Pipeline, stream: str) -> tuple[int, int, int]:
    """(mentions, negative, positive) over the stream's closed buckets."""
    pipeline.finish()
    buckets = pipeline.streams[stream].recent
    return (
        sum(b.mentions for b in buckets),
        sum(b.negative for b in buckets),
        sum(b.positive for b in buckets),
    )


@pytest.fixture(scope="module")
def vader() -> VaderScorer:
    return VaderScorer()


# -- VADER ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected", "polarity"),
    [
        ("This is the worst airline ever, they lost my bag and I hate them", -0.8779, -1),
        ("Worst airline ever, cancelled my flight again", -0.7269, -1),
        ("terrible", -0.4767, -1),
        ("I love this airline, the crew were wonderful!", 0.8478, 1),
        ("Great crew, thanks!", 0.807, 1),
        ("not bad at all", 0.431, 1),  # negation handled
        ("The flight leaves at 9am", 0.0, 0),
        ("still waiting on hold", 0.0, 0),  # a complaint without a negative word (DESIGN §4)
    ],
)
def test_vader_scores(vader: VaderScorer, text: str, expected: float, polarity: int) -> None:
    score = vader.score(text)
    assert isinstance(score, float)
    assert score == pytest.approx(expected, abs=1e-4)
    assert classify(score, -0.05, 0.05) == polarity


def test_vader_is_a_scorer_and_pickles_by_rebuilding(vader: VaderScorer) -> None:
    assert isinstance(vader, SentimentScorer)
    data = pickle.dumps(vader)
    assert len(data) < 200  # the lexicon is not shipped in checkpoints
    copy = pickle.loads(data)
    assert isinstance(copy, VaderScorer)
    assert copy.score("terrible") == vader.score("terrible")


def test_vader_is_the_default_scorer_of_the_service(tmp_path: Path) -> None:
    config = RadarConfig.model_validate({"streams": {"acme": {"keywords": ["acme"]}}})
    service = RadarService(
        config, state_dir=tmp_path, notifiers=[], clock=ManualClock(NOW), live=False, fsync=False
    )
    try:
        assert type(service.scorer) is VaderScorer
        service.submit(
            [
                mention(0, "acme is the worst, they lost my bag and I hate them"),
                mention(1, "acme crew were wonderful, I love them"),
                mention(2, "acme flight leaves at 9am"),
            ]
        )
        assert polarities(service.pipeline, "acme") == (3, 1, 1)
    finally:
        service.stop()


# -- the mention's own sentiment wins ---------------------------------------------------------------
def test_the_mentions_own_sentiment_wins_over_the_scorer() -> None:
    scorer = FixedScorer(-0.9)
    pipeline = Pipeline(RadarConfig(), scorer)
    pipeline.ingest(mention(0, "I love it", stream="acme", sentiment=0.8))  # positive as given
    pipeline.ingest(mention(1, "fine", stream="acme", sentiment=0.0))  # 0.0 is a value, not "absent"
    pipeline.ingest(mention(2, "great stuff", stream="acme"))  # no sentiment: the scorer decides
    pipeline.ingest(mention(3, "meh", stream="acme", sentiment=0.5), score=-0.9)  # beats a pooled score
    assert scorer.texts == ["great stuff"]
    assert polarities(pipeline, "acme") == (4, 1, 2)


def test_a_precomputed_score_is_used_instead_of_scoring_again() -> None:
    scorer = FixedScorer(0.9)
    pipeline = Pipeline(RadarConfig(), scorer)
    pipeline.ingest(mention(0, "text", stream="acme"), score=-0.7)
    assert scorer.texts == []
    assert polarities(pipeline, "acme") == (1, 1, 0)


# -- custom scorers ---------------------------------------------------------------------------------
def test_a_custom_scorer_satisfies_the_protocol_and_plugs_in(tmp_path: Path) -> None:
    scorer = FixedScorer(-0.6)
    assert isinstance(scorer, SentimentScorer)
    assert not isinstance(NotAScorer(), SentimentScorer)
    service = RadarService(
        RadarConfig(),
        state_dir=tmp_path,
        scorer=scorer,
        notifiers=[],
        clock=ManualClock(NOW),
        live=False,
        fsync=False,
    )
    try:
        service.submit([mention(0, "I love it", stream="acme"), mention(1, "great", stream="acme")])
        assert scorer.texts == ["I love it", "great"]
        assert polarities(service.pipeline, "acme") == (2, 2, 0)
    finally:
        service.stop()


def test_a_custom_scorer_drives_a_backtest() -> None:
    scorer = FixedScorer(0.3)
    records = [mention(i, f"post {i}", stream="acme") for i in range(5)]
    result = run_backtest(records, RadarConfig(), scorer, workers=0)
    assert scorer.texts == [f"post {i}" for i in range(5)]
    assert result.outcomes == {"accepted": 5}
    assert polarities(result.pipeline, "acme") == (5, 0, 5)


# -- classification ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("score", "polarity"),
    [
        (-1.0, -1),
        (-0.05, -1),  # at the threshold: negative
        (-0.0499, 0),
        (0.0, 0),
        (0.0499, 0),
        (0.05, 1),  # at the threshold: positive
        (1.0, 1),
    ],
)
def test_classify_with_the_default_thresholds(score: float, polarity: int) -> None:
    defaults = DetectionSettings()
    assert (defaults.negative_threshold, defaults.positive_threshold) == (-0.05, 0.05)
    assert classify(score, defaults.negative_threshold, defaults.positive_threshold) == polarity


@pytest.mark.parametrize(
    ("score", "polarity"), [(-0.31, -1), (-0.3, -1), (-0.29, 0), (0.2, 0), (0.3, 1), (0.31, 1)]
)
def test_classify_with_other_thresholds(score: float, polarity: int) -> None:
    assert classify(score, -0.3, 0.3) == polarity


@pytest.fixture
def two_streams() -> Iterator[Pipeline]:
    config = RadarConfig.model_validate(
        {
            "streams": {
                "strict": {"detection": {"negative_threshold": -0.5, "positive_threshold": 0.5}},
                "plain": {},
            }
        }
    )
    yield Pipeline(config, FixedScorer(0.0))


def test_each_stream_classifies_with_its_own_thresholds(two_streams: Pipeline) -> None:
    for i, s in enumerate([-0.6, -0.3, 0.0, 0.3, 0.6]):
        two_streams.ingest(mention(i, "x", stream=["strict", "plain"], sentiment=s))
    assert polarities(two_streams, "strict") == (5, 1, 1)
    assert polarities(two_streams, "plain") == (5, 2, 2)
    assert two_streams.streams["strict"].negative_total == 1
    assert two_streams.streams["plain"].negative_total == 2


def test_handles_and_links_are_not_read_as_words() -> None:
    """VADER alone scores "@united" as praise (+0.42): a complaint to United must not look positive."""
    scorer = VaderScorer()
    assert scorer.score("@united") == 0.0
    assert scorer.score("@united my bag is lost, terrible") == scorer.score("my bag is lost, terrible") < 0
    assert scorer.score("awful https://example.com/great-deals") == scorer.score("awful") < 0
    assert scorer.score("#fail again") < 0  # hashtags are words of the post
