"""Bluesky's Jetstream firehose as a live source: every new post, matched against the streams here.

Jetstream (github.com/bluesky-social/jetstream) serves the network's commits as JSON over a websocket.
:class:`JetstreamSource` subscribes to ``URL?wantedCollections=app.bsky.feed.post`` and receives every
post of the network (hundreds a second), plus the ``identity`` and ``account`` events every subscriber
gets. Matching happens on our side, with the radar's :class:`~radar.matcher.Matcher`; only posts that
match a stream become mentions. :func:`event_to_mention` is that step as a pure function:

>>> from radar.config import JetstreamSettings, RadarConfig
>>> from radar.matcher import Matcher
>>> matcher = Matcher(RadarConfig.model_validate(
...     {"streams": {"acme": {"keywords": ["Acme Air"], "handles": ["@acmeair.com"]}}}))
>>> event = {"did": "did:plc:eygmaihciaxprqvxpfvl6flk", "time_us": 1725911162329308, "kind": "commit",
...     "commit": {"rev": "3l3qo2vutsw2b", "operation": "create", "collection": "app.bsky.feed.post",
...         "rkey": "3l3qo2vuowo2b", "cid": "bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi",
...         "record": {"$type": "app.bsky.feed.post", "text": "3 hours on hold with @acmeair.com. Again.",
...                    "createdAt": "2024-09-09T19:46:02.102Z", "langs": ["en"]}}}
>>> m = event_to_mention(event, matcher, JetstreamSettings())
>>> m.id
'at://did:plc:eygmaihciaxprqvxpfvl6flk/app.bsky.feed.post/3l3qo2vuowo2b'
>>> m.streams, m.lang, m.created_at.isoformat()
(('acme',), 'en', '2024-09-09T19:46:02.102000+00:00')
>>> m.url
'https://bsky.app/profile/did:plc:eygmaihciaxprqvxpfvl6flk/post/3l3qo2vuowo2b'
>>> event["commit"]["record"]["text"] = "nothing to see"
>>> event_to_mention(event, matcher, JetstreamSettings()) is None
True

What is matched: the post's text, plus its hashtags that the text does not show (tag facets and the
record's ``tags``), plus the first label of every dotted handle it mentions (a mention of
``@acmeair.bsky.social`` or ``@acmeair.com`` also counts as ``@acmeair``, so a keyword ``acmeair``
or a handle rule ``@acmeair`` finds it as it would on other networks). The author's handle is not in
the event (only the DID), so handle rules match the ``@handle`` mentions in the text. Replies and quote
posts count when ``replies`` / ``quotes`` say so; updates, deletes and other collections never do.

The mention: ``id`` is the post's AT URI (``at://DID/app.bsky.feed.post/RKEY``, the same on every
replay), ``url`` its bsky.app link by DID (handles change, DIDs do not), ``created_at`` the post's
``createdAt`` unless that is later than when the network saw it (``time_us``), as Bluesky's own
``sortAt`` does, ``author`` the author's handle when known (else the DID) and ``author_followers``
the follower count, both looked up lazily from ``{profile_api}/xrpc/app.bsky.actor.getProfiles`` (up
to 25 authors a request; cached; a batch waits at most ``profile_timeout`` seconds for them, then
goes with 0 followers).

Batches: what arrived until ``max_batch`` mentions or ``max_wait`` seconds, whichever comes first; an
empty batch every ``max_wait`` seconds while only non-matching events arrive, so the position advances.
Position: ``{"cursor": time_us}`` of the last event of the last batch taken; a new connection asks
for ``cursor - resume_overlap_seconds`` and drops the replayed mentions it already handed over (after a
restart the radar's own de-duplication by id does that).

A malformed event (not JSON, missing or mistyped fields) is skipped and counted in
``health.malformed``; the connection stays. A failed connection raises (the supervisor restarts the
source with backoff); mentions received before the failure are handed over first.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect

from radar.config import JetstreamSettings
from radar.matcher import Matcher
from radar.mention import MAX_TEXT_CHARS, Mention
from radar.sources.source import SourceHealth

__all__ = ["JetstreamSource", "MalformedEvent", "event_to_mention"]

log = logging.getLogger(__name__)

POST = "app.bsky.feed.post"
_QUOTES = frozenset({"app.bsky.embed.record", "app.bsky.embed.recordWithMedia"})
_TAG = "app.bsky.richtext.facet#tag"
_DOTTED_HANDLE = re.compile(r"(?<![\w@])@([\w-]+)\.[\w.-]*\w")
_DECODER = json.JSONDecoder()
# how a commit to another collection looks on the wire (Jetstream writes compact JSON)
_OTHER_COLLECTION = b'"collection":"'
_COMMIT_KIND = b'"kind":"commit"'
_POST_MARK = b'"collection":"app.bsky.feed.post"'


class _Inbox:
    """What the reader task has received and the batch loop has not yet taken."""

    __slots__ = ("last", "mentions", "room", "wake")

    def __init__(self) -> None:
        self.mentions: list[Mention] = []
        self.last: int | None = None  # time_us of the last event read
        self.wake = asyncio.Event()  # a batch is full, or the reader ended
        self.room = asyncio.Event()  # the full batch was taken


class MalformedEvent(ValueError):
    """A Jetstream message that is not a valid event (skipped and counted, never fatal)."""


# -- one event -------------------------------------------------------------------------------------
def event_to_mention(
    event: Any, matcher: Matcher, settings: JetstreamSettings, *, source: str = "bluesky"
) -> Mention | None:
    """The mention that one decoded Jetstream event makes, or ``None`` when it makes none.

    ``None`` for everything but the creation of a post that matches a stream (and is not a reply or a
    quote the settings leave out). Raises :class:`MalformedEvent` when the event is not well formed.
    The mention carries no follower count and the DID as ``author`` (see :class:`JetstreamSource`).
    """
    return _convert(event, matcher, settings, source)[1]


def _convert(
    event: Any, matcher: Matcher, settings: JetstreamSettings, source: str
) -> tuple[int | None, Mention | None]:
    """``(time_us, mention or None)``; ``time_us`` is ``None`` for events without one (heartbeats)."""
    if type(event) is not dict:
        raise MalformedEvent(f"not a JSON object but {type(event).__name__}")
    kind = event.get("kind")
    if kind == "heartbeat":
        return None, None
    did, time_us = event.get("did"), event.get("time_us")
    if type(time_us) is not int or time_us <= 0:
        raise MalformedEvent(f"time_us: expected a positive integer, got {time_us!r:.40}")
    if type(did) is not str or not did.startswith("did:"):
        raise MalformedEvent(f"did: expected a DID, got {did!r:.80}")
    if kind != "commit":
        if type(kind) is not str:
            raise MalformedEvent(f"kind: expected a string, got {kind!r:.40}")
        return time_us, None  # identity, account, and kinds to come
    commit = event.get("commit")
    if type(commit) is not dict:
        raise MalformedEvent("commit: expected an object")
    collection, operation = commit.get("collection"), commit.get("operation")
    if type(collection) is not str or type(operation) is not str:
        raise MalformedEvent("commit: collection and operation must be strings")
    if collection != POST or operation != "create":
        return time_us, None
    return time_us, _post(did, time_us, commit, matcher, settings, source)


def _post(
    did: str, time_us: int, commit: dict[str, Any], matcher: Matcher, settings: JetstreamSettings, source: str
) -> Mention | None:
    rkey, record = commit.get("rkey"), commit.get("record")
    if type(rkey) is not str or not rkey:
        raise MalformedEvent("commit.rkey: expected a non-empty string")
    if type(record) is not dict:
        raise MalformedEvent("commit.record: expected an object")
    text, created = record.get("text"), record.get("createdAt")
    if type(text) is not str:
        raise MalformedEvent("record.text: expected a string")
    if type(created) is not str:
        raise MalformedEvent("record.createdAt: expected a string")
    if not text or text.isspace():
        return None  # images only: nothing to match, nothing to score
    matched = matcher.match(_match_text(text, record))
    if not matched:
        return None
    reply, embed = record.get("reply"), record.get("embed")
    if reply is not None and type(reply) is not dict:
        raise MalformedEvent("record.reply: expected an object")
    if embed is not None and type(embed) is not dict:
        raise MalformedEvent("record.embed: expected an object")
    if reply is not None and not settings.replies:
        return None
    if embed is not None and not settings.quotes and _is_quote(embed):
        return None
    langs = record.get("langs")
    lang = langs[0] if type(langs) is list and langs and type(langs[0]) is str else ""
    seen = datetime.fromtimestamp(time_us / 1e6, UTC)
    try:
        return Mention(
            id=f"at://{did}/{POST}/{rkey}",
            created_at=min(_timestamp(created) or seen, seen),
            text=text[:MAX_TEXT_CHARS],
            source=source,
            author=did,
            lang=lang[:64],
            url=f"https://bsky.app/profile/{did}/post/{rkey}",
            stream=matched,
        )
    except ValidationError as exc:  # e.g. an id beyond 512 characters
        raise MalformedEvent(f"not a valid mention: {exc.errors(include_url=False)[0]['msg']}") from None


def _match_text(text: str, record: dict[str, Any]) -> str:
    """The text the matcher sees: the post's, plus hidden hashtags and short forms of dotted handles."""
    extra: list[str] = []
    if "@" in text:
        extra.extend("@" + m.group(1) for m in _DOTTED_HANDLE.finditer(text))
    tags: list[str] = []
    facets = record.get("facets")
    if type(facets) is list:
        for facet in facets:
            features = facet.get("features") if type(facet) is dict else None
            if type(features) is list:
                for feature in features:
                    if type(feature) is dict and feature.get("$type") == _TAG:
                        tag = feature.get("tag")
                        if type(tag) is str:
                            tags.append(tag)
    own = record.get("tags")
    if type(own) is list:
        tags.extend(t for t in own if type(t) is str)
    if tags:
        lowered = text.lower()
        extra.extend("#" + t for t in tags if "#" + t.lower() not in lowered)
    return f"{text}\n{' '.join(extra)}" if extra else text


def _is_quote(embed: dict[str, Any]) -> bool:
    """Whether the embed quotes a post (not a feed, list or starter pack)."""
    if embed.get("$type") not in _QUOTES:
        return False
    inner = embed.get("record")
    if type(inner) is dict and type(inner.get("record")) is dict:  # recordWithMedia nests it once more
        inner = inner["record"]
    uri = inner.get("uri") if type(inner) is dict else None
    return type(uri) is not str or f"/{POST}/" in uri


def _timestamp(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return None
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return None


# -- profiles --------------------------------------------------------------------------------------
class _Profiles:
    """Follower counts and handles by DID: looked up in the background, cached (LRU with a TTL).

    Lookups are batched: the DIDs started while the event loop is busy go together, up to
    ``BATCH`` per ``app.bsky.actor.getProfiles`` request (the lexicon's limit), at most
    ``concurrency`` requests at a time. A DID the answer leaves out (deleted, deactivated, not
    indexed yet) and the DIDs of a request refused with 400 are cached as unknown for
    ``failure_ttl`` seconds; after five failed requests in a row (5xx, 429, network) no lookup is
    made for ``failure_ttl`` seconds: the API is down or wants us to slow down, and mentions go with
    0 followers rather than wait.
    """

    #: ``actors`` per ``getProfiles`` request: the lexicon's ``maxLength``.
    BATCH = 25

    def __init__(
        self,
        api: str,
        http: httpx.AsyncClient | None,
        *,
        ttl: float,
        failure_ttl: float,
        capacity: int,
        concurrency: int = 4,
    ) -> None:
        self.endpoint = api.rstrip("/") + "/xrpc/app.bsky.actor.getProfiles"
        self.http, self._owns_http = http, http is None
        self.ttl, self.failure_ttl, self.capacity = ttl, failure_ttl, capacity
        self._cache: OrderedDict[str, tuple[float, int, str]] = OrderedDict()  # did -> (expires, n, handle)
        self._waiting: dict[str, asyncio.Future[None]] = {}  # did -> done when its lookup ends
        self._queue: list[str] = []  # started, not requested yet
        self._requests: set[asyncio.Task[None]] = set()
        self._drainer: asyncio.Task[None] | None = None
        self._concurrency = concurrency
        self._slots: asyncio.Semaphore | None = None
        self._failing = 0
        self._down_until = 0.0
        self.requests = 0  # HTTP requests made
        self.failures = 0  # DIDs whose lookup failed or found no profile

    def known(self, did: str) -> tuple[int, str] | None:
        """``(followers, handle)`` if cached and fresh (``handle`` may be empty: unknown)."""
        entry = self._cache.get(did)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            del self._cache[did]
            return None
        self._cache.move_to_end(did)
        return entry[1], entry[2]

    def start(self, did: str) -> None:
        """Begin looking ``did`` up, unless cached, in flight, or the API is down."""
        if did in self._waiting or self.known(did) is not None or time.monotonic() < self._down_until:
            return
        loop = asyncio.get_running_loop()
        self._waiting[did] = loop.create_future()
        self._queue.append(did)
        if self._drainer is None or self._drainer.done():
            self._drainer = loop.create_task(self._drain())

    async def wait(self, dids: Iterable[str], timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the lookups of ``dids`` in flight."""
        pending = {self._waiting[d] for d in dids if d in self._waiting}
        if pending and timeout > 0:
            await asyncio.wait(pending, timeout=timeout)

    def learn_handle(self, did: str, handle: str) -> None:
        """An identity event told us ``did``'s new handle."""
        entry = self._cache.get(did)
        if entry is not None and handle:
            self._cache[did] = (entry[0], entry[1], handle)

    async def _drain(self) -> None:
        """Send the queued DIDs, ``BATCH`` per request, as request slots free up."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._concurrency)
        await asyncio.sleep(0)  # the rest of what arrived with the first DID joins its request
        while self._queue:
            await self._slots.acquire()
            batch, self._queue = self._queue[: self.BATCH], self._queue[self.BATCH :]
            if not batch:  # taken while waiting for a slot (close)
                self._slots.release()
                break
            task = asyncio.get_running_loop().create_task(self._lookup(batch, self._slots))
            self._requests.add(task)
            task.add_done_callback(self._requests.discard)

    async def _lookup(self, dids: list[str], slots: asyncio.Semaphore) -> None:
        try:
            if self.http is None:
                self.http = httpx.AsyncClient(timeout=5.0, headers={"user-agent": "crisis-radar"})
            self.requests += 1
            response = await self.http.get(self.endpoint, params=[("actors", d) for d in dids])
            if response.status_code == 400:  # refused (a malformed identifier): no profiles
                self._failing = 0
                self._not_found(dids)
                return
            response.raise_for_status()
            found = self._read(response.json(), set(dids))
            self._not_found([d for d in dids if d not in found])
            self._failing = 0
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an unreachable or unhappy API costs the follower count, nothing else
            self._failing += 1
            log.debug("profiles of %d DIDs: %s", len(dids), exc)
            self._not_found(dids)
            if self._failing >= 5:
                log.warning(
                    "profile API %s failing (%s): no lookups for %.0f s", self.endpoint, exc, self.failure_ttl
                )
                self._down_until = time.monotonic() + self.failure_ttl
                self._failing = 0
        finally:
            slots.release()
            for did in dids:
                done = self._waiting.pop(did, None)
                if done is not None and not done.done():
                    done.set_result(None)

    def _read(self, body: Any, asked: set[str]) -> set[str]:
        """Cache the profiles of a ``getProfiles`` answer; returns the DIDs it held."""
        profiles = body.get("profiles") if type(body) is dict else None
        if type(profiles) is not list:
            raise ValueError("getProfiles answer without a profiles list")
        found: set[str] = set()
        for profile in profiles:
            did = profile.get("did") if type(profile) is dict else None
            if type(did) is not str or did not in asked:
                continue
            followers, handle = profile.get("followersCount"), profile.get("handle")
            count = followers if type(followers) is int and followers >= 0 else 0
            name = handle if type(handle) is str and handle != "handle.invalid" else ""
            self._remember(did, self.ttl, count, name)
            found.add(did)
        return found

    def _not_found(self, dids: list[str]) -> None:
        self.failures += len(dids)
        for did in dids:
            self._remember(did, self.failure_ttl, 0, "")

    def _remember(self, did: str, ttl: float, followers: int, handle: str) -> None:
        self._cache[did] = (time.monotonic() + ttl, followers, handle)
        self._cache.move_to_end(did)
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)

    def __len__(self) -> int:
        return len(self._cache)

    async def close(self) -> None:
        tasks = [t for t in (self._drainer, *self._requests) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._requests.clear()
        self._drainer = None
        self._queue.clear()
        for done in self._waiting.values():
            if not done.done():
                done.cancel()
        self._waiting.clear()
        self._slots = None  # bound to this event loop; a restart may run in another
        if self._owns_http and self.http is not None:
            await self.http.aclose()
            self.http = None


# -- the source ------------------------------------------------------------------------------------
class JetstreamSource:
    """Posts from Bluesky's Jetstream that match the configured streams (see the module doc).

    Parameters
    ----------
    settings
        ``[sources.jetstream]``: the websocket ``url``, ``profile_api``, ``replies``, ``quotes``,
        ``resume_overlap_seconds``.
    matcher
        The radar's matcher (the streams to find).
    name
        The source's name, also the ``source`` field of its mentions.
    clock
        Wall clock (epoch seconds) for ``health.last_event_at``.
    http
        Client for profile lookups (made, and closed by :meth:`close`, when not given).
    max_batch, max_wait
        A batch is handed over at ``max_batch`` mentions or after ``max_wait`` seconds.
    profile_timeout
        Seconds a batch waits at most for its authors' profiles.
    profile_ttl, failure_ttl, profile_capacity
        How long a profile (a failed lookup) stays cached; how many are kept.
    """

    def __init__(
        self,
        settings: JetstreamSettings,
        matcher: Matcher,
        *,
        name: str = "jetstream",
        clock: Callable[[], float] = time.time,
        http: httpx.AsyncClient | None = None,
        max_batch: int = 200,
        max_wait: float = 0.5,
        profile_timeout: float = 1.0,
        profile_ttl: float = 6 * 3600.0,
        failure_ttl: float = 60.0,
        profile_capacity: int = 100_000,
    ) -> None:
        if not name:
            raise ValueError("name: must not be empty")
        if not settings.url.startswith(("ws://", "wss://")):
            raise ValueError(f"settings.url: {settings.url!r} is not a ws:// or wss:// URL")
        if max_batch < 1:
            raise ValueError(f"max_batch: {max_batch} must be at least 1")
        if not max_wait > 0:
            raise ValueError(f"max_wait: {max_wait} must be positive")
        if profile_timeout < 0:
            raise ValueError(f"profile_timeout: {profile_timeout} must not be negative")
        if profile_ttl <= 0 or failure_ttl <= 0:
            raise ValueError("profile_ttl and failure_ttl must be positive")
        if profile_capacity < 1:
            raise ValueError(f"profile_capacity: {profile_capacity} must be at least 1")
        self.settings = settings
        self.matcher = matcher
        self.name = name
        self.clock = clock
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.profile_timeout = profile_timeout
        self.health = SourceHealth(name)
        self.profiles = _Profiles(
            settings.profile_api, http, ttl=profile_ttl, failure_ttl=failure_ttl, capacity=profile_capacity
        )
        self._acked: int | None = None  # time_us of the last event of the last batch taken
        self._offered: int | None = None  # ... of the batch handed over and not yet taken
        self._recent: OrderedDict[str, int] = OrderedDict()  # ids handed over in the overlap -> time_us
        self._duplicates = 0

    # -- Source protocol -------------------------------------------------------------------------
    def position(self) -> dict[str, Any]:
        """``{"cursor": time_us}`` of the last event of the last batch handed over (``{}`` before one)."""
        return {} if self._offered is None else {"cursor": self._offered}

    def resume(self, position: dict[str, Any]) -> None:
        """Start the next connection from ``position`` (minus the overlap); a bad one is ignored."""
        cursor = position.get("cursor") if isinstance(position, dict) else None
        if type(cursor) is not int or cursor <= 0:
            log.warning("source %s: ignoring unusable position %r", self.name, position)
            return
        self._acked = self._offered = cursor

    def subscribe_url(self) -> str:
        """The websocket URL of the next connection (with the resume cursor, if any)."""
        params: list[tuple[str, str | int]] = [("wantedCollections", POST)]
        if self._acked is not None:
            overlap = round(self.settings.resume_overlap_seconds * 1_000_000)
            params.append(("cursor", max(1, self._acked - overlap)))
        url = self.settings.url
        return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"

    async def batches(self) -> AsyncIterator[list[Mention]]:
        """Connect, then yield batches of mentions until the connection fails (then raise)."""
        self._offered = self._acked
        url = self.subscribe_url()
        health = self.health
        async with connect(
            url,
            compression=None,  # posts only: little bandwidth, and inflating would cost CPU per message
            max_size=8 * 2**20,
            max_queue=64,
            open_timeout=15,
            ping_interval=20,
            ping_timeout=20,
            close_timeout=2,
        ) as ws:
            health.connected = True
            log.info("source %s: connected to %s", self.name, url)
            try:
                async with aclosing(self._read(ws)) as batches:
                    async for batch in batches:
                        yield batch
            finally:
                health.connected = False

    async def _read(self, ws: ClientConnection) -> AsyncGenerator[list[Mention], None]:
        """Batches of what a reader task receives; the reader pauses while a full batch waits."""
        state = _Inbox()
        reader = asyncio.get_running_loop().create_task(self._receive(ws, state))
        recent = self._recent
        try:
            while True:
                if not reader.done() and len(state.mentions) < self.max_batch:
                    state.wake.clear()
                    try:
                        await asyncio.wait_for(state.wake.wait(), self.max_wait)
                    except TimeoutError:
                        pass
                pending, last = state.mentions, state.last
                state.mentions, state.last = [], None
                state.room.set()
                if pending or last is not None:
                    batch = await self._complete(pending)  # the reader goes on meanwhile
                    if last is not None:
                        self._offered = last
                    self.health.extra.update(self._figures())
                    yield batch  # the supervisor journals it, records position(), then asks for more
                    if last is not None:  # taken: the next connection resumes after it
                        self._acked = last
                        for mention in batch:
                            recent[mention.id] = last
                        self._forget(last)
                if reader.done() and not state.mentions and state.last is None:
                    reader.result()  # raises why the connection ended
                    raise ConnectionError("the connection ended")
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _receive(self, ws: ClientConnection, state: _Inbox) -> None:
        """Read events until the connection fails: count them, match posts, queue the mentions."""
        health, clock, decode = self.health, self.clock, _DECODER.decode
        convert, matcher, settings, name = _convert, self.matcher, self.settings, self.name
        recent, profiles, max_batch = self._recent, self.profiles, self.max_batch
        try:
            while True:
                if len(state.mentions) >= max_batch:
                    state.wake.set()
                    state.room.clear()
                    await state.room.wait()
                raw = await ws.recv(decode=False)
                if isinstance(raw, str):  # never with decode=False; for the type checker
                    raw = raw.encode()
                health.events += 1
                health.last_event_at = clock()
                if _OTHER_COLLECTION in raw and _COMMIT_KIND in raw and _POST_MARK not in raw:
                    # a commit to another collection (likes, follows... if the subscription is wider):
                    # skipped on its bytes, only its time_us read
                    at = raw.find(b'"time_us":', 0, 200)
                    end = raw.find(b",", at + 10, at + 40) if at > 0 else -1
                    if end > 0 and raw[at + 10 : end].isdigit():
                        state.last = int(raw[at + 10 : end])
                        continue
                try:
                    event = decode(raw.decode())
                    time_us, mention = convert(event, matcher, settings, name)
                except (ValueError, RecursionError):  # MalformedEvent, JSON and UTF-8 errors
                    health.malformed += 1
                    continue
                if time_us is None:
                    continue
                state.last = time_us
                if mention is not None:
                    if mention.id in recent:  # replayed by the overlap, handed over already
                        self._duplicates += 1
                    else:
                        state.mentions.append(mention)
                        profiles.start(mention.author)
                        if len(state.mentions) >= max_batch:
                            state.wake.set()
                elif event.get("kind") == "identity":
                    self._identity(event)
        finally:
            state.wake.set()

    async def close(self) -> None:
        """Cancel profile lookups and close the HTTP client if it is ours."""
        await self.profiles.close()

    # -- helpers ---------------------------------------------------------------------------------
    async def _complete(self, pending: list[Mention]) -> list[Mention]:
        """The batch with authors' handles and follower counts (those known within the timeout)."""
        if not pending:
            return pending
        profiles = self.profiles
        await profiles.wait({m.author for m in pending}, self.profile_timeout)
        out = []
        for mention in pending:
            known = profiles.known(mention.author)
            if known is not None and (known[0] or known[1]):
                update: dict[str, Any] = {"author_followers": known[0]}
                if known[1]:
                    update["author"] = known[1]
                mention = mention.model_copy(update=update)
            out.append(mention)
        return out

    def _identity(self, event: dict[str, Any]) -> None:
        identity = event.get("identity")
        if type(identity) is dict and type(identity.get("handle")) is str:
            self.profiles.learn_handle(event["did"], identity["handle"])

    def _forget(self, newest: int) -> None:
        """Drop remembered ids older than the overlap a reconnection replays."""
        horizon = newest - round(self.settings.resume_overlap_seconds * 1_000_000) - 1_000_000
        recent = self._recent
        while recent:
            first = next(iter(recent))
            if recent[first] >= horizon and len(recent) <= 200_000:
                break
            del recent[first]

    def _figures(self) -> dict[str, Any]:
        return {
            "cursor": self._offered,
            "duplicates": self._duplicates,
            "profiles_cached": len(self.profiles),
            "profile_requests": self.profiles.requests,
            "profile_failures": self.profiles.failures,
        }
