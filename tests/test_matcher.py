"""Stream matching (:mod:`radar.matcher`) and which streams the radar admits.

Rules are case-insensitive and word-boundary aware; keywords may be phrases and also match inside
hashtags and handles; exclusions win; a mention that names its ``stream`` is trusted; streams not
configured are created up to ``max_streams``, then their mentions are rejected (``stream_limit``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from radar.batch import BatchResult
from radar.clock import ManualClock
from radar.config import RadarConfig
from radar.matcher import Matcher, StreamRegistry
from radar.mention import Mention, parse_mention
from radar.pipeline import Pipeline
from radar.sentiment import VaderScorer
from radar.service import RadarService

NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)

RULES = {
    "acme": {"keywords": ["acme"]},
    "acme-air": {
        "keywords": ["Acme Air"],
        "hashtags": ["#AcmeFail"],
        "handles": ["@AcmeAir"],
        "exclude": ["acme air fryer"],
    },
    "zeta": {"keywords": ["zeta"], "exclude": ["zeta jones"]},
}


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(RadarConfig.model_validate({"streams": RULES}))


def mention(text: str, i: int = 0, **extra: Any) -> Mention:
    at = NOW - timedelta(minutes=30) + timedelta(seconds=i)
    return parse_mention({"id": f"m{i}", "created_at": at.isoformat(), "text": text, **extra}, NOW)


@pytest.mark.parametrize(
    ("text", "streams"),
    [
        ("ACME's outage", ("acme",)),
        ("acme", ("acme",)),
        ("Acme.", ("acme",)),
        ("(ACME) down?", ("acme",)),
        ("acme-corp is down", ("acme",)),
        ("Ärger mit acme", ("acme",)),
        ("acmeville", ()),
        ("newacme", ()),
        ("acme_corp", ()),
        ("acm e", ()),
    ],
)
def test_keywords_are_case_insensitive_whole_words(
    matcher: Matcher, text: str, streams: tuple[str, ...]
) -> None:
    assert matcher.match(text) == streams


@pytest.mark.parametrize(
    ("text", "streams"),
    [
        ("Flying ACME AIR today", ("acme", "acme-air")),
        ("acme\u00a0air again", ("acme", "acme-air")),  # any whitespace between the words
        ("acme airways", ("acme",)),  # the phrase needs both whole words
        ("air acme", ("acme",)),  # and in order
        ("acmeair", ()),
    ],
)
def test_phrases_match_consecutive_words(matcher: Matcher, text: str, streams: tuple[str, ...]) -> None:
    assert matcher.match(text) == streams


@pytest.mark.parametrize(
    ("text", "streams"),
    [
        ("#ACME is trending", ("acme",)),  # a keyword also matches as a hashtag
        ("@acme help", ("acme",)),  # and as a handle
        ("#acme air", ("acme", "acme-air")),
        ("#AcmeFail again", ("acme-air",)),
        ("what a #acmefail", ("acme-air",)),
        ("acmefail", ()),  # a hashtag rule needs the #
        ("#acmefails", ()),
    ],
)
def test_hashtags(matcher: Matcher, text: str, streams: tuple[str, ...]) -> None:
    assert matcher.match(text) == streams


@pytest.mark.parametrize(
    ("text", "streams"),
    [
        ("thanks @AcmeAir.", ("acme-air",)),
        ("@ACMEAIR: where is my bag", ("acme-air",)),
        ("@AcmeAirHelp", ()),  # another handle
        ("mail help@acmeair.com", ()),  # an address, not the handle
        ("AcmeAir", ()),  # a handle rule needs the @
    ],
)
def test_handles(matcher: Matcher, text: str, streams: tuple[str, ...]) -> None:
    assert matcher.match(text) == streams


@pytest.mark.parametrize(
    ("text", "streams"),
    [
        ("my acme air fryer broke", ("acme",)),  # excluded from acme-air, still acme's
        ("ACME AIR FRYER deals", ("acme",)),
        ("@AcmeAir my acme air fryer", ("acme",)),  # the exclusion wins over the handle
        ("#acmefail acme air fryer", ("acme",)),  # and over the hashtag
        ("zeta and acme air fryer", ("acme", "zeta")),  # an exclusion only concerns its own stream
        ("catherine zeta jones", ()),
        ("zeta jones zeta", ()),  # excluded even though the keyword appears again
        ("acme air, then a fryer", ("acme", "acme-air")),
    ],
)
def test_exclusions_win(matcher: Matcher, text: str, streams: tuple[str, ...]) -> None:
    assert matcher.match(text) == streams


def test_a_mention_carrying_stream_is_trusted(matcher: Matcher) -> None:
    assert matcher.assign(mention("Flying ACME AIR today")) == ("acme", "acme-air")
    assert matcher.assign(mention("Flying ACME AIR today", stream="other")) == ("other",)
    assert matcher.assign(mention("catherine zeta jones", stream="zeta")) == ("zeta",)  # not matched at all
    assert matcher.assign(mention("nothing here", stream=["b", "a", "b"])) == ("b", "a")
    assert matcher.assign(mention("acme", stream=[])) == ("acme",)  # an empty list names no stream


def test_without_rules_only_named_streams_match() -> None:
    m = Matcher(RadarConfig())
    assert m.assign(mention("acme acme acme")) == ()
    assert m.assign(mention("acme", stream="acme")) == ("acme",)


def test_own_terms_are_the_words_of_the_rules(matcher: Matcher) -> None:
    assert matcher.own_terms("acme-air") == ["acme", "acmeair", "acmefail", "air"]
    assert matcher.own_terms("unknown") == []


_WORDS = st.sampled_from(["acme", "air", "fryer", "zeta", "jones", "delay", "ok", "x1"])
_SEPS = st.sampled_from([" ", "  ", ", ", ". ", "! ", "\n", " - ", " (", ") "])


@settings(max_examples=200, deadline=None)
@given(
    words=st.lists(st.tuples(_WORDS, _SEPS), max_size=8),
    upper=st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_matching_ignores_case(matcher: Matcher, words: list[tuple[str, str]], upper: list[bool]) -> None:
    text = "".join(w + s for w, s in words)
    shouted = "".join((w.upper() if u else w.title()) + s for (w, s), u in zip(words, upper, strict=False))
    assert matcher.match(shouted) == matcher.match(text)


@settings(max_examples=200, deadline=None)
@given(
    before=st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789_"), min_size=1, max_size=5),
    after=st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789_"), min_size=1, max_size=5),
    where=st.integers(0, 2),
)
def test_a_keyword_inside_a_longer_word_never_matches(
    matcher: Matcher, before: str, after: str, where: int
) -> None:
    word = [before + "acme", "acme" + after, before + "acme" + after][where]
    assert matcher.match(f"news: {word} is down") == ()


# -- which streams the radar admits ---------------------------------------------------------------------
def test_registry_admits_configured_streams_and_new_ones_up_to_the_limit() -> None:
    reg = StreamRegistry({"acme": object()}, max_streams=3, auto=True)
    assert [reg.admit(n) for n in ["acme", "b", "c", "d", "b", "acme"]] == [
        True,
        True,
        True,
        False,
        True,
        True,
    ]
    assert reg.known == {"acme", "b", "c"}
    closed = StreamRegistry({"acme": object()}, max_streams=3, auto=False)
    assert [closed.admit(n) for n in ["acme", "b"]] == [True, False]


def test_pipeline_creates_streams_until_max_streams() -> None:
    config = RadarConfig.model_validate(
        {"radar": {"max_streams": 3}, "streams": {"acme": {"keywords": ["acme"]}}}
    )
    pipeline = Pipeline(config, VaderScorer())
    outcomes = [
        pipeline.ingest(mention("acme is down", 0)),
        pipeline.ingest(mention("hello", 1, stream="beta")),
        pipeline.ingest(mention("hello", 2, stream="gamma")),  # the third stream: the limit
        pipeline.ingest(mention("hello", 3, stream="delta")),
        pipeline.ingest(mention("hello", 4, stream=["delta", "beta"])),  # beta is known: accepted there
        pipeline.ingest(mention("nothing to see", 5)),
    ]
    assert outcomes == ["accepted", "accepted", "accepted", "stream_limit", "accepted", "unmatched"]
    assert sorted(pipeline.streams) == ["acme", "beta", "gamma"]


def test_auto_streams_off_admits_only_configured_streams() -> None:
    config = RadarConfig.model_validate(
        {"radar": {"auto_streams": False}, "streams": {"acme": {"keywords": ["acme"]}}}
    )
    pipeline = Pipeline(config, VaderScorer())
    assert pipeline.ingest(mention("hi", 0, stream="acme")) == "accepted"
    assert pipeline.ingest(mention("acme", 1, stream="beta")) == "stream_limit"  # trusted, so not matched
    assert sorted(pipeline.streams) == ["acme"]


@pytest.fixture
def service(tmp_path: Path) -> Iterator[RadarService]:
    config = RadarConfig.model_validate({"radar": {"max_streams": 2}})
    svc = RadarService(
        config, state_dir=tmp_path, notifiers=[], clock=ManualClock(NOW), live=False, fsync=False
    )
    yield svc
    svc.stop()


def _rejected_total(service: RadarService, reason: str) -> float:
    for family in text_string_to_metric_families(service.metrics.exposition().decode()):
        for sample in family.samples:
            if sample.name == "radar_mentions_rejected_total" and sample.labels == {"reason": reason}:
                return sample.value
    return 0.0


def test_stream_limit_rejections_carry_index_and_reason(service: RadarService) -> None:
    batch = BatchResult(mentions=[mention("x", i, stream=s) for i, s in enumerate(["a", "b", "c", "a", "d"])])
    report = service.submit(batch)
    message = (
        "stream: its streams are new and the radar already has max_streams=2; configure the stream or raise "
        "the limit"
    )
    assert report.to_json() == {
        "accepted": 3,
        "rejected": [
            {"index": 2, "reason": "stream_limit", "error": message},
            {"index": 4, "reason": "stream_limit", "error": message},
        ],
        "duplicates": 0,
        "unmatched": 0,
    }
    assert sorted(service.pipeline.streams) == ["a", "b"]
    assert _rejected_total(service, "stream_limit") == 2.0
