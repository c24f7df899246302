"""A loopback HTTP server that answers like a Mastodon server's hashtag timelines and status search.

``MastodonServer`` listens on ``127.0.0.1`` (a free port chosen by the OS) in a background thread::

    with MastodonServer() as server:
        server.post("Stuck at the gate again #AcmeAir")
        ...  # point a client at server.base_url

What it imitates (Mastodon 4.x):

* ``GET /api/v1/timelines/tag/:hashtag``: the public statuses carrying the hashtag (case-insensitive).
  ``limit`` (default 20, at most 40), ``max_id`` (older than), ``since_id`` (newer than, the newest
  first) and ``min_id`` (the page *immediately* newer than it, still returned newest first), as
  Mastodon's ``Paginable`` does them; a ``Link`` header with ``rel="next"`` (``max_id`` = the oldest
  id of the page) and ``rel="prev"`` (``min_id`` = the newest) on every non-empty page.
* ``GET /api/v2/search?type=statuses``: statuses whose plain text contains ``q``
  (case-insensitive), newest first, ``limit``/``offset``, ``min_id``/``max_id`` as id bounds
  (``honour_search_min_id=False`` ignores them, like a server that only filters by date). Status
  search needs a token: none -> no statuses; a wrong one -> 401.
* Status and Account entities with the fields of the API docs; ids are snowflake-like (milliseconds
  << 16 plus a sequence), strictly increasing in the order statuses are posted.
* ``X-RateLimit-Limit/Remaining/Reset`` (ISO 8601 with microseconds) on every answer, from a counter
  per window; ``set_rate_limit`` forces what the next answers say. ``fail_next`` queues 429s (with the
  rate limit headers and optionally ``Retry-After``), 5xx or non-JSON answers.
* ``post_raw`` puts anything (a malformed status) in a hashtag timeline at the next id position.
* Every request is recorded (``requests``), with its query and headers.

Not imitated: other endpoints, visibility, blocks/mutes and filters, account or hashtag search,
``resolve``, streaming, reblogs in timelines (Mastodon's tag timelines have none).
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

__all__ = ["Entry", "MastodonServer", "Request", "render_content"]

DEFAULT_LIMIT = 20
MAX_LIMIT = 40

_WORD = re.compile(r"(https?://[^\s<]+)|([#@][\w.@-]*\w)", re.UNICODE)


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def render_content(text: str, base_url: str) -> str:
    """Mastodon-style HTML for plain ``text``: paragraphs, ``<br />``, linked hashtags, mentions and URLs."""

    def link(match: re.Match[str]) -> str:
        url, tag = match.group(1), match.group(2)
        if url:
            scheme, _, rest = url.partition("://")
            shown, hidden = rest[:30], rest[30:]
            return (
                f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener noreferrer" '
                f'translate="no"><span class="invisible">{scheme}://</span>'
                f'<span class="{"ellipsis" if hidden else ""}">{html.escape(shown)}</span>'
                f'<span class="invisible">{html.escape(hidden)}</span></a>'
            )
        word = tag[1:]
        if tag[0] == "#":
            return (
                f'<a href="{base_url}/tags/{word.lower()}" class="mention hashtag" rel="tag">'
                f"#<span>{html.escape(word)}</span></a>"
            )
        return (
            f'<span class="h-card" translate="no"><a href="{base_url}/@{html.escape(word)}" '
            f'class="u-url mention">@<span>{html.escape(word.split("@")[0])}</span></a></span>'
        )

    paragraphs = []
    for para in re.split(r"\n{2,}", text.strip()):
        lines = []
        for line in para.split("\n"):
            pieces, last = [], 0
            for m in _WORD.finditer(line):
                pieces.append(html.escape(line[last : m.start()], quote=False))
                pieces.append(link(m))
                last = m.end()
            pieces.append(html.escape(line[last:], quote=False))
            lines.append("".join(pieces))
        paragraphs.append(f"<p>{'<br />'.join(lines)}</p>")
    return "".join(paragraphs)


@dataclass
class Entry:
    """One item of the server's timelines: a status, or anything (``post_raw``) at an id position."""

    key: int
    payload: Any
    tags: frozenset[str]
    text: str = ""


@dataclass(frozen=True)
class Request:
    """One request as the server saw it."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int
    count: int  # statuses in the answer
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Failure:
    status: int
    retry_after: str | None = None
    path_prefix: str = ""


class MastodonServer:
    """A fake Mastodon server on loopback (see the module doc).

    Parameters
    ----------
    token
        The access token it accepts (``Authorization: Bearer ...``).
    rate_limit, rate_window
        Requests allowed per window of seconds (the ``X-RateLimit-*`` headers; never enforced on
        its own: use ``fail_next(429)`` for refusals).
    honour_search_min_id
        Whether ``/api/v2/search`` applies ``min_id``/``max_id`` (Mastodon turns them into dates).
    """

    def __init__(
        self,
        *,
        token: str = "test-token",
        rate_limit: int = 300,
        rate_window: float = 300.0,
        honour_search_min_id: bool = True,
    ) -> None:
        self.token = token
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.honour_search_min_id = honour_search_min_id
        self.entries: list[Entry] = []
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._last_id = 0
        self._failures: deque[_Failure] = deque()
        self._forced: deque[tuple[int, datetime]] = deque()
        self._window_start = time.time()
        self._used = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- life ------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}"

    def start(self) -> MastodonServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="mastodon-fake", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> MastodonServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- content ---------------------------------------------------------------------------------
    def _next_id(self) -> int:
        self._last_id = max(self._last_id + 1, int(time.time() * 1000) << 16)
        return self._last_id

    def post(
        self,
        text: str,
        *,
        acct: str = "ann",
        followers: int = 10,
        reblogs: int = 0,
        favourites: int = 0,
        language: str | None = "en",
        spoiler_text: str = "",
        content: str | None = None,
        tags: list[str] | None = None,
        created_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Publish a status (its hashtags are those of ``text`` unless ``tags`` is given); returns it."""
        names = tags if tags is not None else re.findall(r"(?<![\w/])#(\w+)", text)
        with self._lock:
            sid = self._next_id()
            when = created_at or datetime.now(UTC)
            username, _, domain = acct.partition("@")
            account_url = f"https://{domain}/@{username}" if domain else f"{self.base_url}/@{username}"
            status = {
                "id": str(sid),
                "created_at": _iso(when),
                "in_reply_to_id": None,
                "in_reply_to_account_id": None,
                "sensitive": bool(spoiler_text),
                "spoiler_text": spoiler_text,
                "visibility": "public",
                "language": language,
                "uri": f"{self.base_url}/users/{username}/statuses/{sid}",
                "url": f"{self.base_url}/@{acct}/{sid}",
                "replies_count": 0,
                "reblogs_count": reblogs,
                "favourites_count": favourites,
                "edited_at": None,
                "content": content if content is not None else render_content(text, self.base_url),
                "reblog": None,
                "application": None,
                "account": {
                    "id": str(100 + sum(map(ord, acct))),
                    "username": username,
                    "acct": acct,
                    "display_name": username.title(),
                    "locked": False,
                    "bot": False,
                    "discoverable": True,
                    "group": False,
                    "created_at": "2023-01-05T00:00:00.000Z",
                    "note": "",
                    "url": account_url,
                    "uri": account_url,
                    "avatar": f"{self.base_url}/avatars/original/missing.png",
                    "avatar_static": f"{self.base_url}/avatars/original/missing.png",
                    "header": f"{self.base_url}/headers/original/missing.png",
                    "header_static": f"{self.base_url}/headers/original/missing.png",
                    "followers_count": followers,
                    "following_count": 3,
                    "statuses_count": 42,
                    "last_status_at": when.strftime("%Y-%m-%d"),
                    "emojis": [],
                    "fields": [],
                },
                "media_attachments": [],
                "mentions": [],
                "tags": [{"name": n.lower(), "url": f"{self.base_url}/tags/{n.lower()}"} for n in names],
                "emojis": [],
                "card": None,
                "poll": None,
            }
            self.entries.append(Entry(sid, status, frozenset(n.lower() for n in names), text))
            return status

    def post_many(
        self, count: int, template: str = "status {i} about #AcmeAir", **kw: Any
    ) -> list[dict[str, Any]]:
        """Publish ``count`` statuses at once (``template`` formatted with ``i``)."""
        return [self.post(template.format(i=i), **kw) for i in range(count)]

    def post_raw(self, payload: Any, tags: list[str], text: str = "") -> None:
        """Put ``payload`` (anything JSON) in the timelines of ``tags`` at the next id position."""
        with self._lock:
            self.entries.append(Entry(self._next_id(), payload, frozenset(t.lower() for t in tags), text))

    # -- faults ----------------------------------------------------------------------------------
    def fail_next(
        self, status: int, count: int = 1, *, retry_after: str | None = None, path: str = ""
    ) -> None:
        """Answer the next ``count`` requests (whose path starts with ``path``) with ``status``."""
        with self._lock:
            for _ in range(count):
                self._failures.append(_Failure(status, retry_after, path))

    def set_rate_limit(self, remaining: int, reset: datetime, count: int = 1) -> None:
        """Make the next ``count`` answers say ``X-RateLimit-Remaining: remaining`` until ``reset``."""
        with self._lock:
            for _ in range(count):
                self._forced.append((remaining, reset))

    # -- reading ---------------------------------------------------------------------------------
    def requests_to(self, prefix: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    # -- answers ---------------------------------------------------------------------------------
    def _rate_headers(self) -> dict[str, str]:
        now = time.time()
        if now - self._window_start >= self.rate_window:
            self._window_start, self._used = now, 0
        self._used += 1
        reset = datetime.fromtimestamp(self._window_start + self.rate_window, UTC)
        remaining = max(0, self.rate_limit - self._used)
        if self._forced:
            remaining, reset = self._forced.popleft()
        return {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }

    def _timeline(self, tag: str, query: dict[str, str]) -> tuple[list[Entry], dict[str, str]]:
        limit = _limit(query)
        max_id, since_id, min_id = (_int(query.get(k)) for k in ("max_id", "since_id", "min_id"))
        items = sorted((e for e in self.entries if tag.lower() in e.tags), key=lambda e: e.key)
        if min_id is not None:  # immediately newer than min_id, newest first
            chosen = [e for e in items if e.key > min_id and (max_id is None or e.key < max_id)][:limit]
            chosen.reverse()
        else:
            chosen = [
                e
                for e in reversed(items)
                if (max_id is None or e.key < max_id) and (since_id is None or e.key > since_id)
            ][:limit]
        headers: dict[str, str] = {}
        if chosen:
            kept = {k: v for k, v in query.items() if k in ("limit", "local", "only_media")}
            path = f"{self.base_url}/api/v1/timelines/tag/{tag}"
            nxt = urlencode({**kept, "max_id": chosen[-1].key})
            prev = urlencode({**kept, "min_id": chosen[0].key})
            headers["Link"] = f'<{path}?{nxt}>; rel="next", <{path}?{prev}>; rel="prev"'
        return chosen, headers

    def _search(self, query: dict[str, str], authed: bool) -> list[Entry]:
        q = query.get("q", "").strip().lower()
        if not authed or not q or query.get("type", "statuses") != "statuses":
            return []
        limit, offset = _limit(query), _int(query.get("offset")) or 0
        min_id, max_id = _int(query.get("min_id")), _int(query.get("max_id"))
        found = []
        for e in sorted(self.entries, key=lambda e: -e.key):
            if q not in e.text.lower():
                continue
            if self.honour_search_min_id and (
                (min_id is not None and e.key <= min_id) or (max_id is not None and e.key >= max_id)
            ):
                continue
            found.append(e)
        return found[offset : offset + limit]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _send(
                self, status: int, body: Any, headers: dict[str, str], raw: bytes | None = None
            ) -> None:
                data = raw if raw is not None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                path, query = unquote(parts.path), dict(parse_qsl(parts.query))
                headers = {k: v for k, v in self.headers.items()}
                auth = self.headers.get("Authorization", "")
                status, count = 200, 0
                body: Any = None
                raw: bytes | None = None
                extra: dict[str, str] = {}
                with server._lock:
                    rate = server._rate_headers()
                    failure = None
                    if server._failures and path.startswith(server._failures[0].path_prefix):
                        failure = server._failures.popleft()
                    if failure is not None:
                        status = failure.status
                        if status == 429:
                            body = {"error": "Too many requests"}
                            rate["X-RateLimit-Remaining"] = "0"
                            if failure.retry_after is not None:
                                extra["Retry-After"] = failure.retry_after
                        elif status == 200:
                            raw = b"<html>not json</html>"
                        else:
                            body = {"error": "There was a temporary problem serving your request"}
                    elif auth and auth != f"Bearer {server.token}":
                        status, body = 401, {"error": "The access token is invalid"}
                    elif path.startswith("/api/v1/timelines/tag/"):
                        tag = path.removeprefix("/api/v1/timelines/tag/")
                        chosen, extra = server._timeline(tag, query)
                        body, count = [e.payload for e in chosen], len(chosen)
                    elif path == "/api/v2/search":
                        chosen = server._search(query, authed=bool(auth))
                        body = {"accounts": [], "statuses": [e.payload for e in chosen], "hashtags": []}
                        count = len(chosen)
                    else:
                        status, body = 404, {"error": "Record not found"}
                    server.requests.append(Request(path, query, headers, status, count))
                self._send(status, body, {**rate, **extra}, raw)

        return Handler


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _limit(query: dict[str, str]) -> int:
    value = _int(query.get("limit"))
    return DEFAULT_LIMIT if value is None or value <= 0 else min(MAX_LIMIT, value)


def later(seconds: float) -> datetime:
    """Now plus ``seconds``, for ``set_rate_limit``."""
    return datetime.now(UTC) + timedelta(seconds=seconds)
