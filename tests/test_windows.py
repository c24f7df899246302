"""Windows, author damping and terms."""

from __future__ import annotations

import pytest

from radar.authors import AuthorActivity
from radar.terms import TermBaseline, tokenize
from radar.windows import GAP_TAIL_SECONDS, MAX_GAP_SECONDS, Post, Windower


def _add(w: Windower, stream: str, t: float, polarity: int = 0, author: str = "a") -> bool:
    return w.add(stream, t=t, polarity=polarity, weight=1.0, author=author, terms=["x"], post=None)


def test_buckets_close_in_order_with_zeros_for_every_stream() -> None:
    w = Windower(60)
    _add(w, "a", 5.0)
    _add(w, "b", 65.0, polarity=-1)
    _add(w, "a", 130.0)
    closed = [(b.stream, b.start, b.mentions, b.negative) for b in w.advance(180.0)]
    assert closed == [
        ("a", 0.0, 1, 0),
        ("a", 60.0, 0, 0),
        ("b", 60.0, 1, 1),
        ("a", 120.0, 1, 0),
        ("b", 120.0, 0, 0),
    ]


def test_late_mentions_are_refused_and_counted() -> None:
    w = Windower(60)
    _add(w, "a", 5.0)
    list(w.advance(120.0))
    assert _add(w, "a", 30.0) is False
    assert w.late_count("a") == 1
    assert _add(w, "a", 125.0) is True


def test_a_gap_of_years_closes_only_its_last_hours() -> None:
    w = Windower(60)
    tail = GAP_TAIL_SECONDS // 60  # buckets
    year = 365 * 86_400.0
    _add(w, "a", 5.0)  # a mention dated 1970 ...
    _add(w, "a", 30 * year + 5.0)  # ... and one of thirty years later
    closed = list(w.advance(30 * year + 60.0))
    assert [(b.start, b.mentions) for b in closed if b.mentions] == [(0.0, 1), (30 * year, 1)]
    assert len(closed) == 2 + tail  # the first bucket, the hours before the second, the second
    assert closed[1].start == 30 * year - GAP_TAIL_SECONDS
    assert w.skipped_count("a") == 30 * 365 * 1440 - 1 - tail
    # nothing later is lost: the stream goes on bucket by bucket
    _add(w, "a", 30 * year + 65.0)
    assert [b.mentions for b in w.advance(30 * year + 120.0)] == [1]


def test_a_gap_of_a_week_or_less_is_closed_bucket_by_bucket() -> None:
    w = Windower(60)
    _add(w, "a", 5.0)
    _add(w, "a", MAX_GAP_SECONDS + 5.0)
    closed = list(w.advance(MAX_GAP_SECONDS + 60.0))
    assert len(closed) == MAX_GAP_SECONDS // 60 + 1
    assert w.skipped_count("a") == 0


def test_bucket_keeps_authors_posts_terms() -> None:
    w = Windower(60)
    for i in range(5):
        post = Post(float(i), f"p{i}", f"u{i}", f"au{i % 2}", i, 0, "t")
        w.add("a", t=1.0 + i, polarity=1, weight=0.5, author=f"au{i % 2}", terms=["x", "y"], post=post)
    (bucket,) = list(w.advance(60.0))
    assert bucket.mentions == 5 and bucket.positive == 5 and bucket.weighted == 2.5
    assert bucket.unique_authors == 2
    assert [p.id for p in bucket.top_posts()] == ["p4", "p3", "p2"]
    assert bucket.terms["x"] == 5


def test_windower_validates_bucket_size() -> None:
    with pytest.raises(ValueError, match="bucket_seconds"):
        Windower(7)


def test_author_activity_damps_floods_but_not_crowds() -> None:
    a = AuthorActivity(capacity=64, half_life=1800)
    crowd = sum(a.weight(f"user{i}", t=float(i)) for i in range(500))
    assert crowd == pytest.approx(500)
    flood = sum(a.weight(f"bot{i % 5}", t=1000.0 + i) for i in range(500))
    assert flood < 40
    assert len(a) <= 64


def test_term_baseline_finds_surging_terms() -> None:
    tb = TermBaseline(width=256)
    for _ in range(500):
        tb.learn({"flight": 3, "delay": 1, "thanks": 2}, 10)
    recent = {"flight": 30, "breach": 40, "thanks": 20}
    surging = tb.surging(recent, 100)
    assert surging[0]["term"] == "breach"
    assert "thanks" not in [s["term"] for s in surging]


def test_tokenize_drops_handles_links_stop_words() -> None:
    assert tokenize("RT @acme: Worst service EVER!!! https://x.co/a #AcmeFail", frozenset({"worst"})) == [
        "service",
        "ever",
        "acmefail",
    ]
