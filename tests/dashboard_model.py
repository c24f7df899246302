"""Reading the Grafana dashboards of ``grafana/dashboards``: panels, queries, variables, metric names.

Shared by ``tests/test_dashboards.py`` (structure) and ``tests/test_prometheus.py`` (every query
against a real Prometheus).

>>> sorted(metric_names('sum by (le) (rate(radar_x_bucket{a="b"}[$__rate_interval])) or vector(0)'))
['radar_x_bucket']
>>> sorted(variable_refs("${radar_url}/streams/${stream} $__range [[old]] ${__field.labels.stream}"))
['__field', '__range', 'old', 'radar_url', 'stream']
>>> substitute('rate(x{stream=~"$stream"}[$__rate_interval])', {"stream": "acme"})
'rate(x{stream=~"acme"}[1m])'
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
GRAFANA_DIR = ROOT / "grafana"
DASHBOARD_DIR = GRAFANA_DIR / "dashboards"
DATASOURCE_UID = "prometheus"

#: Grafana's global variables that may appear in queries, titles and links.
BUILTIN_VARIABLES = frozenset(
    {"__interval", "__interval_ms", "__rate_interval", "__rate_interval_ms", "__range", "__range_s",
     "__range_ms", "__from", "__to", "__now", "__dashboard", "__user", "__org", "__name", "__url_time_range",
     "__timezone", "__field", "__series", "__value", "__data", "__all", "__timeFilter", "__auto"}
)  # fmt: skip
#: What the test substitutes for the time built-ins (Grafana computes them from the time range).
TIME_VARIABLES = {
    "__interval": "1m",
    "__rate_interval": "1m",
    "__range": "1h",
    "__range_s": "3600",
    "__interval_ms": "60000",
    "__rate_interval_ms": "60000",
    "__range_ms": "3600000",
}
#: Series Prometheus makes itself for every target (not in the radar's /metrics).
SYNTHETIC_SERIES = frozenset(
    {"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling",
     "scrape_series_added"}
)  # fmt: skip
#: A Grafana variable reference: $name, [[name:format]], ${name.field:format} (Grafana's own pattern).
VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}")
#: The zero a stat falls back on when the series does not exist yet: `... or vector(0)`.
FALLBACK = re.compile(r"\s+or\s+(?:label_replace\()?vector\(0\).*$", re.DOTALL)
_PROMQL_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
     "offset", "atan2", "inf", "nan"}
)  # fmt: skip
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_TOKEN = re.compile(r"[A-Za-z_:][\w:]*|\d[\w.]*|\S")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<metric>[^,]+?)\s*,\s*)?(?P<label>\w+)\s*\)\s*$")


@dataclass(frozen=True)
class Query:
    """One PromQL expression of a dashboard and where it is."""

    dashboard: str
    where: str
    expr: str
    kind: str  # "panel", "annotation"


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARD_DIR.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    board: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return board


def all_panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows and the panels inside (collapsed) rows included."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def variables(board: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in board.get("templating", {}).get("list", [])}


def queries(board: dict[str, Any]) -> list[Query]:
    """The PromQL of every panel target and every (non built-in) annotation."""
    uid = board["uid"]
    found = []
    for panel in all_panels(board):
        for t in panel.get("targets", []):
            where = f"panel {panel['id']} {panel.get('title')!r} target {t.get('refId')}"
            found.append(Query(uid, where, t.get("expr", ""), "panel"))
    for a in board.get("annotations", {}).get("list", []):
        if a.get("builtIn"):
            continue
        expr = (a.get("target") or {}).get("expr") or a.get("expr", "")
        found.append(Query(uid, f"annotation {a['name']!r}", expr, "annotation"))
    return found


def variable_query(variable: dict[str, Any]) -> str:
    """The query text of a query variable (a string, or ``{"query": ...}`` in newer Grafana)."""
    q = variable.get("query")
    return str(q.get("query", "")) if isinstance(q, dict) else str(q or "")


def label_values(query: str) -> tuple[str | None, str] | None:
    """``label_values(metric, label)`` as (metric selector or None, label); None for other queries."""
    m = _LABEL_VALUES.match(query)
    return (m["metric"], m["label"]) if m else None


def variable_refs(text: str) -> set[str]:
    """Names of the variables ``text`` refers to (``$1``-style regex groups are not variables)."""
    names = set()
    for m in VARIABLE.finditer(text):
        name = m.group(1) or m.group(2) or m.group(4)
        if name and not name.isdigit():
            names.add(name)
    return names


def strings(node: Any) -> Iterator[str]:
    """Every string in a JSON tree."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def substitute(expr: str, values: dict[str, str]) -> str:
    """``expr`` with variables replaced: ``values`` for dashboard variables (already formatted: a
    single value, or ``(a|b)`` for several), :data:`TIME_VARIABLES` for the time built-ins."""

    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(4)
        if name in values:
            return values[name]
        if name in TIME_VARIABLES:
            return TIME_VARIABLES[name]
        if name.isdigit():
            return m.group(0)
        raise KeyError(f"no value for ${name} in {expr!r}")

    return VARIABLE.sub(one, expr)


def without_fallback(expr: str) -> str | None:
    """``expr`` without its trailing ``or vector(0)``; None when it has none."""
    stripped = FALLBACK.sub("", expr)
    return stripped if stripped != expr else None


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords, labels and numbers aside)."""
    text = _STRINGS.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = _GROUPING.sub(" ", text)
    tokens = [m.group(0) for m in _TOKEN.finditer(text)]
    names = set()
    for i, token in enumerate(tokens):
        if not re.match(r"[A-Za-z_:]", token) or token in _PROMQL_KEYWORDS:
            continue
        if i + 1 < len(tokens) and tokens[i + 1] == "(":
            continue  # a function or an aggregation
        names.add(token)
    return names


def exposed_names(exposition: str) -> set[str]:
    """Every series name a ``/metrics`` text can hold: samples seen, and what the declared families
    would expose (``_total`` of counters, ``_bucket``/``_sum``/``_count`` of histograms)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(s.name for s in family.samples)
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type in ("histogram", "gaugehistogram"):
            names.update(family.name + suffix for suffix in ("_bucket", "_sum", "_count"))
        elif family.type == "summary":
            names.update((family.name, family.name + "_sum", family.name + "_count"))
        else:
            names.add(family.name)
    return names


def series_labels(exposition: str) -> dict[str, set[str]]:
    """For each sample name of a ``/metrics`` text, the label names it carries."""
    labels: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            labels.setdefault(s.name, set()).update(s.labels)
    return labels
