"""Mastodon: polls hashtag timelines (and, with a token, searches) of one server for mentions.

Every ``poll_seconds`` the source asks the server, for each configured hashtag,
``GET /api/v1/timelines/tag/:hashtag?min_id=X&limit=40``. With ``min_id`` Mastodon answers the 40
statuses *immediately newer* than ``X`` (newest first), so paging forward with the newest id seen
(the ``min_id`` of the ``Link: rel="prev"`` header) until a page comes back empty or short takes every
status exactly once, however many arrived between two polls. A poll stops after ``MAX_PAGES`` pages
and the next one carries on from there: a burst is delayed, never skipped.

First poll of a hashtag (no position yet): the newest page only (up to 40 statuses) is taken, and its
newest id becomes the starting point; older history is *not* backfilled, because the radar learns
"normal" from live traffic and a backlog of hours-old posts would land in closed buckets anyway.
A hashtag with no statuses at all starts from id ``0``: whatever arrives later is all new.

Searches (``search`` queries, ``GET /api/v2/search?type=statuses``) need an access token
(``$MASTODON_TOKEN``, sent as ``Authorization: Bearer``, which then also goes with the timeline
requests). Without one they are skipped, and the log says so once. The server orders status search
results newest first and treats ``min_id`` as a coarse date filter, so search pages by ``offset``
until it reaches the newest id taken before, keeps only newer ids, and commits its position once the
whole query is read. Statuses are de-duplicated by id across hashtags and queries.

Each status becomes a :class:`~radar.mention.Mention` (see :func:`status_to_mention`) of the streams
the radar's :class:`~radar.matcher.Matcher` finds in its text and hashtags; a status of no stream is
counted in ``health.events`` and dropped. A malformed status is counted in ``health.malformed`` and
skipped; the rest of its page goes in. Every answered request sets ``health.last_event_at``: a quiet
hashtag is not a silent source (the radar treats a silent source's buckets as missing); the time of
the last status is in ``health.extra["last_status_at"]``.

Rate limits: when ``X-RateLimit-Remaining`` falls to ``RATE_LIMIT_RESERVE`` of ``X-RateLimit-Limit``
the next request waits until ``X-RateLimit-Reset`` (ISO 8601, as Mastodon sends it; epoch seconds are
accepted too). A 429 waits ``Retry-After`` (or until the reset) and retries, up to ``MAX_429``
times. A 5xx, a transport error, a non-JSON answer or another 4xx raises :class:`MastodonError`
(or the ``httpx`` error): the :class:`~radar.sources.supervisor.Supervisor` restarts the source with
backoff, and the next connection continues from the last position handed over.

Positions: ``{"min_id": {"#tag": "id", "query": "id"}}``. A position advances when the batch before it
has been taken: the supervisor asks for :meth:`MastodonSource.position` only after its sink
returned, and a batch whose sink failed is fetched again by the next connection.

Why an asyncio loop and not an APScheduler job: the supervisor already runs each source as an async
iterator on its own event loop and ties the recording of positions to the hand-over of each batch. A
scheduler job would poll in another thread and need a queue back into that iterator, and a second
place that restarts and backs off. One ``sleep`` between polls in :meth:`MastodonSource.batches`
gives what ``coalesce=True, max_instances=1`` would: polls never overlap, and a poll that overruns
is followed by one poll at once, not by a burst of missed ones.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from radar.config import MastodonSettings
from radar.matcher import Matcher
from radar.mention import Mention, MentionError, parse_mention
from radar.sources.source import SourceHealth

__all__ = ["MastodonError", "MastodonSource", "html_to_text", "status_to_mention"]

log = logging.getLogger(__name__)

#: Statuses asked for per request (Mastodon's maximum for timelines and searches).
PAGE = 40
#: Pages read per hashtag or query in one poll; the rest waits for the next poll (nothing is skipped).
MAX_PAGES = 25
#: Share of ``X-RateLimit-Limit`` kept in reserve: at or below it, wait for the reset.
RATE_LIMIT_RESERVE = 0.05
#: Longest wait for a rate limit reset (a bad header must not stall the source for a day).
MAX_WAIT = 900.0
#: 429 answers retried in a row before giving up (raising).
MAX_429 = 3
#: Status ids remembered to drop the same status seen by two hashtags or queries.
RECENT_IDS = 20_000

_ID = re.compile(r"^[0-9A-Za-z]{1,64}$")  # Mastodon's numeric ids; Pleroma-style flake ids


class MastodonError(RuntimeError):
    """A Mastodon server answered with something the source cannot use.

    ``retryable`` says whether trying again later can help (server errors, rate limits) or not
    (a 4xx such as 401 for a bad token).
    """

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


# -- statuses to mentions ---------------------------------------------------------------------------
_BLOCKS = frozenset({"p", "blockquote", "pre", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "div"})
_SKIP = frozenset({"script", "style"})
_SPACE = re.compile(r"[ \t\r\n\f]+")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._pre = 0

    def _break(self, mark: str) -> None:
        self.parts.append(mark)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag in ("br", "li"):
            self._break("\n")
        elif tag in _BLOCKS:
            self._break("\n\n")
            if tag == "pre":
                self._pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._break("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            self._break("\n\n")
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.parts.append(data if self._pre else _SPACE.sub(" ", data))

    def text(self) -> str:
        lines = [line.strip(" ") for line in "".join(self.parts).split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> str:
    """The plain text of a status's HTML ``content``.

    Paragraphs are separated by a blank line, ``<br>`` becomes a newline, links become their text
    (Mastodon's hidden ``invisible`` spans included, so a shortened URL comes out whole), entities
    are unescaped and HTML whitespace is collapsed.

    >>> html_to_text('<p>Delayed <b>again</b> &amp; again</p><p>Thanks '
    ...              '<span class="h-card"><a href="https://x.example/@acme" class="u-url mention">'
    ...              '@<span>acme</span></a></span><br />2h on the tarmac</p>')
    'Delayed again & again\\n\\nThanks @acme\\n2h on the tarmac'
    >>> html_to_text('<p><a href="https://x.example/tags/acmeair" class="mention hashtag" rel="tag">'
    ...              '#<span>AcmeAir</span></a> <a href="https://example.com/a/very/long/path">'
    ...              '<span class="invisible">https://</span><span class="ellipsis">example.com/a/very</span>'
    ...              '<span class="invisible">/long/path</span></a></p>')
    '#AcmeAir https://example.com/a/very/long/path'
    >>> html_to_text("<p>a\\n  b</p>\\n<p>&lt;3 &quot;c&quot;</p>")
    'a b\\n\\n<3 "c"'
    """
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return parser.text()


def _count(value: Any) -> Any:
    """Counters as Mastodon sends them; a negative one (hidden counts) is 0."""
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return 0
    return value


def _status_id(status: Any) -> str | None:
    """The id of a status-like object, or ``None`` when it has no usable id."""
    if not isinstance(status, dict):
        return None
    raw = status.get("id")
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return str(raw)
    if isinstance(raw, str) and _ID.match(raw):
        return raw
    return None


def _id_key(status_id: str) -> tuple[int, str]:
    """Order of ids: numeric strings (and fixed-width flake ids) sort by length, then text."""
    return len(status_id), status_id


def _newer(a: str, b: str | None) -> bool:
    return b is None or _id_key(a) > _id_key(b)


def status_to_mention(
    status: Any, host: str, matcher: Matcher, now: datetime | None = None
) -> Mention | None:
    """The mention a Mastodon ``Status`` makes, ``None`` when it matches no stream.

    Raises :class:`~radar.mention.MentionError` when the status is malformed (no id, a bad
    ``created_at``, content that is not text ...). A reblog is taken as the status it reblogs.
    ``now`` bounds how far in the future ``created_at`` may be (``None``: no bound).

    >>> from radar.config import RadarConfig
    >>> matcher = Matcher(RadarConfig.model_validate({"streams": {"acme": {"keywords": ["Acme Air"]}}}))
    >>> status = {"id": "113", "created_at": "2026-03-04T09:15:02.000Z", "language": "en",
    ...           "content": "<p>Stuck at the gate again, thanks Acme Air</p>", "spoiler_text": "rant",
    ...           "url": "https://mastodon.example/@ann/113", "reblogs_count": 4, "favourites_count": 9,
    ...           "account": {"acct": "ann@other.example", "followers_count": 120}, "tags": []}
    >>> m = status_to_mention(status, "mastodon.example", matcher)
    >>> m.id, m.streams, m.text, m.author, m.author_followers, m.reshares, m.likes, m.source
    ('mastodon:mastodon.example:113', ('acme',), 'rant\\n\\nStuck at the gate again, thanks Acme Air', \
'ann@other.example', 120, 4, 9, 'mastodon')
    >>> status_to_mention({**status, "content": "<p>lovely day</p>", "spoiler_text": ""}, "x", matcher)
    >>> status_to_mention({**status, "created_at": "yesterday"}, "x", matcher)
    Traceback (most recent call last):
    ...
    radar.mention.MentionError: created_at: not an ISO 8601 timestamp: 'yesterday'
    """
    if not isinstance(status, dict):
        raise MentionError("wrong_type", "status: expected a JSON object")
    if isinstance(status.get("reblog"), dict):
        status = status["reblog"]
    status_id = _status_id(status)
    if status_id is None:
        raise MentionError("missing_field", "id: missing or not an id", "id")
    content = status.get("content") or ""
    spoiler = status.get("spoiler_text") or ""
    if not isinstance(content, str) or not isinstance(spoiler, str):
        raise MentionError("wrong_type", "content: expected a string", "content")
    account = status.get("account") or {}
    tags = status.get("tags") or []
    if not isinstance(account, dict) or not isinstance(tags, list):
        raise MentionError("wrong_type", "account, tags: expected an object and a list", "account")
    text = html_to_text(content)
    spoiler = spoiler.strip()
    if spoiler:
        text = f"{spoiler}\n\n{text}" if text else spoiler
    if not text:
        return None  # media only: nothing a stream can match
    mention = parse_mention(
        {
            "id": f"mastodon:{host}:{status_id}",
            "created_at": status.get("created_at"),
            "text": text,
            "source": "mastodon",
            "author": account.get("acct"),
            "author_followers": _count(account.get("followers_count")),
            "reshares": _count(status.get("reblogs_count")),
            "likes": _count(status.get("favourites_count")),
            "lang": status.get("language"),
            "url": status.get("url") or status.get("uri"),
        },
        now,
    )
    names = [t["name"] for t in tags if isinstance(t, dict) and isinstance(t.get("name"), str)]
    streams = matcher.match(" ".join([text, *(f"#{name}" for name in names)]))
    return mention.with_streams(streams) if streams else None


# -- the source ---------------------------------------------------------------------------------
@dataclass
class _Page:
    """What one request (or one whole search query) gave: mentions and where to resume after them."""

    key: str
    cursor: str | None
    mentions: list[Mention] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)


class MastodonSource:
    """Polls one Mastodon server's hashtag timelines (and searches) for mentions (see the module doc).

    Parameters
    ----------
    settings
        ``[sources.mastodon]``: ``base_url``, ``tags``, ``search``, ``poll_seconds``.
    matcher
        The radar's matcher: a status becomes a mention of the streams it matches.
    name
        The source's name (health, positions, log).
    token
        An access token (``$MASTODON_TOKEN``): enables ``search`` and is sent with every request.
    clock
        Wall clock, epoch seconds (rate limit resets, health times, the future bound of mentions).
    http
        An ``httpx.AsyncClient`` to use (not closed by :meth:`close`); by default the source makes
        its own.
    sleep
        ``async (seconds)``: how the source waits between polls and for rate limits.
    """

    def __init__(
        self,
        settings: MastodonSettings,
        matcher: Matcher,
        *,
        name: str = "mastodon",
        token: str | None = None,
        clock: Callable[[], float] = time.time,
        http: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        parts = urlsplit(settings.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"settings.base_url: {settings.base_url!r} is not an http(s) URL")
        if not settings.tags and not settings.search:
            raise ValueError("settings.tags: no hashtags (and no search queries) to poll")
        if not settings.poll_seconds > 0:
            raise ValueError(f"settings.poll_seconds: {settings.poll_seconds} must be positive")
        self.settings = settings
        self.matcher = matcher
        self.name = name
        self.token = token
        self.clock = clock
        self.http = http
        self.sleep = sleep
        self.health = SourceHealth(name)
        self.host = parts.hostname
        self._base = settings.base_url.rstrip("/")
        self._tags = tuple(dict.fromkeys(t.strip().lstrip("#").lower() for t in settings.tags if t.strip()))
        self._queries = tuple(dict.fromkeys(q.strip() for q in settings.search if q.strip()))
        self._search_on = bool(self._queries and token)
        self._search_said = False
        self._client: httpx.AsyncClient | None = None
        self._cursor: dict[str, str] = {}  # where the next connection starts (batches taken)
        self._pending: dict[str, str] = {}  # including the batch handed over last
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._not_before: float | None = None  # wait for a rate limit reset before the next request
        self.health.extra.update(
            polls=0, requests=0, rate_limit_waits=0, duplicates=0, last_status_at=None, search=""
        )
        if self._queries:
            self.health.extra["search"] = "on" if self._search_on else "off: no token"

    # -- the Source protocol ---------------------------------------------------------------------
    def position(self) -> dict[str, Any]:
        """``{"min_id": {"#tag" or query: newest status id taken}}``."""
        return {"min_id": dict(self._pending)}

    def resume(self, position: dict[str, Any]) -> None:
        """Continue from ``position`` (as :meth:`position` gave it); ids that make no sense are ignored."""
        ids = position.get("min_id") if isinstance(position, dict) else None
        if not isinstance(ids, dict):
            log.warning(
                "%s: position %r has no min_id map: starting from the newest statuses", self.name, position
            )
            return
        for key, value in ids.items():
            if isinstance(key, str) and isinstance(value, str) and _ID.match(value):
                self._cursor[key] = value
            else:
                log.warning("%s: ignoring position %r: %r", self.name, key, value)
        self._pending = dict(self._cursor)

    async def close(self) -> None:
        """Close the HTTP client the source made (one given to it stays open)."""
        client, self._client = self._client, None
        if client is not None and client is not self.http:
            await client.aclose()

    async def batches(self) -> AsyncIterator[Sequence[Mention]]:
        """Poll every ``poll_seconds`` and yield each page's mentions (an empty batch when none)."""
        self._pending = dict(self._cursor)  # a batch handed over but not taken is fetched again
        if self._queries and not self._search_on and not self._search_said:
            self._search_said = True
            log.warning(
                "%s: %d search quer%s configured but no access token ($MASTODON_TOKEN): search is not polled",
                self.name,
                len(self._queries),
                "y" if len(self._queries) == 1 else "ies",
            )
        while True:
            started = self.clock()
            seen: set[str] = set()
            async for page in self._poll(seen):
                if page.cursor is not None:
                    self._pending[page.key] = page.cursor
                yield page.mentions
                # resumed: the supervisor took the batch, so the next connection starts after it
                if page.cursor is not None:
                    self._cursor[page.key] = page.cursor
                self._remember(page.ids)
            self.health.extra["polls"] += 1
            await self.sleep(max(0.0, self.settings.poll_seconds - (self.clock() - started)))

    # -- polling ------------------------------------------------------------------------------------
    async def _poll(self, seen: set[str]) -> AsyncIterator[_Page]:
        for tag in self._tags:
            async for page in self._poll_tag(tag, seen):
                yield page
        if self._search_on:
            for query in self._queries:
                found = await self._poll_search(query, seen)
                if found is not None:
                    yield found

    async def _poll_tag(self, tag: str, seen: set[str]) -> AsyncIterator[_Page]:
        key = f"#{tag}"
        path = f"/api/v1/timelines/tag/{quote(tag, safe='')}"
        min_id = self._pending.get(key)
        if min_id is None:  # first poll: the newest page sets the starting point (no backfill)
            response = await self._get(path, {"limit": PAGE})
            items = self._list(response, path)
            page = self._page(key, items, None, seen, _prev_min_id(response))
            if page.cursor is None:
                page.cursor = "0"  # nothing tagged yet: everything that comes is new
            yield page
            return
        for _ in range(MAX_PAGES):
            response = await self._get(path, {"min_id": min_id, "limit": PAGE})
            items = self._list(response, path)
            page = self._page(key, items, min_id, seen, _prev_min_id(response))
            yield page
            if len(items) < PAGE or page.cursor is None or page.cursor == min_id:
                return
            min_id = page.cursor
        log.info(
            "%s: %s has more than %d pages of new statuses: the rest at the next poll",
            self.name,
            key,
            MAX_PAGES,
        )

    async def _poll_search(self, query: str, seen: set[str]) -> _Page | None:
        min_id = self._pending.get(query)
        params: dict[str, Any] = {"q": query, "type": "statuses", "resolve": "false", "limit": PAGE}
        if min_id is not None:
            params["min_id"] = min_id
        items: list[Any] = []
        offset = 0
        for _ in range(MAX_PAGES if min_id is not None else 1):
            if offset:
                params["offset"] = offset
            response = await self._get("/api/v2/search", params, search=True)
            if response.status_code in (401, 403):
                return None
            body = _json(response, "/api/v2/search")
            statuses = body.get("statuses") if isinstance(body, dict) else None
            if not isinstance(statuses, list):
                raise MastodonError("/api/v2/search: the answer has no statuses list", retryable=True)
            reached = False
            for status in statuses:
                sid = _status_id(status)
                if min_id is not None and sid is not None and not _newer(sid, min_id):
                    reached = True  # newest first: the rest of the results were taken before
                else:
                    items.append(status)
            if reached or len(statuses) < PAGE:
                break
            offset += len(statuses)
        else:
            if min_id is not None:
                log.info("%s: search %r has more than %d pages of new statuses", self.name, query, MAX_PAGES)
        return self._page(query, items, min_id, seen, None)

    def _page(
        self, key: str, items: list[Any], cursor: str | None, seen: set[str], hint: str | None
    ) -> _Page:
        """Turn one page (any order) into mentions, oldest first; the cursor moves to the newest id."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        ordered = sorted(
            items, key=lambda s: _id_key(_status_id(s) or ""), reverse=False
        )  # malformed (no id) first: order is irrelevant for them
        page = _Page(key, cursor)
        for status in ordered:
            self.health.events += 1
            sid = _status_id(status)
            if sid is not None and _newer(sid, page.cursor):
                page.cursor = sid
            try:
                mention = status_to_mention(status, self.host, self.matcher, now)
            except (MentionError, ValueError, TypeError) as exc:
                self.health.malformed += 1
                log.debug("%s: malformed status skipped (%s)", self.name, exc)
                continue
            original = sid
            if isinstance(status, dict) and isinstance(status.get("reblog"), dict):
                original = _status_id(status["reblog"])  # the status a reblog carries is the one counted
            if original is not None:
                if original in seen or original in self._recent:
                    self.health.extra["duplicates"] += 1
                    continue
                seen.add(original)
                page.ids.append(original)
            self.health.extra["last_status_at"] = self.clock()
            if mention is not None:
                page.mentions.append(mention)
        if hint is not None and _ID.match(hint) and _newer(hint, page.cursor):
            page.cursor = hint
        return page

    def _remember(self, ids: list[str]) -> None:
        for sid in ids:
            self._recent[sid] = None
        while len(self._recent) > RECENT_IDS:
            self._recent.popitem(last=False)

    def _list(self, response: httpx.Response, path: str) -> list[Any]:
        body = _json(response, path)
        if not isinstance(body, list):
            raise MastodonError(
                f"{path}: expected a list of statuses, got {type(body).__name__}", retryable=True
            )
        return body

    # -- HTTP ---------------------------------------------------------------------------------------
    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = self.http or httpx.AsyncClient(
                timeout=httpx.Timeout(30.0), headers={"User-Agent": "crisis-radar (mastodon source)"}
            )
        return self._client

    async def _get(self, path: str, params: dict[str, Any], *, search: bool = False) -> httpx.Response:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        url = self._base + path
        for _attempt in range(MAX_429 + 1):
            await self._wait_for_reset()
            response = await self._http().get(url, params=params, headers=headers)
            self.health.extra["requests"] += 1
            self._note_limits(response)
            status = response.status_code
            if status == 429:
                wait = self._retry_after(response)
                self.health.extra["rate_limit_waits"] += 1
                log.warning("%s: rate limited on %s: retrying in %.1f s", self.name, path, wait)
                await self.sleep(wait)
                continue
            if status >= 500:
                raise MastodonError(f"{path}: HTTP {status} from {self.host}", retryable=True)
            if search and status in (401, 403):
                self._search_on = False
                self.health.extra["search"] = f"off: HTTP {status} (check $MASTODON_TOKEN)"
                log.error(
                    "%s: search refused with HTTP %d: check $MASTODON_TOKEN; search is off", self.name, status
                )
                return response
            if status >= 400:
                raise MastodonError(
                    f"{path}: HTTP {status} from {self.host}: {response.text[:200]}", retryable=False
                )
            self.health.connected = True
            self.health.last_event_at = self.clock()  # a poll answered: the source is alive, even if quiet
            return response
        raise MastodonError(f"{path}: still rate limited after {MAX_429} waits", retryable=True)

    def _note_limits(self, response: httpx.Response) -> None:
        limit = _int(response.headers.get("X-RateLimit-Limit"))
        remaining = _int(response.headers.get("X-RateLimit-Remaining"))
        if remaining is None:
            return
        self.health.extra["rate_limit_remaining"] = remaining
        reserve = max(1, int((limit or 0) * RATE_LIMIT_RESERVE))
        if remaining <= reserve and response.status_code != 429:
            reset = _reset_time(response.headers.get("X-RateLimit-Reset"), self.clock())
            if reset is not None and reset > self.clock():
                self._not_before = reset

    async def _wait_for_reset(self) -> None:
        if self._not_before is None:
            return
        wait = min(MAX_WAIT, self._not_before - self.clock())
        self._not_before = None
        if wait > 0:
            self.health.extra["rate_limit_waits"] += 1
            log.info("%s: rate limit nearly used up: waiting %.1f s for the reset", self.name, wait)
            await self.sleep(wait)

    def _retry_after(self, response: httpx.Response) -> float:
        now = self.clock()
        value = response.headers.get("Retry-After")
        if value:
            seconds = _float(value)
            if seconds is None:
                try:
                    seconds = email.utils.parsedate_to_datetime(value).timestamp() - now
                except (TypeError, ValueError):
                    seconds = None
            if seconds is not None:
                return min(MAX_WAIT, max(0.0, seconds))
        reset = _reset_time(response.headers.get("X-RateLimit-Reset"), now)
        if reset is not None:
            return min(MAX_WAIT, max(0.0, reset - now))
        return min(MAX_WAIT, self.settings.poll_seconds)


def _json(response: httpx.Response, path: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise MastodonError(f"{path}: the answer is not JSON", retryable=True) from None


def _prev_min_id(response: httpx.Response) -> str | None:
    """The ``min_id`` of the ``Link: <...>; rel="prev"`` header (the newest id of the page)."""
    prev = response.links.get("prev")
    if not prev or "url" not in prev:
        return None
    values = parse_qs(urlsplit(prev["url"]).query).get("min_id")
    return values[0] if values else None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _reset_time(value: str | None, now: float) -> float | None:
    """``X-RateLimit-Reset`` as epoch seconds: ISO 8601 (Mastodon), epoch seconds or seconds from now."""
    if not value:
        return None
    number = _float(value)
    if number is not None:
        return number if number > 1e9 else now + number
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
