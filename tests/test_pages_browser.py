"""The incident pages in a real headless Chromium, served by a real uvicorn on loopback.

One radar (module fixture, ~10 s) runs the whole demo scenario (``demo_scenario(1)``: four days,
three brands, a nimbus buzz on day 3 and a sudden acme crisis late on day 4), then "Dana Director"
acknowledges the acme crisis. Its clock stands just before the scenario's end. The pages are then read
the way a service director reads them and checked against what the store holds:

* the list: its rows are the store's incidents; the filter form (stream, peak level, date range) and
  the sortable column headers (one click ascending, a second descending) give the store's answers;
* the acme crisis page: every figure equals ``radar.incidents.figures.figures`` over the store's row and
  samples,
  formatted as the page formats it (and the totals and peaks agree with the samples themselves); the
  chart has its band and markers; the event log is the store's timeline, in time order;
* a note added through the form lands in the event log and the store;
* the stream page's counts and medians;
* nothing is fetched from another origin, no script runs, and the page prints to PDF.

Screenshots go to the test's ``tmp_path``; with ``RADAR_REVIEW_SHOTS=1`` also to ``bench/results/pages/``,
the copies reviewers look at (a plain test run leaves the checkout as it was).
"""

from __future__ import annotations

import os
import re
import statistics
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest

from radar.app import create_app
from radar.clock import ManualClock
from radar.config import STORE_URL_ENV
from radar.demo import demo_config
from radar.incidents.figures import Figures, duration, figures
from radar.incidents.store import IncidentRow, IncidentStore
from radar.mention import parse_mention
from radar.scenario import demo_scenario
from radar.service import RadarService
from tests.loopback import LoopbackServer

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parent.parent
REVIEW_DIR = ROOT / "bench" / "results" / "pages"
SCENARIO = demo_scenario(1)
#: the radar's wall clock: ten minutes before the scenario's last mention
NOW = SCENARIO.start + timedelta(days=SCENARIO.days) - timedelta(minutes=10)
DIRECTOR = "Dana Director"


@dataclass
class Radar:
    """The served radar: its service, where it listens, and the acme crisis."""

    service: RadarService
    base: str
    crisis_id: str

    @property
    def store(self) -> IncidentStore:
        return self.service.store

    def url(self, path: str) -> str:
        return self.base + path

    def crisis(self) -> IncidentRow:
        row = self.store.incident(self.crisis_id)
        assert row is not None
        return row


@pytest.fixture(scope="module")
def radar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radar]:
    state = tmp_path_factory.mktemp("pages-radar")
    with pytest.MonkeyPatch.context() as env:
        env.delenv(STORE_URL_ENV, raising=False)  # the store is the state directory's SQLite file
        service = RadarService(
            demo_config(SCENARIO, str(state)),
            state_dir=state,
            notifiers=[],
            clock=ManualClock(NOW),
            live=False,
            fsync=False,
        )
    mentions = [parse_mention(record, None) for record in SCENARIO.mentions()]
    for i in range(0, len(mentions), 2000):
        service.submit(mentions[i : i + 2000])
    service.pipeline.finish()
    crisis = next(r for r in service.store.incidents() if r.stream == "acme" and r.kind == "crisis")
    if crisis.resolved_at is None:
        assert service.act(crisis.id, "acknowledge", DIRECTOR) is not None
    server = LoopbackServer(create_app(service, token="", slack_secret=""), name="pages-http")
    try:
        yield Radar(service, server.base, crisis.id)
    finally:
        server.stop()
        service.stop()


# -- how the pages format what they show (written out here, not imported from radar.incidents.pages) --
def clock(t: float | None) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M") if t is not None else "—"


def day_start(day: str) -> float:
    return datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()


def list_cells(row: IncidentRow) -> dict[str, str]:
    """What the list shows of a store row, column by column (those checked here)."""
    state = f"resolved {clock(row.resolved_at)}" if row.resolved_at is not None else f"open ({row.level})"
    tta = None
    if row.acknowledged_at is not None and row.detected_at is not None:
        tta = row.acknowledged_at - row.detected_at
    return {
        "opened": clock(row.opened_at),
        "stream": row.stream_name or row.stream,
        "kind": row.kind,
        "peak": row.peak_level,
        "state": state,
        "tta": duration(tta),
        "peak_per_minute": f"{row.peak_mentions * 60.0 / row.bucket_seconds:g}",
        "mentions": f"{row.total_mentions:,}",
    }


def figure_texts(f: Figures) -> dict[str, str]:
    """The ``#figures`` entries of the incident page for the figures ``f``."""
    peak = f"{f.peak_mentions_per_minute:g} mentions/min"
    if f.peak_multiple:
        peak += f" ({f.peak_multiple:g}× normal)"
    return {
        "onset": clock(f.onset),
        "detected": clock(f.detected),
        "time_to_detect": duration(f.time_to_detect),
        "acknowledged": clock(f.acknowledged) + (f" by {f.acknowledged_by}" if f.acknowledged else ""),
        "time_to_acknowledge": duration(f.time_to_acknowledge),
        "resolved": clock(f.resolved) + (f" by {f.resolved_by}" if f.resolved and f.resolved_by else ""),
        "time_to_resolve": duration(f.time_to_resolve),
        "peak": peak,
        "peak_negative_share": f"{f.peak_negative_share:.0%}",
        "total_mentions": f"{f.total_mentions:,} ({f.total_negative:,} negative)",
    }


# -- reading the pages ------------------------------------------------------------------------------
COLUMNS = ("opened", "stream", "kind", "peak", "state", "ttd", "tta", "ttr", "peak_per_minute", "mentions")


def shown_rows(page: Page) -> list[dict[str, str]]:
    """The incident rows of the list (or of a stream page) as ``{"id", column: text}``."""
    rows = page.locator("#incidents tbody tr[data-id]").evaluate_all(
        "rows => rows.map(r => [r.dataset.id, ...Array.from(r.cells, c => c.textContent.trim())])"
    )
    return [{"id": r[0], **dict(zip(COLUMNS, r[1:], strict=True))} for r in rows]


def shown_ids(page: Page) -> list[str]:
    return [r["id"] for r in shown_rows(page)]


def query_of(page: Page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def submit_filters(page: Page) -> None:
    with page.expect_navigation(wait_until="load"):
        page.locator("form.filters button[type=submit]").click()


def figures_shown(page: Page) -> dict[str, str]:
    items = page.locator("#figures dd[data-k]").evaluate_all(
        "dds => dds.map(d => [d.dataset.k, d.textContent.trim()])"
    )
    return dict(items)


def event_log(page: Page) -> list[dict[str, str]]:
    cells = page.locator("#timeline tbody tr").evaluate_all(
        "rows => rows.map(r => Array.from(r.cells, c => c.textContent.trim()))"
    )
    return [dict(zip(("at", "type", "level", "who", "detail"), c, strict=True)) for c in cells]


def screenshot(page: Page, tmp_path: Path, name: str) -> None:
    """Full-page screenshot: the test's artifact, and the copy reviewers look at."""
    shot = page.screenshot(path=tmp_path / name, full_page=True)
    assert shot.startswith(b"\x89PNG\r\n\x1a\n")
    if os.environ.get("RADAR_REVIEW_SHOTS") == "1":
        REVIEW_DIR.mkdir(parents=True, exist_ok=True)
        (REVIEW_DIR / name).write_bytes(shot)


# -- the list ---------------------------------------------------------------------------------------
def test_the_list_shows_the_store_incidents(page: Page, radar: Radar, tmp_path: Path) -> None:
    response = page.goto(radar.url("/incidents"), wait_until="load")
    assert response is not None and response.status == 200
    assert page.title() == "Incidents — Crisis Radar"
    rows = radar.store.incidents()
    assert {(r.stream, r.kind) for r in rows} >= {("acme", "crisis"), ("nimbus", "buzz")}
    shown = shown_rows(page)
    assert [r["id"] for r in shown] == [r.id for r in rows]  # newest first by default
    assert [(r["stream"], r["peak"]) for r in shown] == [(r.stream_name, r.peak_level) for r in rows]
    for got, row in zip(shown, rows, strict=True):
        assert {k: got[k] for k in list_cells(row)} == list_cells(row), row.id
    count = len(rows)
    assert (
        page.locator("form.filters .muted")
        .inner_text()
        .startswith(f"{count} incident{'' if count == 1 else 's'}")
    )
    # each row links to its incident page
    crisis_link = page.locator(f'#incidents tr[data-id="{radar.crisis_id}"] a')
    assert unquote(crisis_link.get_attribute("href") or "") == f"/incidents/{radar.crisis_id}"
    screenshot(page, tmp_path, "incidents.png")


def test_filters_through_the_form(page: Page, radar: Radar) -> None:
    store = radar.store
    page.goto(radar.url("/incidents"))
    everything = {r.id for r in store.incidents()}

    # by stream
    page.locator("select[name=stream]").select_option("acme")
    submit_filters(page)
    assert query_of(page).get("stream") == "acme"
    expected = [r.id for r in store.incidents(stream="acme")]
    assert shown_ids(page) == expected and radar.crisis_id in expected and set(expected) < everything
    assert page.locator("select[name=stream]").input_value() == "acme"  # the form keeps its filters

    # by peak level (at least): warning leaves the nimbus buzz (peak watch) out, watch keeps it
    page.locator("select[name=stream]").select_option("")
    page.locator("select[name=level]").select_option("warning")
    submit_filters(page)
    assert query_of(page).get("level") == "warning" and not query_of(page).get("stream")
    expected = [r.id for r in store.incidents(level="warning")]
    assert shown_ids(page) == expected
    assert all(r["peak"] in ("warning", "crisis") for r in shown_rows(page))
    assert radar.crisis_id in expected and set(expected) < everything
    page.locator("select[name=level]").select_option("watch")
    submit_filters(page)
    assert shown_ids(page) == [r.id for r in store.incidents(level="watch")]

    # by date range (From / To, both inclusive days, UTC)
    page.locator("select[name=level]").select_option("")
    crisis_day = datetime.fromtimestamp(radar.crisis().opened_at, UTC).date().isoformat()
    page.locator("input[name=since]").fill(crisis_day)
    page.locator("input[name=until]").fill(crisis_day)
    submit_filters(page)
    assert (query_of(page)["since"], query_of(page)["until"]) == (crisis_day, crisis_day)
    expected = [
        r.id for r in store.incidents(since=day_start(crisis_day), until=day_start(crisis_day) + 86_400)
    ]
    assert shown_ids(page) == expected and radar.crisis_id in expected and set(expected) < everything
    assert all(r["opened"].startswith(crisis_day) for r in shown_rows(page))

    first_day = SCENARIO.start.date().isoformat()
    day_before = (datetime.fromisoformat(crisis_day) - timedelta(days=1)).date().isoformat()
    page.locator("input[name=since]").fill(first_day)
    page.locator("input[name=until]").fill(day_before)
    submit_filters(page)
    expected = [r.id for r in store.incidents(since=day_start(first_day), until=day_start(crisis_day))]
    assert shown_ids(page) == expected and expected and radar.crisis_id not in expected

    # a range with nothing in it says so
    page.locator("input[name=since]").fill("2026-01-01")
    page.locator("input[name=until]").fill("2026-01-31")
    submit_filters(page)
    assert shown_ids(page) == []
    assert page.locator("#incidents tbody").inner_text().strip() == "No incident matches."


@pytest.mark.parametrize(
    ("label", "key"),
    [
        ("Mentions", "total_mentions"),
        ("Peak", "peak_rank"),
        ("Stream", "stream"),
        ("Opened (UTC)", "opened_at"),
    ],
)
def test_sorting_by_clicking_a_column_header_twice(page: Page, radar: Radar, label: str, key: str) -> None:
    page.goto(radar.url("/incidents"))
    header = page.locator("#incidents thead a", has_text=re.compile(rf"^{re.escape(label)}( [▲▼])?$"))
    ascending = [r.id for r in radar.store.incidents(sort=key)]
    descending = [r.id for r in radar.store.incidents(sort=f"-{key}")]
    assert ascending != descending  # the demo's incidents differ on every one of these columns

    with page.expect_navigation(wait_until="load"):
        header.click()
    assert query_of(page)["sort"] == key
    assert shown_ids(page) == ascending
    assert header.inner_text().endswith("▲")

    with page.expect_navigation(wait_until="load"):
        header.click()
    assert query_of(page)["sort"] == f"-{key}"
    assert shown_ids(page) == descending
    assert header.inner_text().endswith("▼")


def test_sorting_keeps_the_filters(page: Page, radar: Radar) -> None:
    page.goto(radar.url("/incidents?level=watch"))
    with page.expect_navigation(wait_until="load"):
        page.locator("#incidents thead a", has_text="Mentions").click()
    assert query_of(page) == {"level": "watch", "sort": "total_mentions"}
    assert shown_ids(page) == [r.id for r in radar.store.incidents(level="watch", sort="total_mentions")]


# -- the incident page ------------------------------------------------------------------------------
def open_crisis(page: Page, radar: Radar) -> None:
    """From the list to the acme crisis page, by its link."""
    page.goto(radar.url("/incidents"))
    with page.expect_navigation(wait_until="load"):
        page.locator(f'#incidents tr[data-id="{radar.crisis_id}"] a').click()
    assert unquote(urlsplit(page.url).path) == f"/incidents/{radar.crisis_id}"


def test_the_incident_figures_are_those_of_the_store(page: Page, radar: Radar, tmp_path: Path) -> None:
    open_crisis(page, radar)
    row = radar.crisis()
    samples = radar.store.samples(row.id)
    f = figures(row, samples)
    assert page.locator("h1").text_content() == f"Acme Air: crisis incident, peak {row.peak_level}"
    assert row.acknowledged_by == DIRECTOR and f.acknowledged is not None
    assert figures_shown(page) == figure_texts(f)

    # the figures themselves agree with the samples the store holds
    own = [s for s in samples if s.t >= row.opened_at - row.bucket_seconds]
    if row.resolved_at is not None:
        own = [s for s in own if s.t < row.resolved_at]
    assert f.total_mentions == sum(s.mentions for s in own)
    assert f.total_negative == sum(s.negative for s in own)
    assert f.peak_mentions == max(s.mentions for s in own)
    assert f.peak_negative_share == round(max(s.negative / s.mentions for s in own if s.mentions >= 5), 4)
    first = next(s for s in samples if s.t == f.onset)
    assert first.mentions > first.expected and f.onset <= row.opened_at - row.bucket_seconds
    assert f.detected == row.detected_at and f.time_to_detect == row.detected_at - f.onset
    assert f.time_to_acknowledge == f.acknowledged - row.detected_at
    screenshot(page, tmp_path, "incident.png")


def test_the_chart_has_the_band_and_the_markers(page: Page, radar: Radar) -> None:
    page.goto(radar.url(f"/incidents/{quote(radar.crisis_id)}"))
    chart = page.locator(".chart svg")
    assert chart.count() == 1 and chart.is_visible()
    band = chart.locator("polygon")
    assert band.count() == 1 and band.get_attribute("fill") == "#a5d8ff"
    n = len(radar.store.samples(radar.crisis_id))
    assert len((band.get_attribute("points") or "").split()) == 2 * n  # upper edge, then lower edge back
    assert chart.locator("polyline").count() >= 3  # expected, mentions, negatives (+ negative share)
    markers = chart.locator("line[stroke-dasharray]")
    names = markers.evaluate_all("ls => ls.map(l => l.querySelector('title').textContent)")
    assert names == ["onset", "detected", "acknowledged"]  # still open: no resolved marker
    xs = [float(x) for x in markers.evaluate_all("ls => ls.map(l => l.getAttribute('x1'))")]
    assert xs == sorted(xs) and xs[0] < xs[-1]
    box = chart.bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 150  # it is drawn, not collapsed


def test_the_event_log_is_the_store_timeline_in_time_order(page: Page, radar: Radar) -> None:
    page.goto(radar.url(f"/incidents/{quote(radar.crisis_id)}"))
    shown = event_log(page)
    entries = radar.store.timeline(radar.crisis_id)
    assert [(e["at"], e["type"], e["who"]) for e in shown] == [
        (clock(e.at), e.type, e.actor or "") for e in entries
    ]
    times = [e.at for e in entries]
    assert times == sorted(times)
    types = [e["type"] for e in shown]
    assert types[0] == "opened"
    level_changes = [e for e in shown if e["type"] in ("opened", "escalated", "deescalated")]
    assert level_changes[0]["level"] == entries[0].level and "mentions vs" in level_changes[0]["detail"]
    # the acme crisis opened straight at crisis: no "escalated" step; any escalation comes before the ack
    acked = types.index("acknowledged")
    assert all(t != "escalated" or i < acked for i, t in enumerate(types))
    ack = shown[acked]
    assert ack["who"] == DIRECTOR and ack["detail"] == f"acknowledged by {DIRECTOR}"
    assert ack["at"] == clock(NOW.timestamp())


def test_a_note_added_through_the_form(page: Page, radar: Radar) -> None:
    page.goto(radar.url(f"/incidents/{quote(radar.crisis_id)}"))
    author = "Sam Ops"
    text = f"Statement published; call with <b>legal</b> & PR at 01:00 UTC ({uuid.uuid4().hex[:8]})"
    form = page.locator("#note-form")
    form.locator("input[name=author]").fill(author)
    form.locator("textarea[name=text]").fill(text)
    with (
        page.expect_response(lambda r: r.request.method == "POST") as posted,
        page.expect_navigation(wait_until="load"),
    ):
        form.locator("button[type=submit]").click()
    assert posted.value.status == 303
    assert unquote(page.url) == radar.url(f"/incidents/{radar.crisis_id}#timeline")
    notes = [e for e in event_log(page) if e["type"] == "note" and e["detail"] == text]
    assert len(notes) == 1  # shown as text (escaped), not as markup
    assert notes[0]["who"] == author and notes[0]["at"] == clock(NOW.timestamp())
    assert page.locator("#timeline b").count() == 0
    assert event_log(page)[-1] == notes[0]  # the newest event
    stored = [
        e for e in radar.store.timeline(radar.crisis_id) if e.type == "note" and e.detail["text"] == text
    ]
    assert len(stored) == 1
    assert stored[0].actor == author and stored[0].at == NOW.timestamp() and stored[0].level is None


# -- the stream page --------------------------------------------------------------------------------
def history(radar: Radar, stream: str) -> list[IncidentRow]:
    since = (NOW - timedelta(days=90)).timestamp()
    return radar.store.incidents(stream=stream, since=since, limit=10_000)


def stream_figures(page: Page) -> dict[str, str]:
    items = page.locator("#stream-figures dd[data-k]").evaluate_all(
        "dds => dds.map(d => [d.dataset.k, d.textContent.trim()])"
    )
    return dict(items)


def median_of(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


@pytest.mark.parametrize("stream", ["acme", "nimbus"])
def test_the_stream_page(page: Page, radar: Radar, stream: str) -> None:
    response = page.goto(radar.url(f"/streams/{stream}"))
    assert response is not None and response.status == 200
    rows = history(radar, stream)
    assert rows, stream
    assert page.locator("h1").text_content() == f"{rows[0].stream_name}: the last 90 days"
    warned = [r for r in rows if r.detected_at is not None]
    shown = stream_figures(page)
    assert shown["count"] == str(len(rows))
    assert shown["crises"] == str(len(warned))
    acks = [r.acknowledged_at - r.detected_at for r in warned if r.acknowledged_at and r.detected_at]
    assert shown["median_tta"] == duration(median_of(acks))
    if warned:
        assert re.fullmatch(r"\d+ (s|min)|\d+ h \d\d min|\d+ d \d+ h", shown["median_ttd"])
    else:
        assert shown["median_ttd"] == "—"
    cells = page.locator("#incidents tbody tr").evaluate_all(
        "rows => rows.map(r => Array.from(r.cells, c => c.textContent.trim()))"
    )
    assert [c[:3] for c in cells] == [[clock(r.opened_at), r.kind, r.peak_level] for r in rows]


@pytest.mark.parametrize("stream", ["acme", "nimbus"])
def test_the_stream_medians_are_those_of_the_incident_figures(page: Page, radar: Radar, stream: str) -> None:
    page.goto(radar.url(f"/streams/{stream}"))
    rows = history(radar, stream)
    every = [figures(r, radar.store.samples(r.id)) for r in rows]
    ttd = [f.time_to_detect for f in every if f.time_to_detect is not None]
    ttr = [f.time_to_resolve for f in every if f.time_to_resolve is not None]
    shown = stream_figures(page)
    assert (shown["median_ttd"], shown["median_ttr"]) == (
        duration(median_of(ttd)),
        duration(median_of(ttr)),
    )


# -- self-contained and printable -------------------------------------------------------------------
def test_no_external_resources_and_no_script(page: Page, radar: Radar) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    origin = urlsplit(radar.base)
    paths = ["/incidents", f"/incidents/{quote(radar.crisis_id)}", "/streams/acme"]
    for path in paths:
        response = page.goto(radar.url(path), wait_until="load")
        assert response is not None and response.status == 200
        assert page.locator("script").count() == 0
        assert page.locator("link[rel=stylesheet], img, iframe, object, embed").count() == 0
    assert len(requests) >= len(paths)
    foreign = [
        u for u in requests if (urlsplit(u).scheme, urlsplit(u).netloc) != (origin.scheme, origin.netloc)
    ]
    assert foreign == []


def test_the_incident_page_prints(page: Page, radar: Radar, tmp_path: Path) -> None:
    page.goto(radar.url(f"/incidents/{quote(radar.crisis_id)}"), wait_until="load")
    page.emulate_media(media="print")
    assert page.locator("#note-form").is_hidden() and page.locator("header").is_hidden()
    assert page.locator(".chart svg").is_visible() and page.locator("#figures").is_visible()
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert len(pdf) > 10_000
    (tmp_path / "incident.pdf").write_bytes(pdf)


def test_unknown_incidents_and_bad_filters_are_refused(page: Page, radar: Radar) -> None:
    response = page.goto(radar.url("/incidents/acme:crisis:19990101T0000Z"))
    assert response is not None and response.status == 404
    response = page.goto(radar.url("/incidents?level=panic"))
    assert response is not None and response.status == 400
    assert "level" in (page.locator("body").inner_text() or "")
