"""Exports of the incident store: JSON and CSV of incidents and timelines, and post-mortem drafts.

>>> from radar.incidents.store import IncidentStore
>>> store = IncidentStore.open("sqlite://")
>>> incidents_csv([]).splitlines()[0].split(",")[:4]
['id', 'stream', 'kind', 'peak_level']
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from radar.incidents.figures import Figures, duration, figures
from radar.incidents.store import Entry, IncidentRow, IncidentStore
from radar.sample import Sample

INCIDENT_FIELDS = (
    "id", "stream", "kind", "peak_level", "level", "opened_at", "onset", "detected_at", "acknowledged_at",
    "acknowledged_by", "resolved_at", "resolved_by", "time_to_detect_seconds", "time_to_acknowledge_seconds",
    "time_to_resolve_seconds", "peak_mentions_per_minute", "peak_multiple", "peak_negative_share",
    "total_mentions", "total_negative", "top_terms",
)  # fmt: skip


def iso(t: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC (None stays None)."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if t is not None else None


def incident_summary(row: IncidentRow, f: Figures) -> dict[str, Any]:
    """One incident as a flat JSON object (the list API and the CSV rows)."""
    return {
        "id": row.id,
        "stream": row.stream,
        "stream_name": row.stream_name,
        "kind": row.kind,
        "peak_level": row.peak_level,
        "level": row.level,
        "opened_at": iso(row.opened_at),
        "onset": iso(f.onset),
        "detected_at": iso(f.detected),
        "acknowledged_at": iso(f.acknowledged),
        "acknowledged_by": f.acknowledged_by,
        "resolved_at": iso(f.resolved),
        "resolved_by": f.resolved_by,
        "time_to_detect_seconds": f.time_to_detect,
        "time_to_acknowledge_seconds": f.time_to_acknowledge,
        "time_to_resolve_seconds": f.time_to_resolve,
        "peak_mentions_per_minute": f.peak_mentions_per_minute,
        "peak_multiple": f.peak_multiple,
        "peak_negative_share": f.peak_negative_share,
        "total_mentions": f.total_mentions,
        "total_negative": f.total_negative,
        "top_terms": [t.get("term") for t in f.top_terms],
    }


def incident_detail(store: IncidentStore, row: IncidentRow) -> dict[str, Any]:
    """Everything about one incident: summary, figures, timeline, samples."""
    samples = store.samples(row.id)
    f = figures(row, samples)
    return {
        "incident": incident_summary(row, f),
        "figures": f.to_json(),
        "why": row.why,
        "timeline": [e.to_json() for e in store.timeline(row.id)],
        "samples": [s._asdict() | {"at": iso(s.t)} for s in samples],
        "samples_dropped": row.samples_dropped,
    }


def _csv(rows: Sequence[dict[str, Any]], fields: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ";".join(v) if isinstance(v, list) else v for k, v in row.items()})
    return out.getvalue()


def incidents_csv(summaries: Sequence[dict[str, Any]]) -> str:
    """Incident summaries as CSV (one row each; lists joined with ``;``)."""
    return _csv(summaries, INCIDENT_FIELDS)


def timeline_csv(incident_id: str, entries: Sequence[Entry]) -> str:
    """An incident's timeline as CSV: at, type, level, actor, detail (JSON)."""
    import json

    rows = [
        {
            "incident": incident_id,
            "at": iso(e.at),
            "type": e.type,
            "level": e.level or "",
            "actor": e.actor or "",
            "detail": json.dumps(e.detail, ensure_ascii=False, sort_keys=True),
        }
        for e in entries
    ]
    return _csv(rows, ("incident", "at", "type", "level", "actor", "detail"))


def describe(entry: Entry) -> str:
    """One line saying what a timeline event was."""
    d = entry.detail
    if entry.type == "note":
        return str(d.get("text", ""))
    if entry.type == "notified":
        return f"{d.get('what', 'message')} delivered to {d.get('notifier', 'slack')}"
    if entry.type in ("acknowledged", "snoozed", "resolved") and entry.actor:
        until = f" until {iso(d['until'])}" if d.get("until") else ""
        return f"{entry.type} by {entry.actor}{until}"
    why = d.get("why") or {}
    if why:
        parts = []
        if "ratio" in why and "window_minutes" in why:
            parts.append(
                f"negative mentions {float(why['ratio']):.1f}× normal over {why['window_minutes']} min"
            )
        if "mentions" in why:
            parts.append(
                f"{float(why['mentions']):.0f} mentions vs {float(why.get('expected', 0)):.0f} expected"
            )
        if "negative_share" in why:
            parts.append(
                f"{float(why['negative_share']):.0%} negative "
                f"(baseline {float(why.get('negative_share_baseline', 0)):.0%})"
            )
        terms = [str(t.get("term")) for t in why.get("top_terms", [])[:5]]
        if terms:
            parts.append("terms: " + ", ".join(terms))
        return "; ".join(parts)
    return ""


def postmortem(row: IncidentRow, f: Figures, entries: Sequence[Entry], chart_file: str) -> str:
    """A Markdown post-mortem draft: the facts filled in, the questions left for people."""
    name = row.stream_name or row.stream
    lines = [
        f"# Post-mortem (draft): {name}, {row.kind} incident of {iso(row.opened_at)}",
        "",
        f"Incident `{row.id}` · peak **{row.peak_level}** · "
        + (f"resolved {iso(row.resolved_at)}" if row.resolved_at else "**still open**"),
        "",
        f"![Mentions against the expected band]({chart_file})",
        "",
        "## Figures",
        "",
        "| | |",
        "|---|---|",
        f"| Onset (first abnormal bucket) | {iso(f.onset)} |",
        f"| Detected (first warning) | {iso(f.detected) or '—'} ({duration(f.time_to_detect)} after onset) |",
        f"| Acknowledged | {iso(f.acknowledged) or '—'}"
        + (f" by {f.acknowledged_by}" if f.acknowledged_by else "")
        + f" ({duration(f.time_to_acknowledge)} after detection) |",
        f"| Resolved | {iso(f.resolved) or '—'}"
        + (f" by {f.resolved_by}" if f.resolved_by else "")
        + f" ({duration(f.time_to_resolve)} after onset) |",
        f"| Peak | {f.peak_mentions_per_minute:g} mentions/min"
        + (f", {f.peak_multiple:g}× normal" if f.peak_multiple else "")
        + f"; negative share up to {f.peak_negative_share:.0%} |",
        f"| Mentions while open | {f.total_mentions:,} ({f.total_negative:,} negative) |",
        "",
        "## What drove it",
        "",
    ]
    if f.top_terms:
        lines.append(
            "Surging terms: "
            + ", ".join(f"`{t.get('term')}` (×{float(t.get('lift', 0)):.0f})" for t in f.top_terms)
        )
        lines.append("")
    for post in f.top_posts:
        text = " ".join(str(post.get("text", "")).split())
        lines.append(
            f"- {post.get('author', '?')} ({int(post.get('followers') or 0):,} followers, "
            f"{int(post.get('reshares') or 0):,} reshares): “{text}” {post.get('url', '')}".rstrip()
        )
    lines += ["", "## Timeline", "", "| time (UTC) | event | level | who | detail |", "|---|---|---|---|---|"]
    for e in entries:
        if e.type == "notified":
            continue  # deliveries are in the exports; the story is the changes and the people
        detail = describe(e).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {iso(e.at)} | {e.type} | {e.level or ''} | {e.actor or ''} | {detail} |")
    lines += [
        "",
        "## Questions for the review",
        "",
        "- When did we first know, and from where? Could the radar have told us sooner?",
        "- What did we say publicly, and when?",
        "- What would we do differently next time?",
        "",
    ]
    return "\n".join(lines)


def samples_of(store: IncidentStore, incident_id: str) -> list[Sample]:
    """The incident's samples (a convenience for the CLI and pages)."""
    return store.samples(incident_id)
