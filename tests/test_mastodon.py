"""The Mastodon source against a fake Mastodon server on loopback (``tests.mastodon_server``).

No mocks: real HTTP through httpx to a real server thread. Polls are driven through the source's
``batches()`` with an injected clock and sleep (``FakeTime``: sleeping advances the clock and ends the
run after the polls a test asks for), or through the real :class:`~radar.sources.supervisor.Supervisor`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from radar.config import MastodonSettings, RadarConfig
from radar.matcher import Matcher
from radar.mention import Mention
from radar.sources.mastodon import MastodonError, MastodonSource, html_to_text, status_to_mention
from radar.sources.source import Source
from radar.sources.supervisor import Supervisor
from tests.mastodon_server import MastodonServer, render_content

CONFIG = RadarConfig.model_validate(
    {
        "streams": {
            "acme": {"keywords": ["Acme Air"], "hashtags": ["#AcmeAir"]},
            "globex": {"keywords": ["Globex"]},
        }
    }
)


@pytest.fixture
def server() -> Iterator[MastodonServer]:
    with MastodonServer(token="s3cret") as srv:
        yield srv


def settings(server: MastodonServer, **kw: Any) -> MastodonSettings:
    values: dict[str, Any] = {
        "enabled": True,
        "base_url": server.base_url,
        "tags": ("AcmeAir",),
        "poll_seconds": 5,
    }
    return MastodonSettings(**{**values, **kw})


class Done(Exception):
    """Raised by ``FakeTime`` to end a run after the polls asked for."""


class FakeTime:
    """A clock and a sleep: sleeping advances the clock. After each poll (the source's poll counter
    moved) the next ``between`` callback runs, or the run ends (``Done``) when none is left."""

    def __init__(self, between: Sequence[Callable[[], object]] = ()) -> None:
        self.now = time.time()
        self.sleeps: list[float] = []
        self.between = list(between)
        self.source: MastodonSource | None = None
        self._polls = 0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)
        assert self.source is not None
        polls = self.source.health.extra["polls"]
        if polls > self._polls:  # the sleep between two polls
            self._polls = polls
            if not self.between:
                raise Done
            self.between.pop(0)()


def make(server: MastodonServer, ft: FakeTime, **kw: Any) -> MastodonSource:
    token = kw.pop("token", None)
    source = MastodonSource(
        settings(server, **kw), Matcher(CONFIG), token=token, clock=ft.clock, sleep=ft.sleep
    )
    ft.source = source
    return source


def run(source: MastodonSource) -> list[Mention]:
    """Drive ``source.batches()`` until its ``FakeTime`` ends the run; every mention handed over."""

    async def go() -> list[Mention]:
        got: list[Mention] = []
        try:
            async for batch in source.batches():
                got.extend(batch)
        except Done:
            pass
        finally:
            await source.close()
        return got

    return asyncio.run(go())


def status_ids(mentions: Sequence[Mention]) -> list[str]:
    return [m.id.rsplit(":", 1)[1] for m in mentions]


# -- statuses to mentions --------------------------------------------------------------------------
def test_html_to_text_on_mastodon_markup() -> None:
    content = render_content(
        "Flight 12 cancelled @AcmeAir@acme.example, no refund #AcmeAir #fail\n"
        "details: https://news.example.com/2026/11/30/acme-air-cancels-everything\n\n"
        "Second paragraph & <stuff>",
        "https://mastodon.example",
    )
    assert html_to_text(content) == (
        "Flight 12 cancelled @AcmeAir, no refund #AcmeAir #fail\n"
        "details: https://news.example.com/2026/11/30/acme-air-cancels-everything\n\n"
        "Second paragraph & <stuff>"
    )
    remote = (
        "<p>It&#39;s   down&nbsp;again</p>\n<blockquote><p>quoted</p></blockquote>"
        "<ul><li>one</li><li>two</li></ul><p>a<br>b<br/>c</p><script>alert(1)</script>"
    )
    assert html_to_text(remote) == "It's down\xa0again\n\nquoted\n\none\ntwo\n\na\nb\nc"
    assert html_to_text("") == ""


def test_status_to_mention_fields_and_matching(server: MastodonServer) -> None:
    matcher = Matcher(CONFIG)
    status = server.post(
        "Lost my bag again, thanks Acme Air",
        acct="bob@other.example",
        followers=1200,
        reblogs=7,
        favourites=30,
        spoiler_text="travel rant",
        language="en",
    )
    m = status_to_mention(status, "mastodon.example", matcher)
    assert m is not None
    assert m.id == f"mastodon:mastodon.example:{status['id']}"
    assert m.streams == ("acme",)
    assert m.text == "travel rant\n\nLost my bag again, thanks Acme Air"
    assert (m.author, m.author_followers, m.reshares, m.likes, m.lang) == (
        "bob@other.example",
        1200,
        7,
        30,
        "en",
    )
    assert m.url == status["url"] and m.source == "mastodon"
    assert m.created_at == datetime.fromisoformat(status["created_at"].replace("Z", "+00:00"))

    # matched on its hashtags too (a hashtag the text does not show), on several streams at once
    tagged = server.post("Globex is hiring", tags=["acmeair"])
    assert status_to_mention(tagged, "h", matcher).streams == ("acme", "globex")  # type: ignore[union-attr]
    # nothing of any stream: not a mention
    assert status_to_mention(server.post("a quiet day at the beach"), "h", matcher) is None
    # a reblog is the status it reblogs; hidden counters (negative) are 0; no url: the uri
    inner = {**status, "url": None, "account": {**status["account"], "followers_count": -1}}
    boost = {**server.post("boost"), "reblog": inner}
    b = status_to_mention(boost, "h", matcher)
    assert b is not None and b.id == f"mastodon:h:{status['id']}"
    assert b.author_followers == 0 and b.url == status["uri"]
    # media only: no text, nothing to match, not malformed
    assert status_to_mention({**status, "content": "", "spoiler_text": ""}, "h", matcher) is None


# -- polling ----------------------------------------------------------------------------------------
def test_first_poll_takes_the_newest_page_then_pages_forward_without_gaps(server: MastodonServer) -> None:
    old = server.post_many(60, "old {i} #AcmeAir")
    burst: list[dict[str, Any]] = []
    ft = FakeTime(between=[lambda: burst.extend(server.post_many(100, "burst {i} #AcmeAir")), lambda: None])
    source = make(server, ft)
    got = run(source)

    ids = status_ids(got)
    expected = [s["id"] for s in old[-40:]] + [s["id"] for s in burst]
    assert ids == expected  # no backfill beyond the newest page, nothing missed, nothing twice, in order
    assert len(set(ids)) == len(ids) == 140
    calls = server.requests_to("/api/v1/timelines/tag/")
    assert [c.query.get("min_id") for c in calls] == [
        None,
        old[-1]["id"],
        burst[39]["id"],
        burst[79]["id"],
        burst[99]["id"],  # third poll: nothing new
    ]
    assert [c.count for c in calls] == [40, 40, 40, 20, 0]
    assert all(c.query["limit"] == "40" for c in calls)
    assert source.position() == {"min_id": {"#acmeair": burst[-1]["id"]}}
    assert source.health.events == 140 and source.health.malformed == 0
    assert ft.sleeps == [5.0, 5.0, 5.0]  # poll_seconds apart (the fake clock stands still meanwhile)


def test_statuses_of_no_stream_are_events_not_mentions(server: MastodonServer) -> None:
    server.post("Acme Air lost my bag #travel")
    server.post("Globex booth at the fair #travel")
    server.post("nice beach today #travel")
    ft = FakeTime()
    source = make(server, ft, tags=("#Travel",))
    got = run(source)
    assert [m.streams for m in got] == [("acme",), ("globex",)]
    assert source.health.events == 3 and source.health.malformed == 0
    assert server.requests_to("/api/v1/timelines/tag/travel")


def test_malformed_statuses_are_skipped_and_counted(server: MastodonServer) -> None:
    first = server.post("good one #AcmeAir")
    ft = FakeTime(between=[lambda: None])
    source = make(server, ft)

    def add_mixed() -> None:
        good = server.post("good two #AcmeAir")
        server.post_raw("not a status", ["acmeair"])
        server.post_raw({"id": "no/t an id", "content": "<p>#AcmeAir</p>"}, ["acmeair"])
        server.post_raw({**good, "id": "1", "created_at": "last tuesday"}, ["acmeair"])
        server.post_raw({**good, "id": "2", "account": "nobody"}, ["acmeair"])
        server.post_raw({**good, "id": "3", "content": 5}, ["acmeair"])
        server.post("good three #AcmeAir")

    ft.between.insert(0, add_mixed)
    got = run(source)
    assert [m.text for m in got] == ["good one #AcmeAir", "good two #AcmeAir", "good three #AcmeAir"]
    assert got[0].id.endswith(first["id"])
    assert source.health.malformed == 5
    assert source.health.events == 8
    newest = server.entries[-1].key
    assert source.position() == {"min_id": {"#acmeair": str(newest)}}


def test_rate_limit_headers_make_the_source_wait_for_the_reset(server: MastodonServer) -> None:
    ft = FakeTime(between=[lambda: server.post("after the reset #AcmeAir")])
    start = ft.now
    server.post("first #AcmeAir")
    server.set_rate_limit(remaining=2, reset=datetime.fromtimestamp(start + 42, UTC))
    source = make(server, ft)
    got = run(source)
    assert [m.text for m in got] == ["first #AcmeAir", "after the reset #AcmeAir"]
    # the pause between polls (5 s), then the rest of the way to the reset before the next request
    assert ft.sleeps[:2] == [5.0, pytest.approx(37.0, abs=0.01)]
    assert source.health.extra["rate_limit_waits"] == 1
    assert len(server.requests_to("/api/v1/")) == 2


def test_429_waits_retry_after_or_the_reset_and_retries(server: MastodonServer) -> None:
    server.post("one #AcmeAir")
    ft = FakeTime()
    server.fail_next(429, retry_after="7")
    server.fail_next(429)  # no Retry-After (as Mastodon answers): until X-RateLimit-Reset
    server.set_rate_limit(remaining=299, reset=datetime.fromtimestamp(ft.now + 100, UTC))  # the first 429
    server.set_rate_limit(remaining=0, reset=datetime.fromtimestamp(ft.now + 30, UTC))  # the second
    source = make(server, ft)
    got = run(source)
    assert [m.text for m in got] == ["one #AcmeAir"]
    assert ft.sleeps[:2] == [7.0, pytest.approx(23.0, abs=0.01)]  # 30 s reset, 7 s already waited
    assert [r.status for r in server.requests] == [429, 429, 200]
    assert source.health.extra["rate_limit_waits"] == 2


def test_429_that_never_ends_raises(server: MastodonServer) -> None:
    ft = FakeTime()
    server.fail_next(429, count=10, retry_after="1")
    source = make(server, ft)
    with pytest.raises(MastodonError, match="rate limited") as err:
        run(source)
    assert err.value.retryable


# -- under the supervisor ------------------------------------------------------------------------------
class Sink:
    """The supervisor's sink: keeps batches; optionally fails a number of times first."""

    def __init__(self, fail: int = 0) -> None:
        self.got: list[Mention] = []
        self.fail = fail
        self.lock = threading.Lock()

    def __call__(self, batch: Sequence[Any], name: str) -> None:
        with self.lock:
            if self.fail and batch:
                self.fail -= 1
                raise OSError("disk full")
            self.got.extend(batch)


def quick_sleep(seconds: float) -> Any:
    return asyncio.sleep(min(seconds, 0.02))


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


def supervised(
    server: MastodonServer, sink: Sink, *, positions: Any = None
) -> tuple[Supervisor, MastodonSource]:
    source = MastodonSource(settings(server), Matcher(CONFIG), sleep=quick_sleep)
    assert isinstance(source, Source)
    sup = Supervisor([source], sink, base=0.01, cap=0.05, positions=positions)
    return sup, source


def test_server_error_raises_and_the_supervisor_retries(server: MastodonServer) -> None:
    server.post_many(3, "before {i} #AcmeAir")
    server.fail_next(500)
    sink = Sink()
    sup, source = supervised(server, sink)
    sup.start()
    try:
        wait_for(lambda: len(sink.got) == 3)
        server.post_many(50, "later {i} #AcmeAir")
        wait_for(lambda: len(sink.got) == 53)
    finally:
        sup.stop()
    ids = [m.id for m in sink.got]
    assert len(set(ids)) == 53
    health = source.health
    assert health.errors == 1 and health.reconnects >= 1
    assert health.last_error is not None and "HTTP 500" in health.last_error
    assert server.requests[0].status == 500


def test_a_batch_the_sink_refused_is_fetched_again(server: MastodonServer) -> None:
    server.post_many(5, "s {i} #AcmeAir")
    sink = Sink(fail=1)
    sup, source = supervised(server, sink)
    sup.start()
    try:
        wait_for(lambda: len(sink.got) == 5)
        time.sleep(0.1)  # a few more polls: nothing else comes
    finally:
        sup.stop()
    assert sorted(m.text for m in sink.got) == [f"s {i} #AcmeAir" for i in range(5)]
    assert source.health.errors == 1


def test_restart_resumes_from_the_recorded_position(server: MastodonServer) -> None:
    server.post_many(45, "first run {i} #AcmeAir")
    sink = Sink()
    sup, _ = supervised(server, sink)
    sup.start()
    try:
        wait_for(lambda: len(sink.got) == 40)  # the newest page on the very first poll
        server.post_many(60, "more {i} #AcmeAir")
        wait_for(lambda: len(sink.got) == 100)
        newest = server.entries[-1].key
        # recorded once the sink has returned (a stop in between leaves the previous position)
        wait_for(lambda: sup.positions() == {"mastodon": {"min_id": {"#acmeair": str(newest)}}})
    finally:
        sup.stop()
    positions = sup.positions()

    # down for a while: 70 statuses arrive meanwhile, then a new process resumes
    server.post_many(70, "while down {i} #AcmeAir")
    seen = len(server.requests)
    sink2 = Sink()
    sup2, _ = supervised(server, sink2, positions=positions)
    sup2.start()
    try:
        wait_for(lambda: len(sink2.got) == 70)
        time.sleep(0.1)
    finally:
        sup2.stop()
    assert [m.text for m in sink2.got] == [f"while down {i} #AcmeAir" for i in range(70)]
    assert server.requests[seen].query.get("min_id") == str(newest)  # no refetch of what was taken
    assert not {m.id for m in sink.got} & {m.id for m in sink2.got}


# -- search --------------------------------------------------------------------------------------------
def test_search_with_a_token_sends_it_and_dedupes(server: MastodonServer) -> None:
    server.post("Acme Air kept us on the tarmac for 3 hours")  # no hashtag: only search finds it
    server.post("Acme Air strikes again #AcmeAir")  # in both the hashtag timeline and the search
    later: list[dict[str, Any]] = []
    ft = FakeTime(between=[lambda: later.extend(server.post_many(45, "Acme Air down {i}"))])
    source = make(server, ft, search=("acme air",), token="s3cret")
    got = run(source)

    texts = [m.text for m in got]
    assert texts[:2] == ["Acme Air strikes again #AcmeAir", "Acme Air kept us on the tarmac for 3 hours"]
    assert texts[2:] == [f"Acme Air down {i}" for i in range(45)]
    assert len({m.id for m in got}) == len(got) == 47
    assert source.health.extra["duplicates"] == 1
    searches = server.requests_to("/api/v2/search")
    assert all(r.headers.get("Authorization") == "Bearer s3cret" for r in searches)
    assert all(r.query["type"] == "statuses" and r.query["resolve"] == "false" for r in searches)
    assert [(r.query.get("min_id"), r.query.get("offset"), r.count) for r in searches] == [
        (None, None, 2),
        (server.entries[1].payload["id"], None, 40),
        (server.entries[1].payload["id"], "40", 5),
    ]
    assert source.position()["min_id"]["acme air"] == later[-1]["id"]


def test_search_ignoring_min_id_still_takes_each_status_once() -> None:
    with MastodonServer(token="s3cret", honour_search_min_id=False) as server:
        server.post_many(3, "Acme Air old {i}")
        ft = FakeTime(between=[lambda: server.post_many(50, "Acme Air new {i}"), lambda: None])
        source = make(server, ft, tags=(), search=("acme air",), token="s3cret")
        got = run(source)
    assert [m.text for m in got] == [f"Acme Air old {i}" for i in range(3)] + [
        f"Acme Air new {i}" for i in range(50)
    ]
    # second poll: the newest 40, then offset 40 reaches statuses taken before; third: the first page has them
    assert [r.count for r in server.requests_to("/api/v2/search")] == [3, 40, 13, 40]


def test_without_a_token_search_is_not_attempted_and_the_log_says_so_once(
    server: MastodonServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.post("Acme Air #AcmeAir")
    ft = FakeTime(between=[lambda: None])
    source = make(server, ft, search=("acme air", "globex"))
    with caplog.at_level(logging.WARNING, logger="radar.sources.mastodon"):
        assert len(run(source)) == 1
        ft.between = [lambda: None]
        run(source)  # restarted (as the supervisor does after a failure)
    assert not server.requests_to("/api/v2/search")
    assert server.requests_to("/api/v1/timelines/tag/acmeair")
    said = [r.getMessage() for r in caplog.records if "no access token" in r.getMessage()]
    assert said == [
        "mastodon: 2 search queries configured but no access token ($MASTODON_TOKEN): search is not polled"
    ]
    assert source.health.extra["search"] == "off: no token"


def test_search_refused_turns_search_off_but_not_the_hashtags(server: MastodonServer) -> None:
    server.post("Acme Air #AcmeAir")
    ft = FakeTime(between=[lambda: server.post("Acme Air again #AcmeAir")])
    server.fail_next(403, path="/api/v2/search")  # e.g. a token without the read:search scope
    source = make(server, ft, search=("acme air",), token="s3cret")
    got = run(source)
    assert [m.text for m in got] == ["Acme Air #AcmeAir", "Acme Air again #AcmeAir"]
    assert len(server.requests_to("/api/v2/search")) == 1  # not asked again
    assert source.health.extra["search"].startswith("off: HTTP 403")


def test_a_wrong_token_is_an_error_retrying_cannot_fix(server: MastodonServer) -> None:
    # Mastodon refuses an invalid token on every endpoint, public ones included
    server.post("Acme Air #AcmeAir")
    source = make(server, FakeTime(), search=("acme air",), token="wrong")
    with pytest.raises(MastodonError, match="HTTP 401") as err:
        run(source)
    assert not err.value.retryable


def test_settings_are_checked(server: MastodonServer) -> None:
    # the configuration refuses both when it is loaded; the source refuses them too (built by hand)
    with pytest.raises(ValueError, match=r"nothing to poll"):
        MastodonSource(settings(server, tags=()), Matcher(CONFIG))
    with pytest.raises(ValueError, match=r"base_url"):
        MastodonSource(settings(server, base_url="mastodon.social"), Matcher(CONFIG))
