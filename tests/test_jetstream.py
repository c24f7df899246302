"""The Bluesky Jetstream source against a real websocket server and profile API on loopback.

The servers are ``tests.jetstream_server``; the source runs under the real
:class:`~radar.sources.supervisor.Supervisor` (small backoff) with a sink that keeps every batch, and
mentions are de-duplicated by id with the radar's own :class:`~radar.dedup.Deduplicator`.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from radar.config import JetstreamSettings, RadarConfig
from radar.dedup import Deduplicator
from radar.matcher import Matcher
from radar.mention import Mention
from radar.sources.jetstream import JetstreamSource, MalformedEvent, event_to_mention
from radar.sources.source import Source
from radar.sources.supervisor import Supervisor
from tests.jetstream_server import (
    FOLLOW,
    LIKE,
    POST,
    JetstreamServer,
    ProfileServer,
    account_event,
    delete_event,
    follow_event,
    identity_event,
    like_event,
    post_event,
    post_uri,
    random_did,
    repost_event,
    tid,
)

T0 = 1_772_614_800_000_000  # 2026-03-04T09:00:00Z
STEP = 20_000  # 20 ms between events
OVERLAP = 1.0  # resume_overlap_seconds in these tests
RNG = random.Random(5)
ALICE, BOB, CAROL, ACME = (random_did(RNG) for _ in range(4))
PROFILES = {ALICE: ("alice.bsky.social", 1200), BOB: ("bob.example.com", 35), CAROL: ("carol.bsky.social", 0)}

CONFIG = RadarConfig.model_validate(
    {
        "streams": {
            "acme": {
                "keywords": ["Acme Air"],
                "hashtags": ["#acmefail"],
                "handles": ["@acmeair.com"],
                "exclude": ["acme air fryer"],
            },
            "zephyr": {"keywords": ["zephyr bank"], "handles": ["@zephyr"]},
        }
    }
)
MATCHER = Matcher(CONFIG)


def settings(url: str = "ws://127.0.0.1:9/subscribe", **kw: Any) -> JetstreamSettings:
    return JetstreamSettings(url=url, resume_overlap_seconds=OVERLAP, **kw)


def source_for(server: JetstreamServer, api: ProfileServer | None = None, **kw: Any) -> JetstreamSource:
    options = {k: kw.pop(k) for k in ("replies", "quotes") if k in kw}
    profile_api = api.base_url if api is not None else "http://127.0.0.1:9"  # nothing listens on port 9
    return JetstreamSource(settings(server.url, profile_api=profile_api, **options), MATCHER, **kw)


class Sink:
    """The radar's side of the supervisor: keeps every batch it is handed."""

    def __init__(self) -> None:
        self.batches: list[list[Mention]] = []
        self.lock = threading.Lock()

    def __call__(self, batch: Sequence[Any], name: str) -> None:
        with self.lock:
            self.batches.append(list(batch))

    @property
    def mentions(self) -> list[Mention]:
        with self.lock:
            return [m for batch in self.batches for m in batch]

    @property
    def ids(self) -> list[str]:
        return [m.id for m in self.mentions]


def until(condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Running:
    """A supervisor running ``source`` into a :class:`Sink` (stopped on exit)."""

    def __init__(
        self, source: Source, sink: Sink, positions: dict[str, dict[str, Any]] | None = None
    ) -> None:
        self.source = source
        self.supervisor = Supervisor(
            [source], sink, silent_after=None, base=0.02, cap=0.1, positions=positions
        )

    def __enter__(self) -> Supervisor:
        self.supervisor.start()
        return self.supervisor

    def __exit__(self, *exc: object) -> None:
        self.supervisor.stop()


@pytest.fixture
def server() -> Iterator[JetstreamServer]:
    with JetstreamServer(record_times=True) as s:
        yield s


@pytest.fixture
def api() -> Iterator[ProfileServer]:
    with ProfileServer(PROFILES) as s:
        yield s


def matching_posts(
    start: int, count: int, *, every: int = 3, did: str = ALICE
) -> tuple[list[dict], set[str]]:
    """``count`` posts ``STEP`` apart, every ``every``-th naming Acme Air, with likes, reposts and
    follows (which the server filters out) and identity/account events (which it does not) between."""
    events: list[dict[str, Any]] = []
    expected: set[str] = set()
    rng = random.Random(start)
    for i in range(count):
        now = start + i * STEP
        text = f"Acme Air cancelled flight {i}, again" if i % every == 0 else f"lovely morning walk {i}"
        event = post_event(did, now, text, rng=rng)
        if i % every == 0:
            expected.add(post_uri(did, event["commit"]["rkey"]))
        events.append(event)
        events.append(like_event(BOB, now + 1, post_uri(did, event["commit"]["rkey"]), rng))
        events.append(repost_event(CAROL, now + 2, post_uri(did, event["commit"]["rkey"]), rng))
        events.append(follow_event(BOB, now + 3, CAROL, rng))
        if i % 10 == 5:
            events.append(account_event(CAROL, now + 4))
    return events, expected


def last_seen(events: list[Any]) -> int:
    """``time_us`` of the last event a posts-only subscriber receives."""
    return max(e["time_us"] for e in events if e["kind"] != "commit" or e["commit"]["collection"] == POST)


def frames_for_posts(items: list[Any]) -> int:
    """How many of ``items`` the server sends to a posts-only subscriber."""
    return sum(
        1
        for e in items
        if not isinstance(e, dict) or e["kind"] != "commit" or e["commit"]["collection"] == POST
    )


# -- matching --------------------------------------------------------------------------------------
def test_event_to_mention_builds_the_mention_from_the_post() -> None:
    event = post_event(
        ALICE, T0, "Acme Air lost my bag #AcmeFail", langs=("en", "fr"), created_at="2026-03-04T08:59:58.5Z"
    )
    mention = event_to_mention(event, MATCHER, settings(), source="bluesky")
    assert mention is not None
    rkey = event["commit"]["rkey"]
    assert mention.id == f"at://{ALICE}/app.bsky.feed.post/{rkey}"
    assert mention.url == f"https://bsky.app/profile/{ALICE}/post/{rkey}"
    assert (mention.streams, mention.lang, mention.source, mention.author) == (
        ("acme",),
        "en",
        "bluesky",
        ALICE,
    )
    assert mention.created_at.isoformat() == "2026-03-04T08:59:58.500000+00:00"
    assert mention.text == "Acme Air lost my bag #AcmeFail"
    # a createdAt later than the network saw the post, or unreadable: the network's time
    for claimed in ("2030-01-01T00:00:00Z", "yesterday", "2026-03-04T09:00:00"):
        late = event_to_mention(post_event(ALICE, T0, "Acme Air", created_at=claimed), MATCHER, settings())
        assert late is not None and late.created_at.isoformat() == "2026-03-04T09:00:00+00:00"


@pytest.mark.parametrize(
    ("text", "extra", "streams"),
    [
        ("Delayed again on ACME AIR, thanks", {}, ("acme",)),
        ("three hours on the tarmac #acmefail", {}, ("acme",)),
        ("three hours on the tarmac", {"tags": ["AcmeFail"]}, ("acme",)),  # hidden tag (record.tags)
        ("@acmeair.com where is my bag", {"dids": {"acmeair.com": ACME}}, ("acme",)),
        ("@zephyr.bsky.social froze my card", {}, ("zephyr",)),  # dotted handle, short form matches @zephyr
        ("Zephyr Bank and Acme Air, what a week", {}, ("acme", "zephyr")),
        ("my acme air fryer broke", {}, ()),  # exclusion
        ("acmeairways is not acme", {}, ()),
        ("@acmeair.bsky.social hello", {}, ()),  # someone else's handle
        ("   ", {}, ()),
    ],
)
def test_matching_rules(text: str, extra: dict[str, Any], streams: tuple[str, ...]) -> None:
    mention = event_to_mention(post_event(BOB, T0, text, **extra), MATCHER, settings())
    assert (mention.streams if mention is not None else ()) == streams


def test_replies_and_quotes_follow_the_settings() -> None:
    parent = post_uri(CAROL, tid(T0 - 10**6))
    feed = f"at://{CAROL}/app.bsky.feed.generator/aaalpdp7rg7ig"
    reply = post_event(BOB, T0, "Acme Air, seriously?", reply_to=parent)
    quote = post_event(BOB, T0, "Acme Air, seriously?", quote=parent)
    quote_media = post_event(BOB, T0, "Acme Air, seriously?", quote=parent, with_media=True)
    feed_embed = post_event(BOB, T0, "Acme Air complaints feed", quote=feed)
    for replies in (True, False):
        for quotes in (True, False):
            s = settings(replies=replies, quotes=quotes)
            got = [
                event_to_mention(e, MATCHER, s) is not None for e in (reply, quote, quote_media, feed_embed)
            ]
            assert got == [replies, quotes, quotes, True]


def test_only_created_posts_count() -> None:
    post = post_event(ALICE, T0, "Acme Air is down")
    rkey = post["commit"]["rkey"]
    others = [
        post_event(ALICE, T0, "Acme Air is down (edited)", rkey=rkey, operation="update"),
        delete_event(ALICE, T0, POST, rkey),
        like_event(BOB, T0, post_uri(ALICE, rkey)),
        repost_event(BOB, T0, post_uri(ALICE, rkey)),
        follow_event(BOB, T0, ACME),
        delete_event(BOB, T0, FOLLOW, tid(T0 - 99)),
        identity_event(ACME, T0, "acmeair.com"),
        account_event(ACME, T0, active=False, status="deactivated"),
        {"kind": "heartbeat", "payload": ""},
    ]
    assert event_to_mention(post, MATCHER, settings()) is not None
    assert [event_to_mention(e, MATCHER, settings()) for e in others] == [None] * len(others)


def _broken(path: str, value: Any) -> dict[str, Any]:
    event = post_event(ALICE, T0, "Acme Air")
    *parents, last = path.split(".")
    node = event
    for key in parents:
        node = node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return event


@pytest.mark.parametrize(
    "event",
    [
        [1, 2],
        "text",
        _broken("time_us", KeyError),
        _broken("time_us", "1772614800000000"),
        _broken("did", None),
        _broken("kind", 3),
        _broken("commit", []),
        _broken("commit.collection", KeyError),
        _broken("commit.rkey", 7),
        _broken("commit.record", "Acme Air"),
        _broken("commit.record.text", 42),
        _broken("commit.record.createdAt", KeyError),
        _broken("commit.record.reply", "yes"),
        _broken("did", "did:web:" + "x" * 600),  # an id beyond the 512 characters of a mention id
    ],
)
def test_malformed_events_raise(event: Any) -> None:
    with pytest.raises(MalformedEvent):
        event_to_mention(event, MATCHER, settings())


# -- the source against the server -----------------------------------------------------------------
def test_source_matches_posts_from_the_firehose(server: JetstreamServer, api: ProfileServer) -> None:
    parent = post_uri(CAROL, tid(T0 - 10**6))
    events: list[Any] = [
        post_event(ALICE, T0, "Acme Air lost my bag"),
        post_event(BOB, T0 + STEP, "so tired of #acmefail"),
        post_event(CAROL, T0 + 2 * STEP, "@acmeair.com any news?", dids={"acmeair.com": ACME}),
        post_event(ALICE, T0 + 3 * STEP, "my acme air fryer is great"),  # excluded
        post_event(BOB, T0 + 4 * STEP, "Acme Air: me too", reply_to=parent),  # reply: counted
        post_event(BOB, T0 + 5 * STEP, "Acme Air again", quote=parent),  # quote: not counted here
        post_event(CAROL, T0 + 6 * STEP, "nothing to see"),
        like_event(BOB, T0 + 7 * STEP, parent),
        repost_event(BOB, T0 + 8 * STEP, parent),
        follow_event(BOB, T0 + 9 * STEP, ACME),
        identity_event(ACME, T0 + 10 * STEP, "acmeair.com"),
        post_event(ALICE, T0 + 11 * STEP, "Zephyr Bank froze my account"),
    ]
    expected = {post_uri(e["did"], e["commit"]["rkey"]) for e in (events[i] for i in (0, 1, 2, 4, 11))}
    sink = Sink()
    source = source_for(server, api, name="bluesky", quotes=False)
    with Running(source, sink):
        server.wait_connections(1)
        server.publish(*events)
        until(lambda: len(sink.ids) >= len(expected), what="the mentions")
        until(lambda: source.position() == {"cursor": T0 + 11 * STEP}, what="the position")
    assert set(sink.ids) == expected and len(sink.ids) == len(expected)
    by_id = {m.id: m for m in sink.mentions}
    alice = by_id[post_uri(ALICE, events[0]["commit"]["rkey"])]
    assert (alice.author, alice.author_followers, alice.source) == ("alice.bsky.social", 1200, "bluesky")
    assert by_id[post_uri(ALICE, events[11]["commit"]["rkey"])].streams == ("zephyr",)
    connection = server.connections[0]
    assert connection.wanted == (POST,) and connection.cursor is None  # posts only, live
    assert source.health.events == connection.sent == 9  # likes, reposts and follows filtered out upstream
    assert source.health.malformed == 0 and source.health.errors == 0


def test_a_wider_subscription_ignores_other_collections() -> None:
    """A server that sends the whole firehose (e.g. ``wantedCollections`` unsupported)."""
    events, expected = matching_posts(T0, 30)
    events += [
        post_event(ALICE, T0 + STEP + 10, "Acme Air typo", rkey="3mg7w7rol222b", operation="update"),
        delete_event(ALICE, T0 + STEP + 11, POST, "3mg7w7rol222b"),
        delete_event(BOB, T0 + STEP + 12, LIKE, "3mg7w7rol333b"),
    ]
    events.sort(key=lambda e: e["time_us"])
    sink = Sink()
    with JetstreamServer(filter_collections=False) as server:
        source = source_for(server)
        with Running(source, sink):
            server.wait_connections(1)
            server.publish(*events)
            until(lambda: source.health.events == len(events), what="every event")
            until(lambda: set(sink.ids) == expected, what="the mentions")
    assert len(sink.ids) == len(expected)
    assert source.health.malformed == 0
    assert source.position() == {"cursor": events[-1]["time_us"]}  # skipped events move the cursor too


def test_batches_are_cut_by_size_and_empty_batches_advance_the_position(server: JetstreamServer) -> None:
    events, expected = matching_posts(T0, 50, every=1)
    sink = Sink()
    source = source_for(server, max_batch=7, max_wait=0.2)
    with Running(source, sink) as supervisor:
        server.wait_connections(1)
        server.publish(*events)
        until(lambda: set(sink.ids) == expected, what="the mentions")
        assert max(len(b) for b in sink.batches) == 7
        batches = len(sink.batches)
        quiet = [post_event(CAROL, T0 + 10**7 + i * STEP, f"quiet day {i}") for i in range(20)]
        server.publish(*quiet)  # nothing matches: only empty batches move the position
        last = quiet[-1]["time_us"]
        until(lambda: supervisor.positions().get("jetstream") == {"cursor": last}, what="the position")
        assert len(sink.batches) == batches


@pytest.mark.parametrize("clean", [False, True], ids=["dropped", "closed-1001"])
def test_dropped_connection_resumes_from_the_cursor_without_loss_or_duplicates(
    server: JetstreamServer, clean: bool
) -> None:
    events, expected = matching_posts(T0, 300)
    server.drop_after(150, clean=clean)  # mid-stream (every post comes with an account event now and then)
    sink = Sink()
    source = source_for(server)
    with Running(source, sink):
        server.wait_connections(1)
        server.publish(*events)
        second = server.wait_connections(2)
        until(lambda: set(sink.ids) >= expected, what="every mention")
        until(lambda: source.position() == {"cursor": last_seen(events)}, what="the end")
    first = server.connections[0]
    assert first.ended == ("closed" if clean else "dropped") and first.sent == 150
    # resumed at the last event handed over minus the overlap...
    assert first.last_time_us is not None
    assert second.cursor == first.last_time_us - round(OVERLAP * 1e6)
    # ...which replayed mentions already handed over: the source dropped them, nothing was lost
    assert second.sent_time_us[0] == min(t for t in first.sent_time_us if t >= second.cursor)
    assert sorted(sink.ids) == sorted(expected)
    assert source.health.extra["duplicates"] >= 10
    assert source.health.errors == 1 and source.health.reconnects == 1


def test_refused_connections_and_server_errors_back_off_and_reconnect() -> None:
    with socket.socket() as probe:  # a port nothing listens on (for now)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = Sink()
    source = JetstreamSource(settings(f"ws://127.0.0.1:{port}/subscribe"), MATCHER)
    with Running(source, sink):
        until(lambda: source.health.errors >= 3, what="refused connections")
        assert "Connect" in (source.health.last_error or "") or "refused" in (source.health.last_error or "")
        with JetstreamServer(port=port) as server:
            server.reject_next(2, status=503)
            server.wait_connections(1)
            events, expected = matching_posts(T0, 9)
            server.publish(*events)
            until(lambda: set(sink.ids) == expected, what="the mentions")
            assert server.rejected == 2 and len(server.connections) == 1
            assert source.health.errors == source.health.reconnects >= 5
            assert "503" in (source.health.last_error or "")


def test_malformed_frames_are_skipped_and_counted_on_the_same_connection(server: JetstreamServer) -> None:
    good, expected = matching_posts(T0, 12, every=2)
    bad: list[Any] = [
        "not json at all",
        '{"did": "did:plc:x", "kind": "commit"',  # truncated
        '{"did": "did:plc:x", "kind": "commit", "commit": {}}',  # no time_us
        '{"did": "did:plc:x", "time_us": "soon", "kind": "account"}',
        '[{"did": "did:plc:x"}]',
        json.dumps(_broken("commit.record.text", 42)),
        json.dumps(_broken("commit.record", None)),
        b"(\xb5/\xfd\x00X\x01\x00",  # a zstd frame (compression was not asked for)
        b"\xff\xfe not UTF-8",
    ]
    sink = Sink()
    source = source_for(server)
    with Running(source, sink):
        server.wait_connections(1)
        mixed = [item for pair in zip(good, bad, strict=False) for item in pair] + good[len(bad) :]
        server.publish(*mixed)
        until(lambda: set(sink.ids) == expected, what="the mentions")
        until(lambda: source.health.events == frames_for_posts(mixed), what="every frame")
        assert source.health.connected
    assert source.health.malformed == len(bad)
    assert len(server.connections) == 1 and source.health.errors == 0


def test_restart_resumes_from_the_persisted_position(server: JetstreamServer, api: ProfileServer) -> None:
    before, expected_before = matching_posts(T0, 40)
    while_down, expected_down = matching_posts(T0 + 40 * STEP, 30, did=BOB)
    sink = Sink()
    first = source_for(server, api)
    with Running(first, sink) as supervisor:
        server.wait_connections(1)
        server.publish(*before)
        until(lambda: set(sink.ids) == expected_before, what="the first mentions")
        last = last_seen(before)
        until(lambda: supervisor.positions() == {"jetstream": {"cursor": last}}, what="the position")
        positions = supervisor.positions()
    server.publish(*while_down)  # the radar is down
    second = source_for(server, api)
    with Running(second, sink, positions=positions):
        resumed = server.wait_connections(2)
        until(lambda: set(sink.ids) >= expected_before | expected_down, what="the missed mentions")
    assert resumed.cursor == last - round(OVERLAP * 1e6)
    # the new source does not know what the old one handed over: the overlap comes again, and the
    # radar's de-duplication by id drops it
    dedup = Deduplicator(capacity=10_000)
    kept = [i for i in sink.ids if not dedup.seen(i)]
    assert len(sink.ids) > len(kept)
    assert sorted(kept) == sorted(expected_before | expected_down)


def test_follower_counts_are_looked_up_once_and_cached(server: JetstreamServer, api: ProfileServer) -> None:
    stranger = random_did(random.Random(99))  # no profile: "Profile not found"
    events: list[Any] = []
    for i, did in enumerate([ALICE, BOB, CAROL, stranger] * 3):
        events.append(post_event(did, T0 + i * STEP, f"Acme Air delay number {i}"))
    events.append(identity_event(BOB, T0 + 20 * STEP, "bob.bsky.social"))
    events.append(post_event(BOB, T0 + 21 * STEP, "Acme Air, new handle same delays"))
    sink = Sink()
    source = source_for(server, api)
    with Running(source, sink):
        server.wait_connections(1)
        server.publish(*events[:12])
        until(lambda: len(sink.ids) == 12, what="the first mentions")
        server.publish(*events[12:])
        until(lambda: len(sink.ids) == 13, what="the last mention")
    assert api.requests == {ALICE: 1, BOB: 1, CAROL: 1, stranger: 1}  # getProfiles: a few at a time
    seen = {(m.author, m.author_followers) for m in sink.mentions}
    assert seen == {
        ("alice.bsky.social", 1200),
        ("bob.example.com", 35),
        ("carol.bsky.social", 0),
        (stranger, 0),
        ("bob.bsky.social", 35),  # the identity event renamed Bob
    }
    assert source.health.extra["profile_requests"] == api.calls <= 4
    assert source.health.extra["profile_failures"] == 1  # the stranger, left out of the answer


def test_a_burst_of_authors_is_looked_up_25_at_a_time(server: JetstreamServer, api: ProfileServer) -> None:
    rng = random.Random(5)
    dids = [random_did(rng) for _ in range(60)]
    api.profiles.update({d: (f"user{i}.bsky.social", 10 * i) for i, d in enumerate(dids[:50])})
    sink = Sink()
    source = source_for(server, api, profile_timeout=5.0, max_batch=100, max_wait=0.5)
    with Running(source, sink):
        server.wait_connections(1)
        server.publish(*(post_event(d, T0 + i * STEP, f"Acme Air queue {i}") for i, d in enumerate(dids)))
        until(lambda: len(sink.ids) == 60, what="the burst")
    assert api.requests == dict.fromkeys(dids, 1)
    assert max(api.sizes) <= 25 and api.calls < 60 / 2, api.sizes  # batched, within the lexicon's limit
    followers = {m.author: m.author_followers for m in sink.mentions}
    assert followers == {
        **{f"user{i}.bsky.social": 10 * i for i in range(50)},
        **dict.fromkeys(dids[50:], 0),  # no profile: left out of the answer, the DID stays the author
    }
    assert source.health.extra["profile_failures"] == 10


def test_a_failing_or_slow_profile_api_never_holds_the_stream(
    server: JetstreamServer, api: ProfileServer
) -> None:
    api.fail(500, times=None)
    sink = Sink()
    source = source_for(server, api, profile_timeout=0.1, failure_ttl=1.0, max_wait=0.2)
    dids = [random_did(random.Random(i)) for i in range(8)]
    with Running(source, sink):
        server.wait_connections(1)
        for i, did in enumerate(dids[:5]):  # one at a time: a request each
            server.publish(post_event(did, T0 + i * STEP, "Acme Air outage"))
            until(lambda i=i: len(sink.ids) == i + 1 and api.calls == i + 1, what=f"mention {i}")
        until(lambda: source.profiles.failures == 5, what="the fifth failure")
        server.publish(*(post_event(d, T0 + i * STEP, "Acme Air outage") for i, d in enumerate(dids[5:], 5)))
        until(lambda: len(sink.ids) == 8, what="the next mentions")
        assert {m.author_followers for m in sink.mentions} == {0} and {
            m.author for m in sink.mentions
        } == set(dids)
        assert api.calls == 5  # five failed requests in a row: the API is left alone a while
        api.heal()
        api.delay = 1.5
        time.sleep(1.0)  # failure_ttl: the API is asked again
        published = time.monotonic()
        server.publish(post_event(ALICE, T0 + 10 * STEP, "Acme Air, still down"))
        until(lambda: len(sink.ids) == 9, what="the slow lookup's mention")
        assert time.monotonic() - published < 1.0  # handed over without the profile
        assert sink.mentions[-1].author_followers == 0
        until(lambda: source.profiles.known(ALICE) is not None, what="the slow lookup")
        server.publish(post_event(ALICE, T0 + 11 * STEP, "Acme Air, day two"))
        until(lambda: len(sink.ids) == 10, what="the next mention")
        assert sink.mentions[-1].author_followers == 1200  # the late answer went into the cache


# -- construction and positions --------------------------------------------------------------------
def test_positions_and_subscribe_url() -> None:
    source = JetstreamSource(settings("wss://jetstream.example/subscribe"), MATCHER)
    assert source.position() == {}
    assert source.subscribe_url() == "wss://jetstream.example/subscribe?wantedCollections=app.bsky.feed.post"
    source.resume({"cursor": T0})
    assert source.position() == {"cursor": T0}
    assert source.subscribe_url().endswith(f"wantedCollections=app.bsky.feed.post&cursor={T0 - 1_000_000}")
    source.resume({"cursor": "yesterday"})  # unusable: ignored
    assert source.position() == {"cursor": T0}
    assert isinstance(source, Source)


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"max_batch": 0}, "max_batch"),
        ({"max_wait": 0}, "max_wait"),
        ({"profile_timeout": -1}, "profile_timeout"),
    ],
)
def test_constructor_validates(kwargs: dict[str, Any], word: str) -> None:
    with pytest.raises(ValueError, match=word):
        JetstreamSource(settings(), MATCHER, **kwargs)
    with pytest.raises(ValueError, match="url"):
        JetstreamSource(JetstreamSettings(url="https://jetstream.example/subscribe"), MATCHER)
