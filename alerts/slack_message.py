"""Slack messages for incidents: the parent message (text + Block Kit) and the thread replies.

Everything here is pure: an :class:`IncidentView` (what Slack should show of an incident now) in,
the arguments of ``chat.postMessage`` / ``chat.update`` out. The parent always shows the incident's
*current* state, so after a Slack outage one edit brings it up to date.

Slack's documented limits are kept: at most 50 blocks, 3000 characters per section text, 2000 per
field and at most 10 fields, 150 for a header, 75 for a button's text; the top-level ``text`` (what a
phone notification shows) is kept under 300 characters. Text from posts, authors and terms is escaped
(``&``, ``<``, ``>``) so that it can neither break the formatting nor ping anyone.

>>> from datetime import UTC, datetime
>>> view = IncidentView(id="acme:crisis:20260304T0915Z", stream="acme", stream_name="Acme Air",
...     level="crisis", peak_level="crisis", opened_at=datetime(2026, 3, 4, 9, 15, tzinfo=UTC),
...     why={"mentions": 412, "expected": 66.0, "window_minutes": 15, "negative_share": 0.48,
...          "negative_share_baseline": 0.12, "ratio": 6.2,
...          "top_terms": [{"term": "strike", "count": 40, "lift": 12.0}]})
>>> message = parent_message(view, Links())
>>> message["text"]
'🔴 CRISIS: Acme Air — negative mentions 6.2× normal over 15 min — 48% negative (usually 12%) — about strike'
>>> [b["type"] for b in message["blocks"]]
['header', 'section', 'section', 'context', 'actions']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alerts.incident import Action, Incident, first_acknowledgement, iso, snooze_end
from alerts.wording import headline_parts

#: Slack's limits (https://api.slack.com/reference/block-kit/blocks).
MAX_BLOCKS = 50
SECTION_CHARS = 3000
FIELD_CHARS = 2000
MAX_FIELDS = 10
HEADER_CHARS = 150
BUTTON_CHARS = 75
#: The top-level text: a phone shows about this much.
TEXT_CHARS = 300
#: Most amplified posts shown.
POSTS = 3
#: Surging terms shown.
TERMS = 6

ICONS = {"calm": "✅", "watch": "👀", "warning": "🟠", "crisis": "🔴"}
#: The buttons: (action_id, label, value suffix).
SNOOZES = ((1, "Snooze 1 h"), (4, "Snooze 4 h"))


@dataclass(frozen=True)
class Links:
    """Templates of the links a message carries (``{id}`` and ``{stream}`` are filled in)."""

    incident: str = ""
    dashboard: str = ""

    def incident_url(self, view: IncidentView) -> str:
        """The incident page of ``view`` (empty when not configured)."""
        return self.incident.format(id=view.id, stream=view.stream) if self.incident else ""

    def dashboard_url(self, view: IncidentView) -> str:
        """The dashboard of ``view``'s stream (empty when not configured)."""
        return self.dashboard.format(id=view.id, stream=view.stream) if self.dashboard else ""


@dataclass(frozen=True)
class IncidentView:
    """What Slack shows of an incident: its state now, the why of its latest level, what people did."""

    id: str
    stream: str
    stream_name: str
    level: str
    peak_level: str
    opened_at: datetime
    resolved_at: datetime | None = None
    why: dict[str, Any] = field(default_factory=dict)
    actions: tuple[Action, ...] = ()
    easing: bool = False  # its latest level change went down: the why's last minutes lead

    @classmethod
    def of(cls, incident: Incident) -> IncidentView:
        """The view of ``incident`` now."""
        why = incident.why
        return cls(
            id=incident.id,
            stream=incident.stream,
            stream_name=str(why.get("stream_name") or incident.stream),
            level=str(incident.level),
            peak_level=str(incident.peak_level),
            opened_at=incident.opened_at,
            resolved_at=incident.resolved_at,
            why=why,
            actions=tuple(incident.actions),
            easing=incident.easing,
        )

    @property
    def resolved(self) -> bool:
        """True once the incident is resolved."""
        return self.resolved_at is not None

    def acknowledged(self) -> Action | None:
        """The first acknowledgement, if any."""
        return first_acknowledgement(self.actions)

    def snoozed_until(self, now: datetime) -> datetime | None:
        """The end of the snooze running at ``now``, if any."""
        return snooze_end(self.actions, now)

    def to_json(self) -> dict[str, Any]:
        """A JSON form (what the outbox stores)."""
        return {
            "id": self.id,
            "stream": self.stream,
            "stream_name": self.stream_name,
            "level": self.level,
            "peak_level": self.peak_level,
            "opened_at": iso(self.opened_at),
            "resolved_at": iso(self.resolved_at) if self.resolved_at else None,
            "why": self.why,
            "actions": [a.to_json() for a in self.actions],
            "easing": self.easing,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IncidentView:
        """The inverse of :meth:`to_json`."""
        resolved = data.get("resolved_at")
        return cls(
            id=data["id"],
            stream=data["stream"],
            stream_name=data["stream_name"],
            level=data["level"],
            peak_level=data["peak_level"],
            opened_at=datetime.fromisoformat(data["opened_at"]),
            resolved_at=datetime.fromisoformat(resolved) if resolved else None,
            why=dict(data.get("why") or {}),
            actions=tuple(Action.from_json(a) for a in data.get("actions", [])),
            easing=bool(data.get("easing", False)),
        )


# -- text helpers ------------------------------------------------------------------------------
def escape(text: str) -> str:
    """Slack mrkdwn escaping of user text: ``&``, ``<`` and ``>`` (so no link or ping sneaks in)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def when(ts: datetime) -> str:
    """A time Slack shows in each reader's own time zone (UTC as the fallback text)."""
    epoch = int(ts.timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{iso(ts)}>"


def who(action: Action) -> str:
    """The person behind ``action`` as Slack shows them (a mention that does not notify in a field)."""
    if action.actor_id[:1] in ("U", "W"):
        return f"<@{action.actor_id}>"
    return escape(action.actor)


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def _mrkdwn(text: str, limit: int = SECTION_CHARS) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def _duration(seconds: float) -> str:
    minutes = max(0, round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"


# -- the parent message ------------------------------------------------------------------------
def summary(view: IncidentView) -> str:
    """The one line a phone notification shows (the top-level ``text``)."""
    why = view.why
    name = view.stream_name
    if view.resolved:
        return clip(f"✅ RESOLVED: {name} (peak: {view.peak_level})", TEXT_CHARS)
    parts = [f"{ICONS.get(view.level, '')} {view.level.upper()}: {name}"]
    parts += headline_parts(why, easing=view.easing)
    return clip(" — ".join(parts), TEXT_CHARS)


def _status(view: IncidentView, now: datetime) -> str:
    if view.resolved and view.resolved_at is not None:
        closer = next((a for a in view.actions if a.action == "resolve"), None)
        by = f" by {who(closer)}" if closer else ""
        lasted = _duration((view.resolved_at - view.opened_at).total_seconds())
        return f"Resolved{by} {when(view.resolved_at)} after {lasted}"
    parts = []
    ack = view.acknowledged()
    parts.append(f"Acknowledged by {who(ack)} {when(ack.at)}" if ack else "*Not acknowledged*")
    snoozed = view.snoozed_until(now)
    if snoozed is not None:
        parts.append(f"snoozed until {when(snoozed)}")
    return ", ".join(parts)


def _figures(view: IncidentView, now: datetime) -> list[dict[str, Any]]:
    why = view.why
    fields = [
        _mrkdwn(f"*Level*\n{ICONS.get(view.level, '')} {view.level} (peak {view.peak_level})", FIELD_CHARS),
        _mrkdwn(f"*Since*\n{when(view.opened_at)}", FIELD_CHARS),
    ]
    if "mentions" in why:
        expected = float(why.get("expected", 0.0))
        times = f" ({float(why['mentions']) / expected:.1f}× normal)" if expected > 0 else ""
        fields.append(
            _mrkdwn(
                f"*Mentions*\n{float(why['mentions']):,.0f} in {why.get('window_minutes', '?')} min vs "
                f"{expected:,.0f} expected{times}",
                FIELD_CHARS,
            )
        )
    if "negative_share" in why:
        fields.append(
            _mrkdwn(
                f"*Negative share*\n{float(why['negative_share']):.0%} "
                f"(baseline {float(why.get('negative_share_baseline', 0.0)):.0%})",
                FIELD_CHARS,
            )
        )
    if "negative" in why:
        fields.append(
            _mrkdwn(
                f"*Negative mentions*\n{float(why['negative']):,.0f} vs "
                f"{float(why.get('negative_expected', 0.0)):,.1f} expected "
                f"({float(why.get('ratio', 0.0)):.1f}×)",
                FIELD_CHARS,
            )
        )
    fields.append(_mrkdwn(f"*Status*\n{_status(view, now)}", FIELD_CHARS))
    return fields[:MAX_FIELDS]


def _terms(why: dict[str, Any]) -> str:
    terms = why.get("top_terms") or []
    shown = [f"`{escape(str(t.get('term', '')))}` ×{float(t.get('lift', 0.0)):.0f}" for t in terms[:TERMS]]
    return "*Surging terms:* " + ", ".join(shown) if shown else ""


def _post(post: dict[str, Any]) -> str:
    author = escape(str(post.get("author") or "someone"))
    url = str(post.get("url") or "")
    name = f"<{url}|{author}>" if url.startswith(("http://", "https://")) and "|" not in url else author
    text = escape(" ".join(str(post.get("text", "")).split()))
    return clip(
        f"↗ {name} · {int(post.get('followers') or 0):,} followers · {int(post.get('reshares') or 0):,} "
        f"reshares\n>{text}",
        SECTION_CHARS,
    )


def _buttons(view: IncidentView) -> dict[str, Any]:
    elements: list[dict[str, Any]] = []
    if view.acknowledged() is None:
        elements.append(
            {
                "type": "button",
                "action_id": "ack",
                "text": _plain("Acknowledge", BUTTON_CHARS),
                "style": "primary",
                "value": view.id,
            }
        )
    elements.append(
        {
            "type": "button",
            "action_id": "resolve",
            "text": _plain("Resolve", BUTTON_CHARS),
            "style": "danger",
            "value": view.id,
            "confirm": {
                "title": _plain("Resolve this incident?", 100),
                "text": _plain(f"{view.stream_name}: mark it resolved for everyone.", 300),
                "confirm": _plain("Resolve", 30),
                "deny": _plain("Cancel", 30),
            },
        }
    )
    for hours, label in SNOOZES:
        elements.append(
            {
                "type": "button",
                "action_id": f"snooze_{hours}h",
                "text": _plain(label, BUTTON_CHARS),
                "value": f"{view.id}|{hours}",
            }
        )
    return {"type": "actions", "block_id": "incident_actions", "elements": elements}


def parent_message(
    view: IncidentView, links: Links, now: datetime | None = None, *, group: str = ""
) -> dict[str, Any]:
    """``{"text", "blocks"}`` of the incident's parent message, showing its state at ``now``.

    ``group``, a user group id, is mentioned (a crisis pages the on-call group).
    """
    now = now or view.opened_at
    icon = ICONS["calm"] if view.resolved else ICONS.get(view.level, "")
    state = "Resolved" if view.resolved else view.level.capitalize()
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(f"{icon} {state} — {view.stream_name}", HEADER_CHARS)},
        {"type": "section", "fields": _figures(view, now)},
    ]
    if group:
        blocks.append({"type": "section", "text": _mrkdwn(f"<!subteam^{group}> on call: this needs you")})
    terms = _terms(view.why)
    if terms:
        blocks.append({"type": "section", "text": _mrkdwn(terms)})
    for post in (view.why.get("top_posts") or [])[:POSTS]:
        blocks.append({"type": "section", "text": _mrkdwn(_post(post))})
    context = [f"Incident `{escape(view.id)}`"]
    incident_url, dashboard_url = links.incident_url(view), links.dashboard_url(view)
    if incident_url:
        context.append(f"<{incident_url}|Incident page>")
    if dashboard_url:
        context.append(f"<{dashboard_url}|Dashboard>")
    blocks.append({"type": "context", "elements": [_mrkdwn(" · ".join(context))]})
    if not view.resolved:
        blocks.append(_buttons(view))
    text = summary(view) + (f" <!subteam^{group}>" if group else "")
    return {"text": text, "blocks": blocks[:MAX_BLOCKS]}


# -- thread replies ----------------------------------------------------------------------------
def reply_text(
    event_type: str,
    view: IncidentView,
    at: datetime,
    *,
    previous: str = "",
    action: Action | None = None,
    group: str = "",
) -> str:
    """The thread reply for one event; ``group`` (a user group id) is mentioned when non-empty."""
    ping = f" <!subteam^{group}>" if group else ""
    why = view.why
    detail = ""
    if "ratio" in why and "window_minutes" in why:
        detail = f": negative mentions {float(why['ratio']):.1f}× normal over {why['window_minutes']} min"
    if event_type in ("opened", "escalated"):
        return f"{ICONS.get(view.level, '')} *{view.level.upper()}* {when(at)}{detail}{ping}"
    if event_type == "deescalated":
        eased = headline_parts(why, easing=True)
        detail = f": {'; '.join(eased[:2])}" if eased and eased[0].startswith("easing") else detail
        return f"{ICONS.get(view.level, '')} Down from {previous} to *{view.level}* {when(at)}{detail}"
    if event_type == "resolved":
        by = f" by {who(action)}" if action else ""
        return f"{ICONS['calm']} Resolved{by} {when(at)} (peak {view.peak_level})"
    if event_type == "acknowledged" and action is not None:
        return f"👍 Acknowledged by {who(action)} {when(at)}: reminders stop"
    if event_type == "snoozed" and action is not None and action.until is not None:
        return (
            f"💤 Snoozed by {who(action)} until {when(action.until)}: no reminders and no "
            f"updates below {view.level} until then"
        )
    if event_type == "reminder":
        minutes = _duration((at - view.opened_at).total_seconds())
        return f"⏰ Still *{view.level.upper()}* and not acknowledged after {minutes}{detail}{ping}"
    return f"{event_type} {when(at)}"
