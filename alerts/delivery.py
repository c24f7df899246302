"""The Slack dispatcher: drains the outbox into Slack's Web API, politely and without losing anything.

One background thread (or :meth:`SlackDispatcher.run_once` in tests) does, in order of urgency:
parent messages that are due, edits of parents that show an old view, text replies, then chart
uploads (rendering a chart takes a tenth of a second: it must not delay a message).

* **Rate:** at most ``max_per_second`` messages per channel (Slack allows about one a second), and
  as many chart uploads (limited apart: a chart never holds up the next alert).
* **429:** the method (for that channel) is held for the answer's ``Retry-After`` seconds. This is
  done here rather than with slack-sdk's ``RateLimitErrorRetryHandler``, which sleeps in the calling
  thread and so would hold every other channel's alerts back too.
* **5xx and connection errors:** the item is retried with exponential backoff (1 s doubling up to
  ``max_backoff``); once Slack answers again everything waiting becomes due at once, so an outage
  of an hour ends with the parents showing the current state (one edit) and the replies that piled
  up (waiting over 30 s) folded into one reply per thread, in order.
* **Permanent errors** (a channel that does not exist or is archived, blocks Slack refuses): the item
  is marked failed, logged, counted and listed on ``/healthz``; it is not retried. **Token errors**
  (revoked, invalid) stop delivery altogether until a restart with a working token: the queued work
  stays in the outbox.
* **No duplicate parent:** a parent is marked "attempted" before its request leaves. If no clear
  answer comes back (a timeout, a 5xx, the process dying), the next attempt first looks for the
  message in the channel's history by its metadata (``event_type`` ``crisis_radar_incident``,
  ``incident_id``) and adopts it if found. Replies carry their keys the same way and are looked
  for in the thread.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from alerts.chart import Series, render_png
from alerts.outbox import Outbox, Reply, Thread
from alerts.slack_message import IncidentView, Links, clip, parent_message, when

log = logging.getLogger(__name__)

PARENT_EVENT = "crisis_radar_incident"
REPLY_EVENT = "crisis_radar_reply"
#: Replies that waited this long (seconds) are folded into one.
FOLD_AFTER = 30.0
#: Errors that mean the token no longer works: stop until restarted.
TOKEN_ERRORS = frozenset(
    {"not_authed", "invalid_auth", "token_revoked", "token_expired", "account_inactive", "no_permission",
     "missing_scope", "not_allowed_token_type", "team_access_not_granted"}
)  # fmt: skip
#: Errors worth trying again.
TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited", "timeout"}
)
#: Reasons that are counted by their name (anything else Slack says is ``slack_error``).
KNOWN_REASONS = TOKEN_ERRORS | {
    "channel_not_found", "not_in_channel", "is_archived", "invalid_blocks", "msg_too_long",
    "thread_not_found", "message_not_found", "restricted_action", "invalid_arguments",
    "rate_limited", "server_error", "connection",
}  # fmt: skip


class DeliveryObserver(Protocol):
    """Who counts deliveries (the radar's metrics)."""

    def sent(self, what: str, latency: float, incident_id: str, key: str) -> None:
        """``what`` (parent, update, reply, chart) of ``incident_id`` reached Slack ``latency`` s after
        it was queued; ``key`` identifies this delivery (the same after a restart)."""

    def failed(self, reason: str) -> None:
        """A call failed for ``reason`` (bounded set: see ``KNOWN_REASONS``)."""


class _Failure(Exception):
    def __init__(self, kind: str, reason: str, retry_after: float = 0.0) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind, self.reason, self.retry_after = kind, reason, retry_after


def classify(exc: Exception) -> _Failure:
    """What a failed call means: ``rate_limited``, ``transient``, ``permanent`` or ``token``."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = response.status_code
        error = str(response.get("error") or "") if isinstance(response.data, dict) else ""
        if status == 429 or error == "ratelimited":
            try:
                wait = float(response.headers.get("Retry-After", response.headers.get("retry-after", 1)))
            except (TypeError, ValueError):
                wait = 1.0
            return _Failure("rate_limited", "rate_limited", max(wait, 0.0))
        if status >= 500:
            return _Failure("transient", "server_error")
        if error in TOKEN_ERRORS:
            return _Failure("token", error)
        if error in TRANSIENT_ERRORS:
            return _Failure("transient", "server_error")
        return _Failure("permanent", error if error in KNOWN_REASONS else "slack_error")
    return _Failure("transient", "connection")  # URLError, timeouts, refused connections, ...


class SlackDispatcher:
    """Delivers the outbox to Slack.

    Parameters
    ----------
    outbox
        The work.
    client
        A ``slack_sdk.WebClient`` (its ``base_url`` may point anywhere that speaks the Web API); built
        without retry handlers, so that every retry decision is made here.
    group_of
        The on-call user group id of a stream ("" for none): a crisis parent mentions it.
    links
        Link templates for the messages.
    observer
        Counts deliveries and failures.
    clock
        ``() -> float``, epoch seconds (injected for tests).
    """

    def __init__(
        self,
        outbox: Outbox,
        client: WebClient,
        *,
        group_of: Callable[[str], str] = lambda stream: "",
        links: Links | None = None,
        observer: DeliveryObserver | None = None,
        clock: Callable[[], float] = time.time,
        max_per_second: float = 1.0,
        max_backoff: float = 60.0,
    ) -> None:
        self.outbox = outbox
        self.client = client
        self.group_of = group_of
        self.links = links or Links()
        self.observer = observer
        self.clock = clock
        self.spacing = 1.0 / max_per_second
        self.max_backoff = max_backoff
        self.halted: str | None = None  # a token error: nothing is sent until a restart
        self.last_error: str | None = None
        self.last_success: float | None = None
        self._failing = False  # the last call failed transiently: Slack may be down
        # (method, channel) -> earliest next call that posts a message: chat.postMessage and file
        # shares are limited apart (Slack's one message a second per channel is chat.postMessage's;
        # uploads have their own limit), so a chart never delays the next alert
        self._next_message: dict[tuple[str, str], float] = {}
        self._holds: dict[tuple[str, str], float] = {}  # (method, channel) -> held until (429)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- running -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the delivery thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="slack-dispatcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the delivery thread (what is queued stays in the outbox)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        """Something was queued: look at once."""
        self._wake.set()

    def check(self) -> None:
        """Ask Slack who the token is (``auth.test``); a refused token halts delivery at once."""
        try:
            answer = self._call("auth_test")
        except _Failure as failure:
            self._failed(failure, "auth.test", "-")
            return
        log.info("slack: posting as %s in %s", answer.get("user"), answer.get("team"))

    def _loop(self) -> None:
        self.check()
        while not self._stop.is_set():
            try:
                done = self.run_once()
            except Exception:  # never let the thread die: the outbox keeps the work
                log.exception("slack dispatcher pass failed")
                done = 0
            if done:
                continue
            self._wake.wait(self._idle_wait())
            self._wake.clear()

    def _idle_wait(self) -> float:
        now = self.clock()
        candidates = [t for t in (*self._next_message.values(), *self._holds.values()) if t > now]
        due = self.outbox.next_due()
        if due is not None and due > now:
            candidates.append(due)
        if not candidates:
            return 1.0
        return min(1.0, max(0.005, min(candidates) - now))

    def run_once(self) -> int:
        """One pass over the outbox; returns how many calls reached Slack."""
        if self.halted:
            return 0
        done = 0
        for thread in self.outbox.to_post(self.clock()):
            done += self._attempt(thread.channel, "chat.postMessage", partial(self._post_parent, thread))
        for thread in self.outbox.to_update():
            done += self._attempt(thread.channel, "chat.update", partial(self._update_parent, thread))
        replies = self.outbox.pending_replies(self.clock())
        by_incident: dict[str, list[Reply]] = {}
        for reply in replies:
            by_incident.setdefault(reply.incident_id, []).append(reply)
        for kind in ("text", "chart"):
            for incident_id, items in by_incident.items():
                chosen = [r for r in items if r.kind == kind]
                owner = self.outbox.thread(incident_id)
                if not chosen or owner is None or owner.parent_ts is None:
                    continue
                if kind == "text":
                    done += self._attempt(
                        owner.channel, "chat.postMessage", partial(self._post_texts, owner, chosen)
                    )
                else:
                    for reply in chosen:
                        done += self._attempt(
                            owner.channel, "files.upload", partial(self._upload, owner, reply)
                        )
            if self.halted:
                break
        return done

    # -- one call, with the rules around it ----------------------------------------------------
    def _attempt(self, channel: str, method: str, call: Callable[[], str]) -> int:
        """Run ``call`` if the channel and method may be called now; 1 when it reached Slack."""
        if self.halted:
            return 0
        now = self.clock()
        if self._holds.get((method, channel), 0.0) > now:
            return 0
        new_message = method != "chat.update"
        if new_message and self._next_message.get((method, channel), 0.0) > now:
            return 0
        try:
            what = call()
        except _Failure as failure:
            self._failed(failure, method, channel)
            return 0
        after = self.clock()
        if new_message:
            self._next_message[(method, channel)] = after + self.spacing
        self.last_success = after
        if self._failing:  # Slack is back: whatever waits on a backoff is due now
            self._failing = False
            self.outbox.wake_all(after)
        return 1 if what else 0

    def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, method)(**kwargs)
        except Exception as exc:  # classified: the caller decides what it means for the item
            raise classify(exc) from exc

    def _failed(self, failure: _Failure, method: str, channel: str) -> None:
        self.last_error = f"{method} {channel}: {failure.reason}"
        if self.observer is not None:
            self.observer.failed(failure.reason)
        if failure.kind == "rate_limited":
            self._holds[(method, channel)] = self.clock() + max(failure.retry_after, self.spacing)
            log.warning("slack %s on %s rate limited: waiting %.0f s", method, channel, failure.retry_after)
        elif failure.kind == "token":
            self.halted = failure.reason
            log.error("slack token refused (%s): delivery stopped until restart", failure.reason)
        elif failure.kind == "transient":
            self._failing = True
            log.warning("slack %s on %s failed (%s): will retry", method, channel, failure.reason)
        else:
            log.error("slack %s on %s refused for good: %s", method, channel, failure.reason)

    def _backoff(self, attempts: int) -> float:
        return self.clock() + min(self.max_backoff, 2.0 ** max(0, attempts - 1)) * random.uniform(0.8, 1.2)

    def _latency(self, what: str, queued_at: float, incident_id: str, key: str) -> None:
        if self.observer is not None:
            self.observer.sent(what, max(0.0, self.clock() - queued_at), incident_id, key)

    # -- parents -------------------------------------------------------------------------------
    def _post_parent(self, thread: Thread) -> str:
        view = IncidentView.from_json(thread.view)
        if thread.attempted_at is not None:  # a post went out and its answer never came back
            try:
                found = self._find_parent(thread)
            except _Failure:
                self.outbox.retry_thread(thread.incident_id, self._backoff(2))
                raise
            if found:
                self.outbox.parent_posted(thread.incident_id, found, 0, thread.channel)  # edit follows
                return "parent"
        now = self.clock()
        group = self.group_of(view.stream) if view.level == "crisis" and not view.resolved else ""
        message = parent_message(view, self.links, datetime.fromtimestamp(now, UTC), group=group)
        self.outbox.attempting_parent(thread.incident_id, now)
        try:
            answer = self._call(
                "chat_postMessage",
                channel=thread.channel,
                text=message["text"],
                blocks=message["blocks"],
                metadata={"event_type": PARENT_EVENT, "event_payload": {"incident_id": thread.incident_id}},
                unfurl_links=False,
                unfurl_media=False,
            )
        except _Failure as failure:
            if failure.kind == "transient":  # it may have arrived: look before posting again
                self.outbox.retry_thread(thread.incident_id, self._backoff(2))
            elif failure.kind == "permanent":
                self.outbox.fail_thread(thread.incident_id, failure.reason)
            else:  # a clear refusal: nothing was posted
                self.outbox.parent_not_posted(thread.incident_id, self.clock())
            raise
        channel = str(answer.get("channel") or thread.channel)
        self.outbox.parent_posted(thread.incident_id, str(answer["ts"]), thread.version, channel)
        self._latency("parent", thread.changed_at, thread.incident_id, f"{thread.incident_id}#sent:parent")
        return "parent"

    def _find_parent(self, thread: Thread) -> str | None:
        oldest = (thread.attempted_at or thread.created_at) - 120.0
        answer = self._call(
            "conversations_history",
            channel=thread.channel,
            oldest=f"{oldest:.6f}",
            include_all_metadata=True,
            limit=200,
        )
        for message in answer.get("messages", []):
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if (
                metadata.get("event_type") == PARENT_EVENT
                and payload.get("incident_id") == thread.incident_id
            ):
                return str(message["ts"])
        return None

    def _update_parent(self, thread: Thread) -> str:
        view = IncidentView.from_json(thread.view)
        now = self.clock()
        group = self.group_of(view.stream) if view.level == "crisis" and not view.resolved else ""
        message = parent_message(view, self.links, datetime.fromtimestamp(now, UTC), group=group)
        try:
            self._call(
                "chat_update",
                channel=thread.channel,
                ts=thread.parent_ts,
                text=message["text"],
                blocks=message["blocks"],
            )
        except _Failure as failure:
            if failure.kind == "permanent":
                self.outbox.fail_thread(thread.incident_id, failure.reason)
            raise
        self.outbox.shown(thread.incident_id, thread.version)
        self._latency(
            "update",
            thread.changed_at,
            thread.incident_id,
            f"{thread.incident_id}#sent:update:{thread.version}",
        )
        return "update"

    # -- replies -------------------------------------------------------------------------------
    def _post_texts(self, thread: Thread, replies: list[Reply]) -> str:
        if any(r.attempted_at is not None for r in replies):
            try:
                arrived = self._find_replies(thread)
            except _Failure:
                self.outbox.replies_not_sent([r.id for r in replies], self._backoff(2), unknown=True)
                raise
            done = [r for r in replies if r.key in arrived]
            if done:
                self.outbox.replies_sent([r.id for r in done], self.clock())
            replies = [r for r in replies if r.key not in arrived]
            if not replies:
                return "reply"
        now = self.clock()
        if len(replies) > 1 and now - replies[0].created_at < FOLD_AFTER:
            replies = replies[:1]  # on time: one reply per event
        bodies = [json.loads(r.body) for r in replies]
        if len(bodies) == 1:
            text = bodies[0]["text"]
        else:  # delivery was held up (Slack down, rate limits): one reply with every step, in order
            since = when(datetime.fromtimestamp(replies[0].created_at, UTC))
            text = f"{len(bodies)} updates since {since} (delivery was delayed):\n" + "\n".join(
                f"• {b['text']}" for b in bodies
            )
        ids = [r.id for r in replies]
        self.outbox.attempting_replies(ids, self.clock())
        try:
            self._call(
                "chat_postMessage",
                channel=thread.channel,
                thread_ts=thread.parent_ts,
                text=clip(text, 3900),
                reply_broadcast=any(b.get("broadcast") for b in bodies),
                metadata={"event_type": REPLY_EVENT, "event_payload": {"keys": [r.key for r in replies]}},
                unfurl_links=False,
                unfurl_media=False,
            )
        except _Failure as failure:
            attempts = max(r.attempts for r in replies) + 1
            if failure.kind == "permanent":
                self.outbox.fail_replies(ids, failure.reason)
            elif failure.kind == "transient":
                self.outbox.replies_not_sent(ids, self._backoff(attempts), unknown=True)
            else:
                self.outbox.replies_not_sent(ids, self.clock(), unknown=False)
            raise
        self.outbox.replies_sent(ids, self.clock())
        for reply in replies:
            self._latency("reply", reply.created_at, reply.incident_id, f"{reply.key}#sent")
        return "reply"

    def _find_replies(self, thread: Thread) -> set[str]:
        answer = self._call(
            "conversations_replies", channel=thread.channel, ts=thread.parent_ts, include_all_metadata=True
        )
        keys: set[str] = set()
        for message in answer.get("messages", []):
            metadata = message.get("metadata") or {}
            if metadata.get("event_type") == REPLY_EVENT:
                keys.update(str(k) for k in (metadata.get("event_payload") or {}).get("keys", []))
        return keys

    def _upload(self, thread: Thread, reply: Reply) -> str:
        body = json.loads(reply.body)
        series = Series.from_json(body["series"])
        png = render_png(series)
        stamp = datetime.fromtimestamp(series.points[-1][0], UTC).strftime("%Y%m%dT%H%MZ")
        self.outbox.attempting_replies([reply.id], self.clock())
        try:
            self._call(
                "files_upload_v2",
                channel=thread.channel,
                thread_ts=thread.parent_ts,
                content=png,
                filename=f"{thread.incident_id.split(':')[0]}-{stamp}.png",
                title=str(body.get("title") or "chart"),
                alt_txt=f"Mentions of {series.stream_name} against the expected band",
            )
        except _Failure as failure:
            if failure.kind == "permanent":
                self.outbox.fail_replies([reply.id], failure.reason)
            else:
                retry = self._backoff(reply.attempts + 1) if failure.kind == "transient" else self.clock()
                self.outbox.replies_not_sent([reply.id], retry, unknown=False)
            raise
        self.outbox.replies_sent([reply.id], self.clock())
        self._latency("chart", reply.created_at, reply.incident_id, f"{reply.key}#sent")
        return "chart"

    # -- what operators see --------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """What ``/healthz`` shows of Slack delivery."""
        now = self.clock()
        return {
            "halted": self.halted,
            "last_error": self.last_error,
            "last_success_age_seconds": round(now - self.last_success, 1) if self.last_success else None,
            "outbox_depth": self.outbox.depth(),
            "outbox_oldest_age_seconds": round(self.outbox.oldest(now), 1),
            "permanent_failures": self.outbox.failures(),
        }
