"""Loopback servers that speak Bluesky's Jetstream and the profile API, for tests and benchmarks.

:class:`JetstreamServer` is a real websocket server (``websockets``) on ``127.0.0.1`` that behaves like
``wss://jetstream2.us-east.bsky.network/subscribe`` for what Crisis Radar uses::

    with JetstreamServer() as server:
        ...  # connect to server.url
        server.publish(post_event(did, time_us, "Acme Air lost my bag"), like_event(...))

* Query: ``wantedCollections`` (repeatable; whole NSIDs or ``prefix.*``; absent: everything) and
  ``cursor`` (unix microseconds). As in Jetstream, ``identity`` and ``account`` events go to every
  subscriber whatever the collections; no cursor, or one from the future, is a live tail (what is
  published from now on); a cursor replays the stored events with ``time_us >= cursor`` in order,
  then continues live. Other query parameters are accepted and ignored; a path other than
  ``/subscribe`` is answered 404.
* Events are stored pre-serialised; :meth:`JetstreamServer.publish` takes event dicts, or ``str`` /
  ``bytes`` to send verbatim as a text / binary frame (malformed frames: they go to every subscriber
  and sit in the replay order where they were published).
* Fault injection: :meth:`~JetstreamServer.drop_after` (the next connection is cut after N frames:
  everything sent is flushed, then the TCP connection closes without a close frame, as a crashed
  server or a broken network does; or, with ``clean=True``, a 1001 "going away" close as on a
  deploy), :meth:`~JetstreamServer.reject_next` (handshakes answered with an HTTP error).
* What each connection asked for and got: :attr:`JetstreamServer.connections`.

:class:`ProfileServer` answers ``GET /xrpc/app.bsky.actor.getProfile?actor=DID`` and
``GET /xrpc/app.bsky.actor.getProfiles?actors=DID&actors=DID...`` the way the public AppView
(``https://public.api.bsky.app``) does (``profileViewDetailed``; one actor unknown: 400 ``Profile not
found``; several: the unknown ones left out of ``profiles``; over 25 actors: 400), counts lookups per
actor and requests, and fails on demand (:meth:`~ProfileServer.fail`) or slowly (``delay``).

Builders of realistic events (:func:`post_event`, :func:`like_event`, :func:`repost_event`,
:func:`follow_event`, :func:`delete_event`, :func:`identity_event`, :func:`account_event`) use
the field order, TIDs, CIDs and DIDs of the real firehose.

Deliberately not imitated: zstd compression, ``wantedDids``, ``maxMessageSizeBytes``,
``requireHello`` and options updates, heartbeats, the retention window (everything published is kept).
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import json
import random
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

POST = "app.bsky.feed.post"
LIKE = "app.bsky.feed.like"
REPOST = "app.bsky.feed.repost"
FOLLOW = "app.bsky.graph.follow"

_B32 = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable, as in TIDs


# -- identifiers -----------------------------------------------------------------------------------
def tid(time_us: int, clock_id: int = 0) -> str:
    """A record key / revision TID: 53 bits of microseconds and a 10-bit clock id, base32-sortable."""
    value = (time_us << 10) | (clock_id & 0x3FF)
    out = []
    for _ in range(13):
        out.append(_B32[value & 31])
        value >>= 5
    return "".join(reversed(out))


def random_did(rng: random.Random) -> str:
    """A ``did:plc:`` identifier (24 base32 characters)."""
    return "did:plc:" + base64.b32encode(rng.randbytes(15)).decode().lower()


def random_cid(rng: random.Random) -> str:
    """A CIDv1 (dag-cbor, sha2-256) as the firehose prints it."""
    return "bafyrei" + base64.b32encode(rng.randbytes(35)).decode().lower()[:52]


def iso(time_us: int) -> str:
    """``createdAt`` style: milliseconds and ``Z``."""
    return datetime.fromtimestamp(time_us / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def post_uri(did: str, rkey: str) -> str:
    """The AT URI of a post."""
    return f"at://{did}/{POST}/{rkey}"


# -- events ----------------------------------------------------------------------------------------
_RICH = re.compile(r"(?<![\w@])@([a-zA-Z0-9][a-zA-Z0-9.-]*[a-zA-Z0-9])|(?<![\w#])#(\w+)|https?://\S+")


def facets(text: str, dids: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Rich-text facets as the Bluesky app writes them: mentions (``@handle`` resolved to a DID via
    ``dids``; unknown handles get no facet), hashtags and links, with UTF-8 byte ranges."""
    out: list[dict[str, Any]] = []
    for m in _RICH.finditer(text):
        start = len(text[: m.start()].encode())
        end = start + len(m.group(0).encode())
        if m.group(1) is not None:
            did = (dids or {}).get(m.group(1).lower())
            if did is None:
                continue
            feature: dict[str, Any] = {"$type": "app.bsky.richtext.facet#mention", "did": did}
        elif m.group(2) is not None:
            feature = {"$type": "app.bsky.richtext.facet#tag", "tag": m.group(2)}
        else:
            feature = {"$type": "app.bsky.richtext.facet#link", "uri": m.group(0)}
        out.append(
            {
                "$type": "app.bsky.richtext.facet",
                "features": [feature],
                "index": {"byteEnd": end, "byteStart": start},
            }
        )
    return out


def _commit(
    did: str,
    time_us: int,
    collection: str,
    operation: str,
    rkey: str,
    record: dict[str, Any] | None,
    cid: str,
) -> dict[str, Any]:
    commit: dict[str, Any] = {
        "rev": tid(time_us, 7),
        "operation": operation,
        "collection": collection,
        "rkey": rkey,
    }
    if record is not None:
        commit["record"] = record
        commit["cid"] = cid
    return {"did": did, "time_us": time_us, "kind": "commit", "commit": commit}


def post_event(
    did: str,
    time_us: int,
    text: str,
    *,
    rkey: str | None = None,
    langs: Sequence[str] = ("en",),
    reply_to: str | None = None,
    quote: str | None = None,
    with_media: bool = False,
    tags: Sequence[str] = (),
    dids: dict[str, str] | None = None,
    created_at: str | None = None,
    operation: str = "create",
    rng: random.Random | None = None,
) -> dict[str, Any]:
    """A post commit. ``reply_to``/``quote``: AT URIs of the parent / quoted post; ``with_media``
    makes the quote a ``recordWithMedia``; ``tags`` are the record's extra (hidden) hashtags."""
    rng = rng or random.Random(time_us)
    rkey = rkey or tid(time_us, rng.randrange(1024))
    record: dict[str, Any] = {"$type": POST, "createdAt": created_at or iso(time_us - rng.randrange(400_000))}
    if quote is not None:
        embedded = {"$type": "app.bsky.embed.record", "record": {"cid": random_cid(rng), "uri": quote}}
        if with_media:
            record["embed"] = {
                "$type": "app.bsky.embed.recordWithMedia",
                "media": {
                    "$type": "app.bsky.embed.images",
                    "images": [
                        {
                            "alt": "",
                            "aspectRatio": {"height": 1080, "width": 1440},
                            "image": {
                                "$type": "blob",
                                "ref": {"$link": "bafkrei" + random_cid(rng)[7:]},
                                "mimeType": "image/jpeg",
                                "size": 301_734,
                            },
                        }
                    ],
                },
                "record": embedded,
            }
        else:
            record["embed"] = embedded
    rich = facets(text, dids)
    if rich:
        record["facets"] = rich
    if langs:
        record["langs"] = list(langs)
    if reply_to is not None:
        ref = {"cid": random_cid(rng), "uri": reply_to}
        record["reply"] = {"parent": ref, "root": ref}
    if tags:
        record["tags"] = list(tags)
    record["text"] = text
    return _commit(did, time_us, POST, operation, rkey, record, random_cid(rng))


def like_event(did: str, time_us: int, subject: str, rng: random.Random | None = None) -> dict[str, Any]:
    """A like of the post at AT URI ``subject``."""
    rng = rng or random.Random(time_us)
    record = {
        "$type": LIKE,
        "createdAt": iso(time_us - rng.randrange(300_000)),
        "subject": {"cid": random_cid(rng), "uri": subject},
    }
    return _commit(did, time_us, LIKE, "create", tid(time_us, rng.randrange(1024)), record, random_cid(rng))


def repost_event(did: str, time_us: int, subject: str, rng: random.Random | None = None) -> dict[str, Any]:
    """A repost of the post at AT URI ``subject``."""
    rng = rng or random.Random(time_us)
    record = {
        "$type": REPOST,
        "createdAt": iso(time_us - rng.randrange(300_000)),
        "subject": {"cid": random_cid(rng), "uri": subject},
    }
    return _commit(did, time_us, REPOST, "create", tid(time_us, rng.randrange(1024)), record, random_cid(rng))


def follow_event(
    did: str, time_us: int, subject_did: str, rng: random.Random | None = None
) -> dict[str, Any]:
    """``did`` follows ``subject_did``."""
    rng = rng or random.Random(time_us)
    record = {"$type": FOLLOW, "createdAt": iso(time_us - rng.randrange(300_000)), "subject": subject_did}
    return _commit(did, time_us, FOLLOW, "create", tid(time_us, rng.randrange(1024)), record, random_cid(rng))


def delete_event(did: str, time_us: int, collection: str, rkey: str) -> dict[str, Any]:
    """The deletion of a record (no ``record``, no ``cid``)."""
    return _commit(did, time_us, collection, "delete", rkey, None, "")


def identity_event(did: str, time_us: int, handle: str, seq: int = 1_409_752_997) -> dict[str, Any]:
    """A handle change."""
    return {
        "did": did,
        "time_us": time_us,
        "kind": "identity",
        "identity": {"did": did, "handle": handle, "seq": seq, "time": iso(time_us - 1000)},
    }


def account_event(
    did: str, time_us: int, active: bool = True, status: str | None = None, seq: int = 1_409_753_013
) -> dict[str, Any]:
    """An account status change (``status``: ``deactivated``, ``takendown``... when not active)."""
    account: dict[str, Any] = {"active": active, "did": did, "seq": seq, "time": iso(time_us - 1000)}
    if status is not None:
        account["status"] = status
    return {"did": did, "time_us": time_us, "kind": "account", "account": account}


# -- the Jetstream server --------------------------------------------------------------------------
@dataclass
class Connection:
    """One subscriber connection as the server saw it."""

    query: dict[str, list[str]]
    cursor: int | None
    wanted: tuple[str, ...]
    sent: int = 0  # frames sent
    last_time_us: int | None = None  # time_us of the last event sent
    ended: str = ""  # "dropped", "closed", "client" once over
    sent_time_us: list[int] = field(default_factory=list)


def _frame_header(length: int, text: bool) -> bytes:
    """RFC 6455 header of an unmasked, unfragmented server frame."""
    first = 0x81 if text else 0x82
    if length < 126:
        return bytes((first, length))
    if length < 1 << 16:
        return bytes((first, 126)) + length.to_bytes(2, "big")
    return bytes((first, 127)) + length.to_bytes(8, "big")


class _Item:
    __slots__ = ("collection", "event", "frame", "text", "time_us")

    def __init__(self, frame: bytes, text: bool, time_us: int, collection: str | None, event: bool) -> None:
        self.frame, self.text, self.time_us = frame, text, time_us
        self.collection, self.event = collection, event


class JetstreamServer:
    """A Jetstream look-alike on ``127.0.0.1`` (see the module doc). Use as a context manager.

    ``filter_collections=False`` makes it ignore ``wantedCollections`` (every commit goes out), to
    see what a client does with the whole firehose. ``record_times=True`` keeps every sent
    ``time_us`` in :attr:`Connection.sent_time_us`. ``fast=True`` (benchmarks) writes the frames to
    the socket itself, hundreds per write, instead of one ``send`` each: the same bytes on the wire
    at a fraction of the server's CPU.
    """

    def __init__(
        self,
        history: Iterable[dict[str, Any] | str | bytes] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        filter_collections: bool = True,
        record_times: bool = False,
        fast: bool = False,
    ) -> None:
        self.host, self.port = host, port
        self.filter_collections = filter_collections
        self.record_times = record_times
        self.fast = fast
        self.connections: list[Connection] = []
        self.rejected = 0
        self._items: list[_Item] = []
        self._times: list[int] = []
        self._grown: asyncio.Event | None = None
        self._extend(self._encode(history))
        self._drops: list[tuple[int, bool]] = []
        self._rejects: list[int] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()

    # -- control ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``ws://127.0.0.1:PORT/subscribe``."""
        return f"ws://{self.host}:{self.port}/subscribe"

    def start(self) -> JetstreamServer:
        """Listen (on a free port unless one was given) and serve from a daemon thread."""
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._grown = asyncio.Event()
            try:
                self._server = loop.run_until_complete(self._listen())
            except BaseException as exc:
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            self._server.close(close_connections=False)
            for task in list(self._handlers):
                task.cancel()
            loop.run_until_complete(asyncio.gather(*self._handlers, return_exceptions=True))
            loop.run_until_complete(self._server.wait_closed())
            loop.close()

        self._thread = threading.Thread(target=run, name="jetstream-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    async def _listen(self) -> Server:
        server = await serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._check,
            max_size=2**20,
            ping_interval=None,
        )
        self.port = server.sockets[0].getsockname()[1]
        return server

    def stop(self) -> None:
        """Stop serving (open connections are cut)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._loop, self._thread = None, None

    def __enter__(self) -> JetstreamServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def publish(self, *items: dict[str, Any] | str | bytes) -> None:
        """Append events (dicts) or raw frames (``str`` text, ``bytes`` binary) and send them live."""
        encoded = self._encode(items)
        if self._loop is None:
            self._extend(encoded)
        else:
            self._loop.call_soon_threadsafe(self._extend, encoded)

    def drop_after(self, frames: int, *, clean: bool = False) -> None:
        """Cut the next connection (those queued before go first) after it was sent ``frames`` frames."""
        with self._lock:
            self._drops.append((frames, clean))

    def reject_next(self, count: int = 1, status: int = 503) -> None:
        """Answer the next ``count`` handshakes with HTTP ``status``."""
        with self._lock:
            self._rejects.extend([status] * count)

    def wait_connections(self, count: int, timeout: float = 5.0) -> Connection:
        """Wait until ``count`` connections were accepted; returns the last."""
        end = time.monotonic() + timeout
        while len(self.connections) < count:
            if time.monotonic() > end:
                raise TimeoutError(f"{len(self.connections)} connections, expected {count}")
            time.sleep(0.005)
        return self.connections[count - 1]

    # -- internals -------------------------------------------------------------------------------
    def _encode(self, items: Iterable[dict[str, Any] | str | bytes]) -> list[_Item]:
        out: list[_Item] = []
        last = self._times[-1] if self._times else 0
        for item in items:
            if isinstance(item, dict):
                frame = json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode()
                stamp = item.get("time_us")
                time_us = stamp if isinstance(stamp, int) else last
                commit = item.get("commit")
                collection = commit.get("collection") if isinstance(commit, dict) else None
                out.append(
                    _Item(
                        frame,
                        True,
                        time_us,
                        collection if isinstance(collection, str) else None,
                        isinstance(stamp, int),
                    )
                )
            elif isinstance(item, str):
                out.append(_Item(item.encode(), True, last, None, False))
            else:
                out.append(_Item(bytes(item), False, last, None, False))
            last = max(last, out[-1].time_us)
        return out

    def _extend(self, items: list[_Item]) -> None:
        for item in items:
            if self._times and item.time_us < self._times[-1]:
                raise ValueError(f"time_us {item.time_us} published after {self._times[-1]}")
            self._items.append(item)
            self._times.append(item.time_us)
        if self._grown is not None:
            self._grown.set()
            self._grown = asyncio.Event()

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path != "/subscribe":
            return connection.respond(HTTPStatus.NOT_FOUND, "404 page not found\n")
        with self._lock:
            status = self._rejects.pop(0) if self._rejects else None
        if status is not None:
            self.rejected += 1
            return connection.respond(status, f"{HTTPStatus(status).phrase}\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._serve(ws)
        finally:
            self._handlers.discard(task)

    async def _serve(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        query = parse_qs(urlsplit(ws.request.path).query)
        wanted = tuple(query.get("wantedCollections", ()))
        raw_cursor = query.get("cursor", [""])[0]
        cursor = int(raw_cursor) if raw_cursor.lstrip("-").isdigit() else None
        conn = Connection(query=query, cursor=cursor, wanted=wanted)
        exact = frozenset(w for w in wanted if not w.endswith(".*"))
        prefixes = tuple(w[:-1] for w in wanted if w.endswith(".*"))
        everything = not wanted or not self.filter_collections
        with self._lock:
            drop = self._drops.pop(0) if self._drops else None
            # no cursor, or one from the future: live tail (where it starts is fixed before the
            # connection is visible to a test, which may publish right after seeing it)
            if cursor is None or cursor <= 0 or not self._times or cursor > self._times[-1]:
                index = len(self._items)
            else:
                index = bisect.bisect_left(self._times, cursor)
            self.connections.append(conn)
        items = self._items
        record, fast = self.record_times, self.fast
        chunk: list[bytes] = []
        transport = ws.transport
        try:
            while True:
                grown = self._grown
                while index < len(items):
                    item = items[index]
                    index += 1
                    coll = item.collection
                    if not (
                        everything
                        or coll is None
                        or coll in exact
                        or (prefixes and coll.startswith(prefixes))
                    ):
                        continue
                    if fast:
                        chunk.append(_frame_header(len(item.frame), item.text))
                        chunk.append(item.frame)
                        if len(chunk) >= 512:
                            await self._write(transport, chunk)
                    else:
                        await ws.send(item.frame, text=item.text)
                    conn.sent += 1
                    if item.event:
                        conn.last_time_us = item.time_us
                        if record:
                            conn.sent_time_us.append(item.time_us)
                    if drop is not None and conn.sent >= drop[0]:
                        await self._write(transport, chunk)
                        if drop[1]:
                            conn.ended = "closed"
                            await ws.close(1001, "going away")
                        else:
                            conn.ended = "dropped"
                            transport.close()  # flushes what was sent, then FIN: no close frame
                        return
                await self._write(transport, chunk)
                assert grown is not None
                await grown.wait()
        except Exception:
            conn.ended = conn.ended or "client"

    @staticmethod
    async def _write(transport: asyncio.Transport, chunk: list[bytes]) -> None:
        """Write queued raw frames, then wait while the socket's buffer is full (the client's pace)."""
        if chunk:
            transport.write(b"".join(chunk))
            chunk.clear()
        while transport.get_write_buffer_size() > 1 << 20 and not transport.is_closing():
            await asyncio.sleep(0.0005)


# -- the profile API -------------------------------------------------------------------------------
class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # clients closing kept-alive sockets
            super().handle_error(request, client_address)


class ProfileServer:
    """``app.bsky.actor.getProfile`` and ``getProfiles`` on ``127.0.0.1`` (see the module doc). Use as
    a context manager.

    ``profiles`` maps DIDs to ``(handle, followers)``.
    """

    def __init__(self, profiles: dict[str, tuple[str, int]] | None = None, *, delay: float = 0.0) -> None:
        self.profiles: dict[str, tuple[str, int]] = dict(profiles or {})
        self.delay = delay
        self.requests: Counter[str] = Counter()  # actor -> lookups (in either method)
        self.calls = 0  # HTTP requests
        self.sizes: list[int] = []  # actors asked for, per request
        self._failures: list[tuple[str | None, int]] = []
        self._always: dict[str | None, int] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (what ``profile_api`` takes)."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail(self, status: int = 500, *, times: int | None = 1, did: str | None = None) -> None:
        """Answer ``status`` to the next ``times`` requests (those asking for ``did`` only, if given);
        ``times=None``: until :meth:`heal`."""
        with self._lock:
            if times is None:
                self._always[did] = status
            else:
                self._failures.extend([(did, status)] * times)

    def heal(self) -> None:
        """Stop failing."""
        with self._lock:
            self._failures.clear()
            self._always.clear()

    def start(self) -> ProfileServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                status, body = owner._answer(self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="profile-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ProfileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @staticmethod
    def _invalid(message: str) -> tuple[int, dict[str, Any]]:
        return 400, {"error": "InvalidRequest", "message": message}

    def _answer(self, path: str) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(path)
        query = parse_qs(parts.query)
        if parts.path == "/xrpc/app.bsky.actor.getProfile":
            actors, single = query.get("actor", [])[:1], True
            if not actors:
                return self._invalid('Error: Params must have the property "actor"')
        elif parts.path == "/xrpc/app.bsky.actor.getProfiles":
            actors, single = query.get("actors", []), False
            if not actors:
                return self._invalid('Error: Params must have the property "actors"')
            if len(actors) > 25:
                return self._invalid("Error: actors must not have more than 25 elements")
        else:
            return 501, {"error": "MethodNotImplemented", "message": "Method Not Implemented"}
        with self._lock:
            self.calls += 1
            self.sizes.append(len(actors))
            self.requests.update(actors)
            status = next((self._always[a] for a in actors if a in self._always), self._always.get(None))
            if status is None:
                for i, (did, code) in enumerate(self._failures):
                    if did is None or did in actors:
                        status = code
                        del self._failures[i]
                        break
        if self.delay:
            time.sleep(self.delay)
        if status is not None:
            return status, {"error": "InternalServerError", "message": "Internal Server Error"}
        if single:
            if actors[0] not in self.profiles:
                return self._invalid("Profile not found")
            return 200, self._view(actors[0])
        return 200, {"profiles": [self._view(a) for a in actors if a in self.profiles]}

    def _view(self, actor: str) -> dict[str, Any]:
        """``app.bsky.actor.defs#profileViewDetailed`` of a known actor."""
        handle, followers = self.profiles[actor]
        return {
            "did": actor,
            "handle": handle,
            "displayName": handle.split(".")[0].title(),
            "avatar": f"https://cdn.bsky.app/img/avatar/plain/{actor}/bafkreihcr2o3jyqunc3y5gw6dhz4@jpeg",
            "associated": {
                "lists": 0,
                "feedgens": 0,
                "starterPacks": 0,
                "labeler": False,
                "chat": {"allowIncoming": "following"},
            },
            "labels": [],
            "createdAt": "2023-04-27T19:53:19.847Z",
            "description": "",
            "indexedAt": "2024-11-20T01:15:42.012Z",
            "followersCount": followers,
            "followsCount": 211,
            "postsCount": 1843,
        }
