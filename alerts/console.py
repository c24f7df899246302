"""Console notifier: prints each announced incident event the way Slack will show it.

The default notifier when no Slack token is configured (and the one ``radar demo`` uses).
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from alerts.escalation import IncidentEvent
from alerts.incident import iso
from alerts.level import Level
from alerts.wording import headline_parts

_ICONS = {Level.CALM: "✅", Level.WATCH: "👀", Level.WARNING: "🟠", Level.CRISIS: "🔴"}


def headline(event: IncidentEvent) -> str:
    """The one line a phone notification shows (Slack's top-level ``text``)."""
    incident = event.incident
    why = incident.why
    stream = why.get("stream_name") or incident.stream
    action = event.action
    if event.type == "resolved":
        if action is not None:
            return f"{_ICONS[Level.CALM]} Resolved by {action.actor}: {stream} (peak: {incident.peak_level})"
        return f"{_ICONS[Level.CALM]} Resolved: {stream} is back to normal (peak: {incident.peak_level})"
    if event.type == "acknowledged" and action is not None:
        return f"👍 Acknowledged by {action.actor}: {str(event.level).upper()} on {stream}"
    if event.type == "snoozed" and action is not None:
        until = f" until {iso(action.until)}" if action.until else ""
        return f"💤 Snoozed{until} by {action.actor}: {str(event.level).upper()} on {stream}"
    parts = [f"{_ICONS[event.level]} {str(event.level).upper()}: {stream}"]
    parts += headline_parts(why, easing=event.type == "deescalated")
    return " — ".join(parts)


def render(event: IncidentEvent) -> str:
    """The full message body as plain text."""
    incident = event.incident
    why: dict[str, Any] = incident.why
    lines = [headline(event)]
    lines.append(
        f"   incident {incident.id} · since {iso(incident.opened_at)}"
        f" · {event.type} at {iso(event.change.at)}"
    )
    if event.type not in ("resolved", "acknowledged", "snoozed") and why:
        if "mentions" in why:
            lo, hi = why.get("band", (0.0, 0.0))
            lines.append(
                f"   mentions: {why['mentions']:.0f} in {why.get('window_minutes', '?')} min vs "
                f"{why.get('expected', 0.0):.0f} expected (normal band {lo:.0f}–{hi:.0f} per bucket)"
            )
        if "negative" in why:
            lines.append(
                f"   negative: {why['negative']:.0f} vs {why.get('negative_expected', 0.0):.1f} expected "
                f"(surprise 1 in 10^{why.get('surprise', 0.0):.0f})"
            )
        if why.get("top_terms"):
            terms = ", ".join(f"{t['term']} (×{t['lift']:.0f})" for t in why["top_terms"][:5])
            lines.append(f"   surging terms: {terms}")
        for post in why.get("top_posts", [])[:3]:
            text = post.get("text", "").replace("\n", " ")
            lines.append(
                f"   ↗ {post.get('author', '?')} ({post.get('followers', 0):,} followers, "
                f"{post.get('reshares', 0)} reshares): {text[:100]} {post.get('url', '')}".rstrip()
            )
    return "\n".join(lines)


class ConsoleNotifier:
    """Writes each event it is given to a text stream (stdout by default)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def notify(self, event: IncidentEvent) -> None:
        """Print the event."""
        out = self.stream or sys.stdout
        out.write(render(event) + "\n\n")
        out.flush()
