"""Prometheus side: promtool on the config, the rules and a real scrape, and every dashboard query,
annotation, variable and recording rule answered by a real Prometheus.

The integration test starts a radar (RadarService + uvicorn on loopback, Slack on a fake Slack server)
and Debian's ``prometheus`` on loopback scraping it every second, with ``prometheus/rules/*.yml``
evaluated every second. The demo scenario is replayed through the ingest API; whenever a stream's
level, learning or silent state changes, the replay waits until Prometheus has scraped it, so level
changes are in the TSDB. Then every query must return data (an empty vector fails, printed).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.dashboard_model import (
    dashboard_files,
    label_values,
    load,
    queries,
    substitute,
    variable_query,
    variables,
    without_fallback,
)
from tests.fakeslack import FakeSlack
from tests.live_radar import (
    PROMETHEUS_DIR,
    ROOT,
    RULES_DIR,
    SLACK_CHANNEL,
    LiveRadar,
    PrometheusServer,
    demo_records,
    wait_until,
)

PROMTOOL = shutil.which("promtool")


@pytest.fixture
def prometheus_installed() -> None:
    """Fail (never skip): the tests need prometheus and promtool (make test installs them)."""
    if PROMTOOL is None or shutil.which("prometheus") is None:
        pytest.fail("Debian package prometheus (prometheus, promtool) is missing: apt-get install prometheus")


needs_prometheus = pytest.mark.usefixtures("prometheus_installed")
RULE_FILES = sorted(RULES_DIR.glob("*.yml"))
#: The stream the demo scenario puts a crisis on: every kind of series exists for it.
CRISIS_STREAM = "acme"
QUERY_DEADLINE = 30.0


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL
    return subprocess.run(
        [PROMTOOL, *args], input=stdin, capture_output=True, text=True, timeout=60, cwd=ROOT, check=False
    )


def rules() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            found += group["rules"]
    return found


# -- promtool -----------------------------------------------------------------------------------------
@needs_prometheus
def test_promtool_checks_the_config(tmp_path: Path) -> None:
    # the config as docker compose mounts it: /etc/prometheus/{prometheus.yml,rules/}
    shutil.copy(PROMETHEUS_DIR / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copytree(RULES_DIR, tmp_path / "rules")
    done = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    for path in RULE_FILES:
        assert f"rules/{path.name}" in done.stdout, done.stdout  # the rule_files glob found them


@needs_prometheus
def test_promtool_checks_the_rules() -> None:
    done = promtool("check", "rules", *map(str, RULE_FILES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == len(RULE_FILES) >= 2, done.stdout


@needs_prometheus
def test_the_alert_unit_tests_pass() -> None:
    done = promtool("test", "rules", str(PROMETHEUS_DIR / "tests" / "alerts_test.yml"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_rules_follow_the_conventions() -> None:
    recorded, alerts = [], []
    for rule in rules():
        if "record" in rule:
            recorded.append(rule["record"])
            assert re.fullmatch(r"[a-z_]*:[a-z0-9_]+:[a-z0-9_]+", str(rule["record"])), rule["record"]
        else:
            alerts.append(rule["alert"])
            assert rule.get("for"), f"{rule['alert']}: no for:"
            assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
            assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
    assert len(recorded) == len(set(recorded)) and len(alerts) == len(set(alerts))
    assert {"RadarIngestStalled", "RadarNotificationsFailing", "RadarSlackTokenRefused", "RadarOutboxStuck",
            "RadarCheckpointTooOld", "RadarStreamSilent"} <= set(alerts)  # fmt: skip


# -- a radar replaying the demo scenario, scraped by a real Prometheus ---------------------------------
@dataclass
class Stack:
    radar: LiveRadar
    prometheus: PrometheusServer
    slack: FakeSlack
    streams: list[str]
    exposition: str


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    if PROMTOOL is None or shutil.which("prometheus") is None:
        pytest.skip("Debian package prometheus is not installed")
    records = demo_records()
    with (
        tempfile.TemporaryDirectory(prefix="radar-prometheus-") as tmp,
        FakeSlack(channels=(SLACK_CHANNEL,)) as slack,
    ):
        workdir = Path(tmp)
        slack.fail_next("chat.postMessage", status=429, retry_after=1)  # one rate limit: a failure counted
        radar = LiveRadar(workdir / "radar", slack)
        prometheus = None
        try:
            prometheus = PrometheusServer(workdir / "prometheus", f"127.0.0.1:{radar.port}")
            wait_until(lambda: prometheus.value('up{job="radar"}') == 1, 20, "the first scrape of the radar")

            def scraped() -> None:  # until Prometheus holds what the radar journaled so far
                seq = radar.service.journal.last_seq
                wait_until(
                    lambda: (prometheus.value("radar_journal_last_sequence") or -1) >= seq,
                    10,
                    f"a scrape with journal sequence {seq}",
                    every=0.05,
                )

            radar.feed(records, chunk=500, on_change=scraped)
            # Slack: the crisis parent went out (after a 429); once Prometheus has seen those counters,
            # an acknowledgement from Slack edits the parent (a 429 first, then done) and replies
            wait_until(
                lambda: 'radar_notifications_sent_total{notifier="slack",what="parent"}' in radar.scrape(),
                20,
                "the crisis announced in Slack",
            )
            scraped()
            (incident,) = [i for i in radar.service.pipeline.open_incidents() if i.stream == CRISIS_STREAM]
            slack.fail_next("chat.update", status=429, retry_after=1)
            assert radar.click("ack", incident.id) == 200
            radar.exercise(records)
            wait_until(
                lambda: 'radar_notifications_sent_total{notifier="slack",what="update"}' in radar.scrape(),
                20,
                "the acknowledgement shown in Slack",
            )
            scraped()
            streams = sorted(prometheus.api("label/stream/values", **{"match[]": "radar_stream_level"}))
            yield Stack(radar, prometheus, slack, streams, radar.scrape())
        finally:
            if prometheus is not None:
                prometheus.close()
            radar.close()


def _returns_data(stack: Stack, exprs: dict[str, str]) -> dict[str, str]:
    """Query each expression (retrying until QUERY_DEADLINE: rates need two scrapes, rules an
    evaluation); the ones still returning nothing, with what was asked."""
    deadline = time.monotonic() + QUERY_DEADLINE
    pending = dict(exprs)
    while True:
        for where, expr in list(pending.items()):
            if stack.prometheus.query(expr):
                del pending[where]
        if not pending or time.monotonic() > deadline:
            return pending
        time.sleep(0.5)


@needs_prometheus
def test_promtool_accepts_the_radars_metrics(stack: Stack) -> None:
    assert (
        "radar_stream_level{" in stack.exposition and "radar_notifications_failed_total{" in stack.exposition
    )
    done = promtool("check", "metrics", stdin=stack.exposition)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


@needs_prometheus
def test_prometheus_scrapes_the_radar_and_evaluates_every_rule(stack: Stack) -> None:
    (target,) = stack.prometheus.api("targets")["activeTargets"]
    assert target["health"] == "up" and target["labels"]["job"] == "radar", target

    def evaluated() -> list[dict[str, Any]] | None:
        loaded = [r for g in stack.prometheus.api("rules")["groups"] for r in g["rules"]]
        return loaded if all(r["health"] != "unknown" for r in loaded) else None

    loaded = wait_until(evaluated, 10, "an evaluation of every rule")
    assert {r["name"] for r in loaded} == {str(r.get("record") or r.get("alert")) for r in rules()}
    bad = {r["name"]: r.get("lastError") for r in loaded if r["health"] != "ok"}
    assert not bad, bad
    assert stack.streams == ["acme", "fernwood", "nimbus"]


@needs_prometheus
def test_every_recording_rule_returns_data(stack: Stack) -> None:
    recorded = {str(r["record"]): str(r["record"]) for r in rules() if "record" in r}
    empty = _returns_data(stack, recorded)
    assert not empty, "recording rules without data:\n" + "\n".join(empty)


@needs_prometheus
@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.name)
def test_every_dashboard_query_returns_data(stack: Stack, path: Path) -> None:
    board = load(path)
    board_vars = variables(board)
    exprs: dict[str, str] = {}
    # variables: label_values(metric, label) as Grafana asks it
    for name, v in board_vars.items():
        if v["type"] == "query":
            parsed = label_values(variable_query(v))
            assert parsed and parsed[0], f"{name}: {variable_query(v)}"
            values = stack.prometheus.api(f"label/{parsed[1]}/values", **{"match[]": parsed[0]})
            assert sorted(values) == stack.streams, f"variable {name}: {values}"
    # the values $stream takes: each stream alone (a repeated row, a single choice), and All
    choices: list[dict[str, str]] = [{}]
    if "stream" in board_vars:
        choices = [{"stream": s} for s in stack.streams]
        if board_vars["stream"].get("multi"):
            choices.append({"stream": "(" + "|".join(stack.streams) + ")"})
    for q in queries(board):
        for choice in choices:
            if q.kind == "annotation" and choice.get("stream") not in (CRISIS_STREAM, None):
                continue  # level changes happen on the crisis stream only
            exprs[f"{q.where} {choice}"] = substitute(q.expr, choice)
        # a fallback zero must not hide a query that finds nothing: the query alone, on the crisis stream
        bare = without_fallback(q.expr)
        if bare is not None:
            choice = {"stream": CRISIS_STREAM} if "stream" in board_vars else {}
            exprs[f"{q.where} without its fallback {choice}"] = substitute(bare, choice)
    assert len(exprs) >= 10
    empty = _returns_data(stack, exprs)
    assert not empty, f"{board['uid']}: queries returning no data:\n" + "\n".join(
        f"  {where}:\n    {expr}" for where, expr in empty.items()
    )


@needs_prometheus
def test_the_bucket_close_delay_is_observed(stack: Stack) -> None:
    count = stack.prometheus.value("sum(radar_bucket_close_delay_seconds_count)")
    assert count is not None and count > 0
