"""Incident pages and the incident-store API: what service directors read after a crisis.

Server-rendered HTML (Jinja2, no script, no external asset, printable):

* ``/incidents``: the list, filtered by stream, kind, peak level and date range, sorted by any column;
* ``/incidents/{id}``: the timeline chart (mentions against the expected band, negative share, level
  bands, onset / detected / acknowledged / resolved markers), the figures, what drove it (terms, most
  amplified posts), the event log, and a form to add a note;
* ``/streams/{stream}``: the stream's incidents of the last 90 days with median times to detect,
  acknowledge and resolve.

JSON (in the OpenAPI schema) and exports: ``/v1/store/incidents`` (+ ``.csv``),
``/v1/incidents/{id}/detail``, ``/v1/incidents/{id}/timeline.csv``, ``/v1/incidents/{id}/postmortem.md``,
``/v1/incidents/{id}/chart.png``, ``POST /v1/incidents/{id}/notes``, ``/v1/streams/{stream}/history``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, Field

from radar.incidents.export import (
    describe,
    incident_detail,
    incident_summary,
    incidents_csv,
    iso,
    postmortem,
    timeline_csv,
)
from radar.incidents.figures import duration, figures, median
from radar.incidents.store import LEVELS, SORTABLE, IncidentRow
from radar.incidents.timeline_chart import png, svg
from radar.service import RadarService

KINDS = ("crisis", "buzz", "source_silent")
HISTORY_DAYS = 90
#: Incidents a list shows at most.
LIST_LIMIT = 500
#: The pages load nothing and run nothing: say so to the browser (posts' links come from the public).
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
_ENV = Environment(
    loader=PackageLoader("radar.incidents", "templates"), autoescape=select_autoescape(["html"])
)


@dataclass
class Filters:
    """The incident list's filters and order (query parameters of the list, its JSON and CSV)."""

    stream: str | None = None
    kind: str | None = Query(None, description="crisis, buzz or source_silent")
    level: str | None = Query(None, description="peak level at least: watch, warning or crisis")
    since: str | None = Query(None, description="YYYY-MM-DD (UTC)")
    until: str | None = Query(None, description="YYYY-MM-DD (UTC), inclusive")
    sort: str = Query("-opened_at", description="a column, '-' first for descending")


class Note(BaseModel):
    """A note on an incident."""

    author: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=10_000)


def _day(value: str | None, name: str) -> float | None:
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC).timestamp()
    except ValueError:
        raise HTTPException(400, f"{name}: {value!r} is not a date (YYYY-MM-DD)") from None


def _clock(t: float | None) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M") if t is not None else "—"


def onset(row: IncidentRow) -> float:
    """The incident's onset (kept when it opened; the opening bucket's start for rows without one)."""
    return row.onset_at if row.onset_at is not None else row.opened_at - row.bucket_seconds


def _row_view(row: IncidentRow) -> dict[str, Any]:
    """What a list shows of an incident (from its row alone: no samples read)."""
    detected, ack, resolved = row.detected_at, row.acknowledged_at, row.resolved_at
    began = onset(row)
    return {
        "id": row.id,
        "opened": _clock(row.opened_at),
        "stream_name": row.stream_name or row.stream,
        "kind": row.kind,
        "peak_level": row.peak_level,
        "state": f"resolved {_clock(resolved)}" if resolved is not None else f"open ({row.level})",
        "ttd": duration(detected - began) if detected is not None else "—",
        "tta": duration(ack - detected) if ack is not None and detected is not None else "—",
        "ttr": duration(resolved - began) if resolved is not None else "—",
        "peak": f"{row.peak_mentions * 60.0 / row.bucket_seconds:g}",
        "total": f"{row.total_mentions:,}",
    }


def pages_router(service: RadarService) -> APIRouter:
    """The pages and store API of ``service``."""
    router = APIRouter()
    store = service.store

    def render(template: str, **context: Any) -> HTMLResponse:
        html = _ENV.get_template(template).render(nav_streams=store.streams()[:12], **context)
        return HTMLResponse(html, headers={"Content-Security-Policy": CSP})

    def query(f: Filters) -> list[IncidentRow]:
        stream, kind, level, since, until, sort = f.stream, f.kind, f.level, f.since, f.until, f.sort
        if kind and kind not in KINDS:
            raise HTTPException(400, f"kind: {kind!r} is not one of {', '.join(KINDS)}")
        if level and level not in LEVELS:
            raise HTTPException(400, f"level: {level!r} is not one of {', '.join(LEVELS)}")
        if sort.lstrip("-") not in SORTABLE:
            raise HTTPException(400, f"sort: {sort!r}: use one of {', '.join(SORTABLE)}, '-' for descending")
        end = _day(until, "until")
        return store.incidents(
            stream=stream or None,
            kind=kind or None,
            level=level or None,
            since=_day(since, "since"),
            until=end + 86_400 if end is not None else None,
            sort=sort,
            limit=LIST_LIMIT,
        )

    def found(incident_id: str) -> IncidentRow:
        row = store.incident(incident_id)
        if row is None:
            raise HTTPException(404, f"no incident {incident_id!r}")
        return row

    # -- pages ---------------------------------------------------------------------------------
    @router.get("/incidents", response_class=HTMLResponse, summary="Incident list (HTML)")
    def incident_list(f: Annotated[Filters, Depends()]) -> HTMLResponse:
        rows = query(f)
        stream, kind, level, since, until, sort = f.stream, f.kind, f.level, f.since, f.until, f.sort
        filters = {"stream": stream or "", "kind": kind or "", "level": level or "", "since": since or "",
                   "until": until or "", "sort": sort}  # fmt: skip

        def sort_link(key: str) -> str:
            descending = sort == key  # a second click on the current column reverses it
            return "/incidents?" + urlencode({**filters, "sort": f"-{key}" if descending else key})

        def sort_mark(key: str) -> str:
            return " ▲" if sort == key else " ▼" if sort == f"-{key}" else ""

        plain = {k: v for k, v in filters.items() if v}
        columns = [
            ("opened_at", "Opened (UTC)", ""), ("stream", "Stream", ""), ("kind", "Kind", ""),
            ("peak_rank", "Peak", ""), ("resolved_at", "State", ""),
            ("time_to_detect", "Time to detect", "num"), ("time_to_acknowledge", "Time to ack.", "num"),
            ("time_to_resolve", "Duration", "num"), ("peak_mentions", "Peak /min", "num"),
            ("total_mentions", "Mentions", "num"),
        ]  # fmt: skip
        return render(
            "incidents.html",
            title="Incidents",
            rows=[_row_view(r) for r in rows],
            limited=len(rows) >= LIST_LIMIT,
            f=filters,
            streams=store.streams(),
            kinds=KINDS,
            levels=LEVELS[1:],
            columns=columns,
            sort_link=sort_link,
            sort_mark=sort_mark,
            export_json="/v1/store/incidents?" + urlencode(plain),
            export_csv="/v1/store/incidents.csv?" + urlencode(plain),
        )

    @router.get("/incidents/{incident_id}", response_class=HTMLResponse, summary="Incident page (HTML)")
    def incident_page(incident_id: str) -> HTMLResponse:
        row = found(incident_id)
        samples = store.samples(row.id)
        f = figures(row, samples)
        entries = store.timeline(row.id)
        markers = {
            "onset": f.onset,
            "detected": f.detected,
            "acknowledged": f.acknowledged,
            "resolved": f.resolved,
        }
        status = (
            f"Opened {_clock(row.opened_at)} UTC · "
            + (f"resolved {_clock(row.resolved_at)} UTC" if row.resolved_at else f"open, now {row.level}")
            + (" · samples dropped by retention" if row.samples_dropped else "")
        )
        peak = f"{f.peak_mentions_per_minute:g} mentions/min" + (
            f" ({f.peak_multiple:g}× normal)" if f.peak_multiple else ""
        )
        who = f" by {f.acknowledged_by}" if f.acknowledged_by else ""
        closer = f" by {f.resolved_by}" if f.resolved_by else ""
        return render(
            "incident.html",
            title=f"{row.stream_name or row.stream} {row.kind} {_clock(row.opened_at)}",
            row=row,
            status=status,
            chart=svg(samples, markers),
            fig={
                "onset": _clock(f.onset),
                "detected": _clock(f.detected),
                "ttd": duration(f.time_to_detect),
                "acknowledged": _clock(f.acknowledged) + (who if f.acknowledged else ""),
                "tta": duration(f.time_to_acknowledge),
                "resolved": _clock(f.resolved) + (closer if f.resolved else ""),
                "ttr": duration(f.time_to_resolve),
                "peak": peak,
                "share": f"{f.peak_negative_share:.0%}",
                "total": f"{f.total_mentions:,} ({f.total_negative:,} negative)",
            },
            terms=f.top_terms,
            posts=[{**p, "url": p.get("url") if _web(p.get("url")) else ""} for p in f.top_posts],
            events=[
                {
                    "at": _clock(e.at),
                    "type": e.type,
                    "level": e.level,
                    "actor": e.actor,
                    "detail": describe(e),
                }
                for e in entries
            ],
        )

    @router.post("/incidents/{incident_id}/notes", summary="Add a note (HTML form)")
    async def note_form(incident_id: str, request: Request) -> Response:
        from urllib.parse import parse_qs

        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        author = (form.get("author") or [""])[0]
        text = (form.get("text") or [""])[0]
        found(incident_id)
        try:
            await run_in_threadpool(service.add_note, incident_id, author, text)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return RedirectResponse(f"/incidents/{incident_id}#timeline", status_code=303)

    @router.get(
        "/streams/{stream}", response_class=HTMLResponse, summary="A stream's incident history (HTML)"
    )
    def stream_page(stream: str) -> HTMLResponse:
        history = _history(stream)
        return render(
            "stream.html",
            title=f"{stream} history",
            name=history["stream_name"],
            days=HISTORY_DAYS,
            rows=[_row_view(r) for r in history["rows"]],
            crises=history["crises"],
            median_ttd=duration(history["median_time_to_detect_seconds"]),
            median_tta=duration(history["median_time_to_acknowledge_seconds"]),
            median_ttr=duration(history["median_time_to_resolve_seconds"]),
        )

    def _history(stream: str) -> dict[str, Any]:
        since = (service.clock.now() - timedelta(days=HISTORY_DAYS)).timestamp()
        rows = store.incidents(stream=stream, since=since, sort="-opened_at", limit=10_000)
        warned = [r for r in rows if r.detected_at is not None]
        return {
            "stream": stream,
            "stream_name": rows[0].stream_name if rows else stream,
            "days": HISTORY_DAYS,
            "rows": rows,
            "incidents": len(rows),
            "crises": len(warned),
            "median_time_to_detect_seconds": median([(r.detected_at or 0.0) - onset(r) for r in warned]),
            "median_time_to_acknowledge_seconds": median(
                [r.acknowledged_at - (r.detected_at or 0.0) for r in warned if r.acknowledged_at is not None]
            ),
            "median_time_to_resolve_seconds": median(
                [r.resolved_at - onset(r) for r in rows if r.resolved_at is not None]
            ),
        }

    # -- JSON API and exports ------------------------------------------------------------------
    def summaries(rows: list[IncidentRow]) -> list[dict[str, Any]]:
        return [incident_summary(r, figures(r, store.samples(r.id))) for r in rows]

    @router.get("/v1/store/incidents", summary="Incidents from the store, filtered (JSON)")
    def api_incidents(f: Annotated[Filters, Depends()]) -> dict[str, Any]:
        return {"incidents": summaries(query(f))}

    @router.get("/v1/store/incidents.csv", response_class=PlainTextResponse, summary="Incidents as CSV")
    def api_incidents_csv(f: Annotated[Filters, Depends()]) -> Response:
        text = incidents_csv(summaries(query(f)))
        return _download(text, "incidents.csv", "text/csv; charset=utf-8")

    @router.get(
        "/v1/incidents/{incident_id}/detail", summary="One incident: figures, timeline, samples (JSON)"
    )
    def api_incident(incident_id: str) -> dict[str, Any]:
        return incident_detail(store, found(incident_id))

    @router.get("/v1/incidents/{incident_id}/timeline.csv", summary="An incident's timeline as CSV")
    def api_timeline_csv(incident_id: str) -> Response:
        row = found(incident_id)
        return _download(timeline_csv(row.id, store.timeline(row.id)), _file(row, "timeline.csv"), "text/csv")

    @router.get("/v1/incidents/{incident_id}/postmortem.md", summary="Post-mortem draft (Markdown)")
    def api_postmortem(incident_id: str) -> Response:
        row = found(incident_id)
        f = figures(row, store.samples(row.id))
        text = postmortem(row, f, store.timeline(row.id), "chart.png")
        return _download(text, _file(row, "postmortem.md"), "text/markdown; charset=utf-8")

    @router.get("/v1/incidents/{incident_id}/chart.png", summary="The timeline chart (PNG)")
    async def api_chart(incident_id: str) -> Response:
        row = found(incident_id)
        samples = store.samples(row.id)
        f = figures(row, samples)
        markers = {
            "onset": f.onset,
            "detected": f.detected,
            "acknowledged": f.acknowledged,
            "resolved": f.resolved,
        }
        title = f"{row.stream_name or row.stream}: {row.kind}, opened {iso(row.opened_at)}"
        data = await run_in_threadpool(png, samples, markers, title)
        return Response(data, media_type="image/png")

    @router.post("/v1/incidents/{incident_id}/notes", status_code=201, summary="Add a note to an incident")
    async def api_note(incident_id: str, note: Note) -> JSONResponse:
        found(incident_id)
        try:
            await run_in_threadpool(service.add_note, incident_id, note.author, note.text)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return JSONResponse(
            {"incident": incident_id, "author": note.author, "text": note.text}, status_code=201
        )

    @router.get("/v1/streams/{stream}/history", summary="A stream's incidents of the last 90 days (JSON)")
    def api_history(stream: str) -> dict[str, Any]:
        history = _history(stream)
        history["incidents"] = summaries(history.pop("rows"))
        return history

    return router


def _web(url: Any) -> bool:
    """True for an http(s) link (anything else from a post is shown, never linked)."""
    return isinstance(url, str) and url.lower().startswith(("https://", "http://"))


def _file(row: IncidentRow, suffix: str) -> str:
    stamp = datetime.fromtimestamp(row.opened_at, UTC).strftime("%Y%m%dT%H%MZ")
    return f"{row.stream}-{row.kind}-{stamp}-{suffix}"


def _download(text: str, name: str, media_type: str) -> Response:
    return Response(
        text, media_type=media_type, headers={"Content-Disposition": f'inline; filename="{name}"'}
    )
