"""A loopback HTTP server that imitates the parts of the Slack Web API Crisis Radar uses.

``FakeSlack`` listens on ``127.0.0.1`` (a free port chosen by the OS) and answers the way
``https://slack.com/api/`` does, so production code can be pointed at it unchanged::

    with FakeSlack() as slack:
        client = WebClient(token=slack.token, base_url=slack.base_url)
        client.chat_postMessage(channel="C0CRISIS", text="spike detected")
        assert slack.parents("C0CRISIS")[0].text == "spike detected"

What is faked (HTTP 200 with ``{"ok": false, "error": ...}`` for API errors, as Slack does):

* Authentication: ``Authorization: Bearer <token>`` (or a ``token`` argument, which Slack also
  accepts). Missing -> ``not_authed``; any other token -> ``invalid_auth``.
* Request bodies: ``application/json`` (any charset), ``application/x-www-form-urlencoded`` and
  ``multipart/form-data`` fields, plus query-string arguments; everything is merged into ``args``.
  JSON-valued arguments (``blocks``, ``metadata``, ``files``) may be real JSON or JSON strings.
* ``auth.test``; ``chat.postMessage`` and ``chat.update`` with light Block Kit validation
  (at most 50 blocks, every block has a ``type``, section text <= 3000 chars, section fields
  <= 10 x 2000 chars, header plain_text <= 150 chars, actions/context <= 25/10 elements,
  button text <= 75 chars, block_id <= 255 chars) answered with ``invalid_blocks`` and Slack-style
  ``response_metadata.messages``; ``msg_too_long`` above 40,000 chars of ``text``; ``no_text``;
  ``channel_not_found``; ``thread_not_found``; ``message_not_found``; message metadata
  (``event_type``/``event_payload``) stored as given and returned on the post/update answers, and
  by ``conversations.history``/``conversations.replies`` only when ``include_all_metadata`` is true.
* ``conversations.history`` (newest first, ``oldest``/``latest``/``inclusive``/``limit``/``cursor``)
  and ``conversations.replies`` (parent first, then replies oldest first), with thread summary
  fields (``reply_count``, ``latest_reply`` ...) on parents and ``parent_user_id`` on replies.
* The files upload v2 flow as ``WebClient.files_upload_v2`` drives it:
  ``files.getUploadURLExternal`` hands out an upload URL on this server, the raw (or multipart)
  POST of the bytes to it is answered ``200 OK - <length>``, and ``files.completeUploadExternal``
  shares the files into ``channel_id``/``channels`` (as a thread reply when ``thread_ts`` is given,
  carrying ``initial_comment``). Like Slack, its answer has no message ``ts``; ``files.info`` returns
  the file with ``shares`` (where that ts lives).
* Fault injection: ``fail_next`` (429 + ``Retry-After``, 5xx with a non-JSON body, or an ``ok: false``
  error), ``set_down`` (outage) and ``delay`` (latency, to provoke client timeouts).
* Message ``ts`` values are wall-clock based ("1764500000.000100" style, six decimals) and strictly
  increasing, so ``oldest=time.time() - 3600`` style filters behave as in production.

Deliberately not faked: rate limiting on its own (only what ``fail_next`` queues), channel names
(``#crisis``) or DMs/user IDs as ``channel``, channel membership, scopes, attachments, ``mrkdwn``
rendering, ``reply_broadcast``, unfurling, edit windows, message deletion, Block Kit validation
beyond the limits listed above, the legacy ``files.upload`` method (``unknown_method``), any
asynchronous file processing (files are complete and shared at once), Socket Mode/Events API,
downloading ``url_private`` (it points at files.slack.com), and ``X-Slack-*`` response headers.
Unknown API methods answer ``unknown_method`` with HTTP 200.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from email.parser import BytesParser
from email.policy import HTTP as HTTP_POLICY
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

__all__ = ["UPLOAD", "FakeSlack", "Message", "Received", "UploadedFile"]

UPLOAD = "upload"
"""``Received.method`` (and ``fail_next`` key) of the raw byte POSTs to an upload URL."""

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_ACTIONS_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_TEXT = 75
MAX_BLOCK_ID = 255
MAX_TEXT = 40_000

JSON = dict[str, Any]


@dataclass(frozen=True)
class Received:
    """One request as the fake saw it, and what it answered."""

    method: str
    """API method ("chat.postMessage"), ``UPLOAD`` for upload-URL posts, or the raw path if unrouted."""
    args: dict[str, Any]
    """Query string and body arguments merged (the ``token`` argument, if any, is removed)."""
    headers: dict[str, str]
    at: float
    """``time.monotonic()`` when the request arrived (before any ``delay``)."""
    status: int
    answer: dict[str, Any]
    """The JSON answer, or ``{"raw": <text>}`` for non-JSON answers."""


@dataclass
class Message:
    """A message stored by the fake. ``edits`` holds the superseded versions, oldest first."""

    channel: str
    ts: str
    text: str
    blocks: list[Any] | None = None
    thread_ts: str | None = None
    metadata: dict[str, Any] | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)
    """Each: ``{"text", "blocks", "metadata", "edited_ts"}`` - the version replaced at ``edited_ts``."""
    files: list[str] = field(default_factory=list)
    """IDs of the files shared with this message (look them up in ``FakeSlack.files``)."""


@dataclass
class UploadedFile:
    """A file announced by ``files.getUploadURLExternal``; filled in by the later steps."""

    id: str
    filename: str
    title: str | None = None
    content: bytes = b""
    length: int = 0
    """The length declared to ``files.getUploadURLExternal`` (``len(content)`` is what arrived)."""
    alt_text: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None
    uploaded: bool = False
    completed: bool = False
    share_ts: str | None = None
    """``ts`` of the message that shared the file into ``channel``."""


@dataclass
class _Failure:
    status: int
    error: str | None
    retry_after: int | None


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str
    answer: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class _ArgError(Exception):
    """An API-level error raised while handling a method: becomes ``{"ok": false, ...}``."""

    def __init__(self, error: str, messages: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, fraction = ts.partition(".")
    return int(seconds), int((fraction or "0").ljust(6, "0")[:6])


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes"}
    return bool(value)


def _opt_str(args: dict[str, Any], key: str) -> str | None:
    value = args.get(key)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _json_arg(args: dict[str, Any], key: str, bad: str) -> Any:
    """Return ``args[key]`` decoded if it is a JSON string; raise ``_ArgError(bad)`` if undecodable."""
    value = args.get(key)
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise _ArgError(bad, [f"[ERROR] {key} is not valid JSON"]) from None
    return value


def _text_of(obj: Any) -> str | None:
    """The ``text`` string of a Block Kit text object, or None when malformed."""
    text = obj.get("text") if isinstance(obj, dict) else None
    return text if isinstance(text, str) else None


def _too_long(limit: int, pointer: str) -> str:
    return f"must be less than {limit + 1} characters [json-pointer:{pointer}]"


def _too_many(limit: int, pointer: str) -> str:
    return f"no more than {limit} items allowed [json-pointer:{pointer}]"


def _check_button(element: Any, pointer: str, problems: list[str]) -> None:
    if not isinstance(element, dict) or element.get("type") != "button":
        return
    text = _text_of(element.get("text"))
    if text is None:
        problems.append(f"missing required field: text [json-pointer:{pointer}/text]")
    elif len(text) > MAX_BUTTON_TEXT:
        problems.append(_too_long(MAX_BUTTON_TEXT, f"{pointer}/text/text"))


def _check_blocks(blocks: Any) -> list[str]:
    """Problems Slack would report for ``blocks`` (a light subset of Block Kit's rules)."""
    if not isinstance(blocks, list):
        return ["must provide an array [json-pointer:/blocks]"]
    problems: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        problems.append(_too_many(MAX_BLOCKS, "/blocks"))
    for i, block in enumerate(blocks):
        where = f"/blocks/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str) or not block["type"]:
            problems.append(f"missing required field: type [json-pointer:{where}]")
            continue
        block_id = block.get("block_id")
        if isinstance(block_id, str) and len(block_id) > MAX_BLOCK_ID:
            problems.append(_too_long(MAX_BLOCK_ID, f"{where}/block_id"))
        kind = block["type"]
        if kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append(f"must provide text or fields [json-pointer:{where}]")
            if "text" in block:
                text = _text_of(block["text"])
                if text is None:
                    problems.append(f"missing required field: text [json-pointer:{where}/text]")
                elif len(text) > MAX_SECTION_TEXT:
                    problems.append(_too_long(MAX_SECTION_TEXT, f"{where}/text/text"))
            fields = block.get("fields")
            if fields is not None:
                if not isinstance(fields, list) or len(fields) > MAX_SECTION_FIELDS:
                    problems.append(_too_many(MAX_SECTION_FIELDS, f"{where}/fields"))
                else:
                    for j, item in enumerate(fields):
                        text = _text_of(item)
                        if text is None or len(text) > MAX_FIELD_TEXT:
                            problems.append(_too_long(MAX_FIELD_TEXT, f"{where}/fields/{j}/text"))
            _check_button(block.get("accessory"), f"{where}/accessory", problems)
        elif kind == "header":
            text_obj = block.get("text")
            text = _text_of(text_obj)
            if text is None or not isinstance(text_obj, dict) or text_obj.get("type") != "plain_text":
                problems.append(f"must be a plain_text text object [json-pointer:{where}/text]")
            elif len(text) > MAX_HEADER_TEXT:
                problems.append(_too_long(MAX_HEADER_TEXT, f"{where}/text/text"))
        elif kind in ("actions", "context"):
            limit = MAX_ACTIONS_ELEMENTS if kind == "actions" else MAX_CONTEXT_ELEMENTS
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                problems.append(f"missing required field: elements [json-pointer:{where}/elements]")
            elif len(elements) > limit:
                problems.append(_too_many(limit, f"{where}/elements"))
            else:
                for j, element in enumerate(elements):
                    _check_button(element, f"{where}/elements/{j}", problems)
    return problems


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, bytes]]:
    """Split a multipart/form-data body into (text fields, file parts)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP_POLICY).parsebytes(head + body)
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    if not message.is_multipart():
        return fields, files
    for part in message.iter_parts():
        param = part.get_param("name", header="content-disposition")
        name = param if isinstance(param, str) else ""
        decoded = part.get_payload(decode=True)
        payload = decoded if isinstance(decoded, bytes) else b""
        if part.get_filename() is not None:
            files[name or "file"] = payload
        else:
            fields[name] = payload.decode(part.get_content_charset() or "utf-8", "replace")
    return fields, files


def _plain_reason(status: int) -> str:
    if status == HTTPStatus.INTERNAL_SERVER_ERROR:
        return "internal error"
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return "error"


def _encode_cursor(ts: str) -> str:
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
    except ValueError:
        raise _ArgError("invalid_cursor") from None
    prefix, _, ts = text.partition(":")
    if prefix != "next_ts" or not ts:
        raise _ArgError("invalid_cursor")
    try:
        _ts_key(ts)
    except ValueError:
        raise _ArgError("invalid_cursor") from None
    return ts


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops SYNs under concurrent clients (1 s retransmit stalls)
    fake: FakeSlack

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients that time out and hang up are an expected part of the tests."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "FakeSlack/1.0"

    def do_GET(self) -> None:
        self.server.fake._serve(self)

    def do_POST(self) -> None:
        self.server.fake._serve(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep pytest output clean."""


class FakeSlack:
    """A fake Slack workspace served over HTTP on loopback; see the module docstring."""

    def __init__(
        self,
        token: str = "xoxb-test-token",
        channels: Iterable[str] = ("C0CRISIS", "C0OTHER"),
        team: str = "T0TEST",
    ) -> None:
        self.token = token
        self.channels: tuple[str, ...] = tuple(channels)
        self.team = team
        self.team_name = "Fake Slack"
        self.bot_user = "crisis-radar"
        self.bot_user_id = "U0BOTUSER"
        self.bot_id = "B0BOTID"
        self.app_id = "A0APPID"
        self.requests: list[Received] = []
        self.messages: dict[tuple[str, str], Message] = {}
        self.files: dict[str, UploadedFile] = {}
        self._lock = threading.RLock()
        self._failures: dict[str, deque[_Failure]] = {}
        self._down_status: int | None = None
        self._delay = 0.0
        self._last_us = 0
        self._file_seq = 0
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._methods: dict[str, Callable[[dict[str, Any]], JSON]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "files.info": self._files_info,
        }

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlack:
        """Bind a free loopback port and serve from a daemon thread. Returns ``self``."""
        if self._server is not None:
            raise RuntimeError("FakeSlack already started")
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fakeslack", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; delayed answers in flight are released at once."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        """The value for ``WebClient(base_url=...)``: ``http://127.0.0.1:PORT/api/``."""
        return f"{self.root_url}/api/"

    # ------------------------------------------------------------------ fault injection

    def fail_next(
        self,
        method: str,
        *,
        count: int = 1,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` (``"*"``: any request) with a failure.

        * ``status=429``: HTTP 429, ``Retry-After: retry_after`` (default 1) and
          ``{"ok": false, "error": error or "ratelimited"}``.
        * ``status=200``: ``{"ok": false, "error": error or "internal_error"}``.
        * any other status: that status with a plain-text body ("internal error" for 500), or a JSON
          ``ok: false`` body when ``error`` is given. ``retry_after`` adds the header here too.

        Queued failures for the exact method are used before ``"*"`` ones; they fire before
        authentication is checked, the way a gateway in front of Slack would answer.
        """
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            queue = self._failures.setdefault(method, deque())
            queue.extend(_Failure(status, error, retry_after) for _ in range(count))

    def set_down(self, down: bool, status: int = 503) -> None:
        """Simulate an outage: while down, every request is answered ``status`` (plain text)."""
        with self._lock:
            self._down_status = status if down else None

    def delay(self, seconds: float) -> None:
        """Hold every answer ``seconds`` before sending it (0 turns it off)."""
        with self._lock:
            self._delay = max(0.0, float(seconds))

    # ------------------------------------------------------------------ inspection

    def parents(self, channel: str | None = None) -> list[Message]:
        """Top-level messages (no ``thread_ts``), in ts order, of ``channel`` or of all channels."""
        with self._lock:
            found = [
                m
                for m in self.messages.values()
                if m.thread_ts is None and (channel is None or m.channel == channel)
            ]
        return sorted(found, key=lambda m: (_ts_key(m.ts), m.channel))

    def replies(self, channel: str, thread_ts: str) -> list[Message]:
        """Replies in the thread under ``thread_ts`` (parent excluded), in ts order."""
        with self._lock:
            return self._replies_locked(channel, thread_ts)

    def calls(self, method: str) -> list[Received]:
        """Every request of ``method`` received so far, in arrival order."""
        with self._lock:
            return [r for r in self.requests if r.method == method]

    # ------------------------------------------------------------------ HTTP plumbing

    def _serve(self, handler: _Handler) -> None:
        arrived = time.monotonic()
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length > 0 else b""
        headers = dict(handler.headers.items())
        path = unquote(parts.path)
        with self._lock:
            if path.startswith("/api/"):
                method = path[len("/api/") :]
                args, reply = self._api(method, parts.query, headers, body)
            elif path.startswith("/upload/v1/"):
                method = UPLOAD
                args, reply = self._upload(path[len("/upload/v1/") :], headers, body)
            else:
                method, args, reply = path, {}, self._plain(404)
            self.requests.append(Received(method, args, headers, arrived, reply.status, reply.answer))
            delay = self._delay
        if delay:
            self._stopping.wait(delay)
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", reply.content_type)
            handler.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(reply.body)
        except OSError:
            pass  # the client gave up (timeout) and closed the connection

    @staticmethod
    def _json(answer: JSON, status: int = 200, headers: dict[str, str] | None = None) -> _Reply:
        body = json.dumps(answer).encode()
        return _Reply(status, body, "application/json; charset=utf-8", answer, headers or {})

    @staticmethod
    def _plain(status: int, text: str | None = None, headers: dict[str, str] | None = None) -> _Reply:
        text = _plain_reason(status) if text is None else text
        return _Reply(status, text.encode(), "text/plain; charset=utf-8", {"raw": text}, headers or {})

    def _injected(self, method: str) -> _Reply | None:
        """The outage or queued failure answer for ``method``, if any (caller holds the lock)."""
        if self._down_status is not None:
            return self._plain(self._down_status)
        failure = None
        for key in (method, "*"):
            queue = self._failures.get(key)
            if queue:
                failure = queue.popleft()
                break
        if failure is None:
            return None
        headers = {}
        if failure.retry_after is not None or failure.status == 429:
            headers["Retry-After"] = str(failure.retry_after if failure.retry_after is not None else 1)
        if failure.status == 429:
            return self._json({"ok": False, "error": failure.error or "ratelimited"}, 429, headers)
        if failure.status == 200:
            return self._json({"ok": False, "error": failure.error or "internal_error"}, 200, headers)
        if failure.error is not None:
            return self._json({"ok": False, "error": failure.error}, failure.status, headers)
        return self._plain(failure.status, headers=headers)

    def _parse_args(self, query: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        if not body:
            return args
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        mime = content_type.split(";", 1)[0].strip().lower()
        if mime == "application/json":
            try:
                decoded = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise _ArgError("invalid_json") from None
            if not isinstance(decoded, dict):
                raise _ArgError("invalid_json")
            args.update(decoded)
        elif mime == "application/x-www-form-urlencoded":
            try:
                args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
            except (UnicodeDecodeError, ValueError):
                raise _ArgError("invalid_form_data") from None
        elif mime == "multipart/form-data":
            fields, _files = _parse_multipart(content_type, body)
            args.update(fields)
        elif not mime:
            raise _ArgError("missing_post_type")
        else:
            raise _ArgError("invalid_post_type")
        return args

    def _authenticate(self, headers: dict[str, str], args: dict[str, Any]) -> str | None:
        """The auth error for this request, or None when the token is right."""
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        presented: str | None = None
        if authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                return "invalid_auth"
            presented = value.strip()
        elif args.get("token"):
            presented = str(args["token"])
        if presented is None:
            return "not_authed"
        return None if presented == self.token else "invalid_auth"

    def _api(
        self, method: str, query: str, headers: dict[str, str], body: bytes
    ) -> tuple[dict[str, Any], _Reply]:
        try:
            args = self._parse_args(query, headers, body)
            parse_error = None
        except _ArgError as err:
            args, parse_error = dict(parse_qsl(query, keep_blank_values=True)), err.error
        token_arg = args.pop("token", None)
        injected = self._injected(method)
        if injected is not None:
            return args, injected
        if parse_error is not None:
            return args, self._json({"ok": False, "error": parse_error})
        handler = self._methods.get(method)
        if handler is None:
            return args, self._json({"ok": False, "error": "unknown_method", "req_method": method})
        auth_args = {"token": token_arg} if token_arg is not None else {}
        auth_error = self._authenticate(headers, auth_args)
        if auth_error is not None:
            return args, self._json({"ok": False, "error": auth_error})
        try:
            answer = handler(args)
        except _ArgError as err:
            answer = {"ok": False, "error": err.error}
            if err.messages:
                answer["errors"] = [m.removeprefix("[ERROR] ") for m in err.messages]
                answer["response_metadata"] = {"messages": err.messages}
        return args, self._json(answer)

    def _upload(self, ticket: str, headers: dict[str, str], body: bytes) -> tuple[dict[str, Any], _Reply]:
        file_id = ticket.strip("/")
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        data = body
        if content_type.lower().startswith("multipart/form-data"):
            _fields, parts = _parse_multipart(content_type, body)
            data = next(iter(parts.values()), body)
        args = {"file_id": file_id, "length": len(data)}
        injected = self._injected(UPLOAD)
        if injected is not None:
            return args, injected
        stored = self.files.get(file_id)
        if stored is None or stored.completed:
            return args, self._plain(404, "Not Found")
        stored.content = data
        stored.uploaded = True
        return args, self._plain(200, f"OK - {len(data)}")

    # ------------------------------------------------------------------ state helpers (lock held)

    def _next_ts(self) -> str:
        now_us = time.time_ns() // 1000
        us = max(now_us, self._last_us + 1)
        self._last_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def _require_channel(self, args: dict[str, Any]) -> str:
        channel = _opt_str(args, "channel")
        if not channel or channel not in self.channels:
            raise _ArgError("channel_not_found")
        return channel

    def _replies_locked(self, channel: str, thread_ts: str) -> list[Message]:
        found = [m for m in self.messages.values() if m.channel == channel and m.thread_ts == thread_ts]
        return sorted(found, key=lambda m: _ts_key(m.ts))

    def _content(self, args: dict[str, Any]) -> tuple[str, list[Any] | None]:
        """Validated ``(text, blocks)`` of a post/update call."""
        blocks = _json_arg(args, "blocks", "invalid_blocks_format")
        if blocks is not None:
            problems = _check_blocks(blocks)
            if problems:
                error = "invalid_blocks_format" if not isinstance(blocks, list) else "invalid_blocks"
                raise _ArgError(error, [f"[ERROR] {p}" for p in problems])
        text = _opt_str(args, "text") or ""
        if not text and not blocks:
            raise _ArgError("no_text")
        if len(text) > MAX_TEXT:
            raise _ArgError("msg_too_long")
        return text, blocks

    @staticmethod
    def _metadata(args: dict[str, Any]) -> dict[str, Any] | None:
        """Validated metadata; ``{}`` means "remove" (chat.update) and is returned as such."""
        metadata = _json_arg(args, "metadata", "invalid_metadata_format")
        if metadata is None:
            return None
        if not isinstance(metadata, dict):
            raise _ArgError("invalid_metadata_format")
        if metadata and (
            not isinstance(metadata.get("event_type"), str)
            or not isinstance(metadata.get("event_payload", {}), dict)
        ):
            raise _ArgError("invalid_metadata_format")
        return metadata

    def _file_object(self, f: UploadedFile, *, shares: bool) -> JSON:
        now = int(time.time())
        extension = f.filename.rsplit(".", 1)[-1].lower() if "." in f.filename else "binary"
        url = f"https://files.slack.com/files-pri/{self.team}-{f.id}/{quote(f.filename)}"
        obj: JSON = {
            "id": f.id,
            "created": now,
            "timestamp": now,
            "name": f.filename,
            "title": f.title or f.filename,
            "mimetype": mimetypes.guess_type(f.filename)[0] or "application/octet-stream",
            "filetype": extension,
            "pretty_type": extension.upper(),
            "user": self.bot_user_id,
            "user_team": self.team,
            "editable": False,
            "size": len(f.content),
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": f.channel is not None,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": url,
            "url_private_download": f"{url}?download=1",
            "permalink": f"https://fakeslack.slack.com/files/{self.bot_user_id}/{f.id}/{quote(f.filename)}",
            "comments_count": 0,
            "has_rich_preview": False,
            "file_access": "visible",
        }
        if f.alt_text:
            obj["alt_txt"] = f.alt_text
        if shares:
            obj["channels"] = [f.channel] if f.channel else []
            obj["groups"] = []
            obj["ims"] = []
            obj["shares"] = {}
            if f.channel and f.share_ts:
                share: JSON = {
                    "reply_users": [],
                    "reply_users_count": 0,
                    "reply_count": 0,
                    "ts": f.share_ts,
                    "channel_name": f.channel.lower(),
                    "team_id": self.team,
                }
                if f.thread_ts:
                    share["thread_ts"] = f.thread_ts
                obj["shares"] = {"public": {f.channel: [share]}}
        return obj

    def _render(self, m: Message, *, include_metadata: bool) -> JSON:
        out: JSON = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team,
            "text": m.text,
            "ts": m.ts,
        }
        if m.blocks is not None:
            out["blocks"] = m.blocks
        if m.thread_ts is not None:
            out["thread_ts"] = m.thread_ts
            out["parent_user_id"] = self.bot_user_id
        else:
            thread = self._replies_locked(m.channel, m.ts)
            if thread:
                out["thread_ts"] = m.ts
                out["reply_count"] = len(thread)
                out["reply_users_count"] = 1
                out["reply_users"] = [self.bot_user_id]
                out["latest_reply"] = thread[-1].ts
                out["is_locked"] = False
                out["subscribed"] = False
        if m.edits:
            out["edited"] = {"user": self.bot_user_id, "ts": m.edits[-1]["edited_ts"]}
        if m.files:
            shared = [self.files[i] for i in m.files if i in self.files]
            out["files"] = [self._file_object(f, shares=False) for f in shared]
            out["upload"] = True
            out["display_as_bot"] = False
        if include_metadata and m.metadata:
            out["metadata"] = m.metadata
        return out

    @staticmethod
    def _window(args: dict[str, Any]) -> tuple[Decimal | None, Decimal | None, bool, int]:
        def parse(key: str) -> Decimal | None:
            raw = _opt_str(args, key)
            if raw is None or raw == "":
                return None
            try:
                return Decimal(raw)
            except InvalidOperation:
                raise _ArgError(f"invalid_ts_{key}") from None

        raw_limit = args.get("limit")
        try:
            limit = int(raw_limit) if raw_limit not in (None, "") else 100
        except (TypeError, ValueError):
            raise _ArgError("invalid_limit") from None
        return parse("oldest"), parse("latest"), _truthy(args.get("inclusive")), max(1, min(limit, 999))

    @staticmethod
    def _in_window(ts: str, oldest: Decimal | None, latest: Decimal | None, inclusive: bool) -> bool:
        value = Decimal(ts)
        if oldest is not None and (value < oldest or (value == oldest and not inclusive)):
            return False
        return not (latest is not None and (value > latest or (value == latest and not inclusive)))

    # ------------------------------------------------------------------ API methods (lock held)

    def _auth_test(self, args: dict[str, Any]) -> JSON:
        return {
            "ok": True,
            "url": "https://fakeslack.slack.com/",
            "team": self.team_name,
            "user": self.bot_user,
            "team_id": self.team,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: dict[str, Any]) -> JSON:
        channel = self._require_channel(args)
        text, blocks = self._content(args)
        metadata = self._metadata(args) or None
        thread_ts = _opt_str(args, "thread_ts") or None
        if thread_ts is not None:
            parent = self.messages.get((channel, thread_ts))
            if parent is None or parent.thread_ts is not None:
                raise _ArgError("thread_not_found")
        message = Message(channel, self._next_ts(), text, blocks, thread_ts, metadata)
        self.messages[(channel, message.ts)] = message
        return {
            "ok": True,
            "channel": channel,
            "ts": message.ts,
            "message": self._render(message, include_metadata=True),
        }

    def _chat_update(self, args: dict[str, Any]) -> JSON:
        channel = self._require_channel(args)
        ts = _opt_str(args, "ts")
        message = self.messages.get((channel, ts or ""))
        if message is None:
            raise _ArgError("message_not_found")
        text, blocks = self._content(args)
        metadata = self._metadata(args)
        message.edits.append(
            {
                "text": message.text,
                "blocks": message.blocks,
                "metadata": message.metadata,
                "edited_ts": self._next_ts(),
            }
        )
        message.text = text
        message.blocks = blocks
        if metadata is not None:  # omitted: keep; {}: remove (as Slack documents)
            message.metadata = metadata or None
        return {
            "ok": True,
            "channel": channel,
            "ts": message.ts,
            "text": text,
            "message": self._render(message, include_metadata=True),
        }

    def _page(
        self, ordered: list[Message], args: dict[str, Any], newest_first: bool
    ) -> tuple[list[Message], str]:
        cursor = _opt_str(args, "cursor")
        if cursor:
            start = _ts_key(_decode_cursor(cursor))
            ordered = [
                m for m in ordered if (_ts_key(m.ts) <= start if newest_first else _ts_key(m.ts) >= start)
            ]
        _, _, _, limit = self._window(args)
        page, rest = ordered[:limit], ordered[limit:]
        return page, (_encode_cursor(rest[0].ts) if rest else "")

    def _conversations_history(self, args: dict[str, Any]) -> JSON:
        channel = self._require_channel(args)
        oldest, latest, inclusive, _ = self._window(args)
        include_metadata = _truthy(args.get("include_all_metadata"))
        ordered = sorted(
            (
                m
                for m in self.messages.values()
                if m.channel == channel
                and m.thread_ts is None
                and self._in_window(m.ts, oldest, latest, inclusive)
            ),
            key=lambda m: _ts_key(m.ts),
            reverse=True,
        )
        page, next_cursor = self._page(ordered, args, newest_first=True)
        return {
            "ok": True,
            "messages": [self._render(m, include_metadata=include_metadata) for m in page],
            "has_more": bool(next_cursor),
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _conversations_replies(self, args: dict[str, Any]) -> JSON:
        channel = self._require_channel(args)
        ts = _opt_str(args, "ts")
        message = self.messages.get((channel, ts or ""))
        if message is None:
            raise _ArgError("thread_not_found")
        parent = self.messages.get((channel, message.thread_ts)) if message.thread_ts else message
        if parent is None:
            raise _ArgError("thread_not_found")
        oldest, latest, inclusive, _ = self._window(args)
        include_metadata = _truthy(args.get("include_all_metadata"))
        thread = [parent] + [
            m
            for m in self._replies_locked(channel, parent.ts)
            if self._in_window(m.ts, oldest, latest, inclusive)
        ]
        page, next_cursor = self._page(thread, args, newest_first=False)
        return {
            "ok": True,
            "messages": [self._render(m, include_metadata=include_metadata) for m in page],
            "has_more": bool(next_cursor),
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _files_get_upload_url_external(self, args: dict[str, Any]) -> JSON:
        filename = _opt_str(args, "filename")
        raw_length = args.get("length")
        problems = []
        if not filename:
            problems.append("[ERROR] missing required field: filename")
        try:
            length = int(raw_length) if raw_length not in (None, "") else -1
        except (TypeError, ValueError):
            length = -1
        if length < 0:
            problems.append("[ERROR] missing required field: length")
        if problems:
            raise _ArgError("invalid_arguments", problems)
        self._file_seq += 1
        file_id = f"F0FAKE{self._file_seq:05d}"
        self.files[file_id] = UploadedFile(
            id=file_id,
            filename=filename or "",
            length=length,
            alt_text=_opt_str(args, "alt_txt") or _opt_str(args, "alt_text"),
        )
        return {"ok": True, "upload_url": f"{self.root_url}/upload/v1/{file_id}", "file_id": file_id}

    def _files_complete_upload_external(self, args: dict[str, Any]) -> JSON:
        entries = _json_arg(args, "files", "invalid_arguments")
        if not isinstance(entries, list) or not entries:
            raise _ArgError("invalid_arguments", ["[ERROR] missing required field: files"])
        chosen: list[tuple[UploadedFile, str | None]] = []
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                raise _ArgError("invalid_arguments", ["[ERROR] files items need an id"])
            stored = self.files.get(entry["id"])
            if stored is None or not stored.uploaded or stored.completed:
                raise _ArgError("file_not_found")
            chosen.append((stored, _opt_str(entry, "title")))
        targets: list[str] = []
        channel_id = _opt_str(args, "channel_id")
        if channel_id:
            targets.append(channel_id)
        channels_arg = args.get("channels")
        if isinstance(channels_arg, list):
            targets.extend(str(c) for c in channels_arg)
        elif channels_arg:
            targets.extend(c.strip() for c in str(channels_arg).split(",") if c.strip())
        targets = list(dict.fromkeys(targets))
        if any(t not in self.channels for t in targets):
            raise _ArgError("invalid_channel")
        thread_ts = _opt_str(args, "thread_ts") or None
        if thread_ts is not None:
            parent = self.messages.get((targets[0], thread_ts)) if len(targets) == 1 else None
            if parent is None or parent.thread_ts is not None:
                raise _ArgError("invalid_arguments", ["[ERROR] thread_ts needs one channel and a parent ts"])
        initial_comment = _opt_str(args, "initial_comment")
        blocks = None
        if not initial_comment:
            blocks = _json_arg(args, "blocks", "invalid_blocks_format")
            problems = _check_blocks(blocks) if blocks is not None else []
            if problems:
                raise _ArgError("invalid_blocks", [f"[ERROR] {p}" for p in problems])
        for stored, title in chosen:
            stored.title = title or stored.filename
            stored.completed = True
            stored.initial_comment = initial_comment
            if targets:
                stored.channel = targets[0]
                stored.thread_ts = thread_ts
        for target in targets:
            share = Message(
                channel=target,
                ts=self._next_ts(),
                text=initial_comment or "",
                blocks=blocks,
                thread_ts=thread_ts,
                files=[stored.id for stored, _ in chosen],
            )
            self.messages[(target, share.ts)] = share
            if target == targets[0]:
                for stored, _ in chosen:
                    stored.share_ts = share.ts
        # Like Slack, the answer names the files but not the message that shares them.
        return {"ok": True, "files": [self._file_object(f, shares=False) for f, _ in chosen]}

    def _files_info(self, args: dict[str, Any]) -> JSON:
        file_id = _opt_str(args, "file")
        stored = self.files.get(file_id or "")
        if stored is None or not stored.completed:
            raise _ArgError("file_not_found")
        return {
            "ok": True,
            "file": self._file_object(stored, shares=True),
            "comments": [],
            "response_metadata": {"next_cursor": ""},
        }
