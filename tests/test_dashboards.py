"""The Grafana side, checked without a Grafana: provisioning files and dashboard JSON.

Grafana cannot run here (DESIGN §6), so the dashboards are checked as data: the JSON model (schema
version, uid, unique panel ids inside rows too, grid positions), every query on the provisioned
Prometheus data source, every ``$variable`` defined, every metric name one a real radar exposes on
``/metrics`` (a radar started here, replaying the start of the demo scenario) or a recording rule
makes, and the links to the radar's incident pages answered by that radar.
``tests/test_prometheus.py`` runs every query against a real Prometheus.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.dashboard_model import (
    BUILTIN_VARIABLES,
    DASHBOARD_DIR,
    DATASOURCE_UID,
    GRAFANA_DIR,
    SYNTHETIC_SERIES,
    all_panels,
    dashboard_files,
    exposed_names,
    label_values,
    load,
    metric_names,
    queries,
    series_labels,
    strings,
    substitute,
    variable_query,
    variable_refs,
    variables,
    without_fallback,
)
from tests.live_radar import PROMETHEUS_DIR, RULES_DIR, LiveRadar, demo_records

GRAFANA_DASHBOARDS_PATH = "/var/lib/grafana/dashboards"
EXPECTED = {"crisis-radar-wall", "crisis-radar-stream", "crisis-radar-health"}
PANEL_TYPES = {"row", "stat", "timeseries", "state-timeline", "gauge", "bargauge", "table", "text",
               "heatmap", "status-history", "barchart", "piechart"}  # fmt: skip
FILES = dashboard_files()
BOARDS = {path.name: load(path) for path in FILES}


def board_params() -> list[Any]:
    return [pytest.param(board, id=name) for name, board in BOARDS.items()]


def by_uid(uid: str) -> dict[str, Any]:
    (board,) = [b for b in BOARDS.values() if b["uid"] == uid]
    return board


def recording_rules() -> set[str]:
    names: set[str] = set()
    for path in sorted(RULES_DIR.glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            names.update(r["record"] for r in group["rules"] if "record" in r)
    return names


@pytest.fixture(scope="module")
def radar() -> Iterator[LiveRadar]:
    """A radar that replayed the demo scenario's first day and a half (every stream exists)."""
    records = demo_records()
    with tempfile.TemporaryDirectory(prefix="radar-dashboards-") as state_dir:
        live = LiveRadar(Path(state_dir))
        try:
            live.feed(records[:12_000])
            live.exercise(records)
            yield live
        finally:
            live.close()


@pytest.fixture(scope="module")
def exposition(radar: LiveRadar) -> str:
    return radar.scrape()


# -- provisioning -------------------------------------------------------------------------------------
def test_the_datasource_is_provisioned_with_the_uid_the_dashboards_use() -> None:
    doc = yaml.safe_load(
        (GRAFANA_DIR / "provisioning/datasources/prometheus.yml").read_text(encoding="utf-8")
    )
    assert doc["apiVersion"] == 1
    (source,) = doc["datasources"]
    assert source["uid"] == DATASOURCE_UID and source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090" and source["access"] == "proxy"
    # $__rate_interval builds on the scrape interval: it must be Prometheus's
    scrape = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    assert source["jsonData"]["timeInterval"] == scrape["global"]["scrape_interval"]


def test_the_dashboard_provider_reads_the_mounted_folder() -> None:
    path = GRAFANA_DIR / "provisioning/dashboards/radar.yml"
    text = path.read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    assert doc["apiVersion"] == 1
    (provider,) = doc["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == GRAFANA_DASHBOARDS_PATH
    assert f"./grafana/dashboards:{GRAFANA_DASHBOARDS_PATH}" in text  # the compose mount it documents
    assert {b["uid"] for b in BOARDS.values()} == EXPECTED
    assert len({b["title"] for b in BOARDS.values()}) == len(BOARDS)
    assert all(p.parent == DASHBOARD_DIR for p in FILES)


# -- the JSON model -----------------------------------------------------------------------------------
@pytest.mark.parametrize("board", board_params())
def test_dashboard_model(board: dict[str, Any]) -> None:
    assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 36
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", board["uid"])
    assert board["title"].strip() and board.get("id") is None  # provisioned: Grafana assigns ids
    assert board["time"]["from"] and board["time"]["to"] == "now"
    assert "crisis-radar" in board["tags"]
    assert board["panels"], "no panels"


@pytest.mark.parametrize("board", board_params())
def test_panel_ids_and_grid_positions(board: dict[str, Any]) -> None:
    panels = list(all_panels(board))
    assert all(isinstance(p.get("id"), int) and p["id"] > 0 for p in panels), [p.get("id") for p in panels]
    ids: list[int] = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {sorted(i for i in ids if ids.count(i) > 1)}"
    for p in panels:
        assert p["type"] in PANEL_TYPES, f"panel {p['id']}: unknown type {p['type']}"
        assert p.get("title", "").strip(), f"panel {p['id']} has no title"
        grid = p.get("gridPos")
        assert grid and all(isinstance(grid.get(k), int) for k in "xywh"), f"panel {p['id']}: gridPos {grid}"
        assert grid["x"] >= 0 and grid["y"] >= 0 and grid["w"] > 0 and grid["h"] > 0, p["id"]
        assert grid["x"] + grid["w"] <= 24, f"panel {p['id']} is wider than the grid"
        if p["type"] == "row":
            assert (grid["x"], grid["w"], grid["h"]) == (0, 24, 1), p["id"]
            assert p["collapsed"] or p["panels"] == [], "an open row's panels follow it, not inside it"
    # no two panels of the laid-out grid overlap
    cells: dict[tuple[int, int], int] = {}
    for p in board["panels"]:
        g = p["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"panels {cells[(x, y)]} and {p['id']} overlap at {(x, y)}"
                cells[(x, y)] = p["id"]


@pytest.mark.parametrize("board", board_params())
def test_every_query_is_on_the_provisioned_datasource(board: dict[str, Any]) -> None:
    expected = {"type": "prometheus", "uid": DATASOURCE_UID}
    for p in all_panels(board):
        if p["type"] in ("row", "text"):
            continue
        assert p.get("datasource") == expected, f"panel {p['id']}: datasource {p.get('datasource')}"
        targets = p.get("targets") or []
        assert targets, f"panel {p['id']} {p['title']!r} has no query"
        refs = [t.get("refId") for t in targets]
        assert all(refs) and len(refs) == len(set(refs)), f"panel {p['id']}: refIds {refs}"
        for t in targets:
            assert t.get("datasource") == expected, f"panel {p['id']} target {t.get('refId')}"
            assert t.get("expr", "").strip(), f"panel {p['id']} target {t.get('refId')} has no expr"
    for a in board["annotations"]["list"]:
        if a.get("builtIn"):
            continue
        assert a["datasource"] == expected, a["name"]
        assert (a.get("target") or {}).get("expr") or a.get("expr"), a["name"]
    for v in variables(board).values():
        if v["type"] == "query":
            assert v["datasource"] == expected, v["name"]


@pytest.mark.parametrize("board", board_params())
def test_every_variable_used_is_defined(board: dict[str, Any]) -> None:
    defined = set(variables(board))
    used: set[str] = set()
    for text in strings({k: v for k, v in board.items() if k != "templating"}):
        used |= variable_refs(text)
    for v in variables(board).values():  # variables may use others in their queries
        used |= variable_refs(variable_query(v)) | variable_refs(str(v.get("regex", "")))
    undefined = used - defined - BUILTIN_VARIABLES
    assert not undefined, f"{board['uid']}: undefined variables {sorted(undefined)}"
    unused = defined - used
    assert not unused, f"{board['uid']}: variables never used {sorted(unused)}"
    for p in all_panels(board):
        if p.get("repeat"):
            assert p["repeat"] in defined, p["id"]


@pytest.mark.parametrize("board", board_params())
def test_variable_queries_ask_for_labels_the_radar_exposes(board: dict[str, Any], exposition: str) -> None:
    labels = series_labels(exposition)
    for v in variables(board).values():
        if v["type"] != "query":
            continue
        parsed = label_values(variable_query(v))
        assert parsed, f"{v['name']}: only label_values(metric, label) queries are used here"
        metric, label = parsed
        assert metric, f"{v['name']}: label_values without a metric scans every series"
        (name,) = metric_names(metric)
        assert name in labels, f"variable {v['name']}: {name} is not exposed"
        assert label in labels[name], f"variable {v['name']}: {name} has no label {label}"


@pytest.mark.parametrize("board", board_params())
def test_every_metric_queried_exists(board: dict[str, Any], exposition: str) -> None:
    known = exposed_names(exposition) | recording_rules() | SYNTHETIC_SERIES
    missing = {}
    for q in queries(board):
        unknown = metric_names(q.expr) - known
        if unknown:
            missing[q.where] = sorted(unknown)
    assert not missing, f"{board['uid']}: metrics neither on /metrics nor recorded: {missing}"


def test_the_metric_extraction_sees_every_metric() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (notifier, le) (rate(radar_a_bucket{x="y"}[5m]))) '
        '/ on (job) group_left max(radar_b offset 5m) - count_values("level", c:d:e) or vector(0)'
    )
    assert metric_names(expr) == {"radar_a_bucket", "radar_b", "c:d:e"}
    assert without_fallback("sum(x) or vector(0)") == "sum(x)"
    assert without_fallback("sum(x)") is None


# -- what each dashboard shows ------------------------------------------------------------------------
def _queried(board: dict[str, Any]) -> set[str]:
    return set().union(*(metric_names(q.expr) for q in queries(board)))


def test_the_wall_repeats_a_row_per_stream_for_a_tv() -> None:
    wall = by_uid("crisis-radar-wall")
    assert wall["refresh"] == "30s" and wall["style"] == "dark"
    stream = variables(wall)["stream"]
    assert stream["multi"] and stream["includeAll"]
    assert "radar_url" in variables(wall) and variables(wall)["radar_url"]["type"] in ("textbox", "constant")
    (repeated,) = [p for p in wall["panels"] if p["type"] == "row" and p.get("repeat") == "stream"]
    after = [p for p in wall["panels"] if p["gridPos"]["y"] > repeated["gridPos"]["y"]]
    assert {p["type"] for p in after} >= {"stat", "timeseries", "state-timeline"}
    assert not [p for p in after if p["type"] == "row"], "the repeated row must hold the stream's panels"
    level = next(p for p in after if p["type"] == "stat" and "radar_stream_level" in p["targets"][0]["expr"])
    (mapping,) = level["fieldConfig"]["defaults"]["mappings"]
    assert {k: (v["text"], v["color"]) for k, v in mapping["options"].items()} == {
        "0": ("CALM", "green"),
        "1": ("WATCH", "yellow"),
        "2": ("WARNING", "orange"),
        "3": ("CRISIS", "red"),
    }
    assert level["options"]["colorMode"] == "background" and level["options"]["text"]["valueSize"] >= 40
    band = next(p for p in after if "radar_stream_expected_mentions_upper" in str(p["targets"]))
    fills = [
        prop["value"]
        for o in band["fieldConfig"]["overrides"]
        for prop in o["properties"]
        if prop["id"] == "custom.fillBelowTo"
    ]
    assert fills == ["normal low"], "the normal band is filled between its edges"
    timeline = next(p for p in after if p["type"] == "state-timeline")
    assert timeline["timeFrom"] == "24h"
    urls = {link["url"] for p in after for link in p.get("links", [])}
    assert "${radar_url}/streams/${stream}" in urls and "${radar_url}/incidents?stream=${stream}" in urls
    assert any("radar_open_incidents" in t["expr"] for p in after for t in p["targets"])
    assert any("changes(radar_stream_level" in q.expr for q in queries(wall) if q.kind == "annotation")


def test_the_stream_dashboard_shows_the_detection_figures() -> None:
    board = by_uid("crisis-radar-stream")
    assert not variables(board)["stream"]["multi"]
    assert _queried(board) >= {
        "radar_stream_level", "radar_stream_bucket_mentions", "radar_stream_expected_mentions_lower",
        "radar_stream_expected_mentions_upper", "radar_stream_negative_share_ratio",
        "radar_stream_negative_share_baseline_ratio", "radar_stream_surprise", "radar_stream_anomaly_score",
        "radar_stream_learning", "radar_stream_silent", "radar_mentions_late_total",
        "radar_incidents_opened_total", "radar_open_incidents",
    }  # fmt: skip
    assert any(q.kind == "annotation" for q in queries(board))


def test_the_health_dashboard_covers_the_radar_itself() -> None:
    assert _queried(by_uid("crisis-radar-health")) >= {
        "radar_mentions_ingested_total", "radar_mentions_rejected_total", "radar_ingest_lag_seconds",
        "radar_bucket_close_delay_seconds_bucket", "radar_journal_last_sequence",
        "radar_checkpoint_age_seconds",
        "radar_notifications_sent_total", "radar_notifications_failed_total", "radar_outbox_depth",
        "radar_outbox_oldest_age_seconds", "radar_notification_latency_seconds_bucket",
        "radar_slack_interactions_total", "radar_streams",
    }  # fmt: skip


def test_links_reach_the_radars_pages_and_the_other_dashboards(radar: LiveRadar) -> None:
    """Every link resolved as Grafana would (radar_url = the radar started here, stream = acme)
    answers 200 on the radar, or names one of these dashboards."""
    uids = {b["uid"] for b in BOARDS.values()}
    checked = set()
    for board in BOARDS.values():
        links = [*board["links"]]
        for p in all_panels(board):
            links += p.get("links", [])
            links += p.get("fieldConfig", {}).get("defaults", {}).get("links", [])
        for link in links:
            url = link.get("url", "")
            if link.get("type") == "dashboards":
                continue  # a list of dashboards by tag
            if url.startswith("/d/"):
                assert url.split("/")[2] in uids, f"{board['uid']}: link to an unknown dashboard {url}"
                continue
            assert url.startswith("${radar_url}/"), f"{board['uid']}: unexpected link {url}"
            resolved = url.replace("${__field.labels.stream}", "acme")
            resolved = substitute(resolved, {"radar_url": radar.url, "stream": "acme"})
            if resolved not in checked:
                response = radar.http.get(resolved)
                assert response.status_code == 200, (
                    f"{board['uid']}: {url} -> {resolved}: {response.status_code}"
                )
                checked.add(resolved)
    assert {f"{radar.url}/streams/acme", f"{radar.url}/incidents?stream=acme"} <= checked
