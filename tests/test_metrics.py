"""The per-stream series written directly are exactly what prometheus-client would write."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from radar.metrics import RadarMetrics, StreamSample

numbers = st.floats(allow_nan=True, allow_infinity=True) | st.integers(0, 10**12)


@st.composite
def samples(draw: st.DrawFn) -> StreamSample:
    values = [draw(numbers) for _ in range(12)]
    return StreamSample(draw(st.text(min_size=1, max_size=20)), *values[:11], int(draw(st.integers(0, 3))),
                        draw(st.booleans()), draw(st.booleans()))  # fmt: skip


@given(st.lists(samples(), max_size=5, unique_by=lambda s: s.stream))
def test_stream_text_is_what_generate_latest_writes(streams: list[StreamSample]) -> None:
    metrics = RadarMetrics()
    metrics.stream_collector.samples = lambda: streams
    registry = CollectorRegistry()
    registry.register(metrics.stream_collector)
    assert metrics.stream_collector.text() == generate_latest(registry)


def test_the_exposition_parses_and_has_no_created_series() -> None:
    metrics = RadarMetrics()
    metrics.stream_collector.samples = lambda: [
        StreamSample('a"b\\c', 10, 2, 3, 2.5, 0.0, 7.1, 0.3, 0.2, 0.1, math.inf, math.nan, 2, False, True)
    ]
    metrics.incidents.labels("a", "crisis").inc()
    text = metrics.exposition().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["radar_stream_mentions"].samples[0].labels == {"stream": 'a"b\\c'}
    assert families["radar_stream_silent"].samples[0].value == 1.0
    assert "_created" not in text
