"""The ingest API over real HTTP: uvicorn on loopback, httpx as the client.

Covers the answer contract, bearer tokens, size limits (413), bad records next to good ones,
duplicates, rejects in ``/metrics``, a journal that cannot write (503, nothing fed) and the
read endpoints.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from radar.app import create_app
from radar.clock import ManualClock
from radar.config import RadarConfig
from radar.service import RadarService
from tests.loopback import LoopbackServer

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
TOKEN = "s3cret-token"


class Server:
    """A radar service behind a real uvicorn server on 127.0.0.1 (any free port)."""

    def __init__(self, service: RadarService, token: str) -> None:
        self.service = service
        self.http = LoopbackServer(create_app(service, token=token))
        self.client = httpx.Client(base_url=self.http.base, timeout=10)

    def post(
        self, body: bytes | str, content_type: str = "application/x-ndjson", **headers: str
    ) -> httpx.Response:
        data = body.encode() if isinstance(body, str) else body
        all_headers = {"content-type": content_type, "authorization": f"Bearer {TOKEN}", **headers}
        return self.client.post("/v1/mentions", content=data, headers=all_headers)

    def metric(self, line_start: str) -> float:
        text = self.client.get("/metrics").text
        for line in text.splitlines():
            if line.startswith(line_start + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def close(self) -> None:
        self.client.close()
        self.http.stop()
        self.service.stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    config = RadarConfig.model_validate(
        {
            "http": {"max_batch_records": 50, "max_body_bytes": 64 * 1024},
            "streams": {"acme": {"keywords": ["acme air"], "handles": ["@AcmeAir"]}},
        }
    )
    service = RadarService(config, state_dir=tmp_path, notifiers=[], clock=ManualClock(NOW), live=False)
    s = Server(service, TOKEN)
    yield s
    s.close()


def _mention(i: int, text: str = "@AcmeAir lost my bag again", **extra: object) -> dict[str, object]:
    at = NOW - timedelta(hours=1) + timedelta(seconds=i)
    return {"id": f"m{i}", "created_at": at.isoformat().replace("+00:00", "Z"), "text": text, **extra}


def _ndjson(records: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def test_json_array_and_ndjson_are_accepted(server: Server) -> None:
    r = server.post(json.dumps([_mention(1), _mention(2)]), "application/json")
    assert r.status_code == 200
    assert r.json()["accepted"] == 2 and r.json()["rejected"] == []
    r = server.post(_ndjson([_mention(3), _mention(4), _mention(5)]))
    assert r.status_code == 200 and r.json()["accepted"] == 3
    assert server.service.journal.last_seq == 5  # on disk before the answer
    assert server.metric('radar_mentions_ingested_total{source="api"}') == 5


def test_bad_records_are_rejected_one_by_one_and_the_rest_goes_in(server: Server) -> None:
    future = (NOW + timedelta(days=2)).isoformat()
    lines = [
        json.dumps(_mention(1)),
        "{not json",
        json.dumps({"created_at": "2026-11-25T10:00:00Z", "text": "acme air"}),
        json.dumps(_mention(3, text="")),
        json.dumps(_mention(4) | {"created_at": "yesterday"}),
        json.dumps(_mention(5) | {"created_at": "2026-11-25T10:00:00"}),
        json.dumps(_mention(6) | {"created_at": future}),
        json.dumps(_mention(7, text="acme air " + "x" * 10_000)),
        json.dumps(_mention(8, author_followers="many")),
        json.dumps(_mention(9)),
    ]
    body = (
        "\n".join(lines) + "\n"
    ).encode() + b'{"id": "m10", "created_at": "2026-11-25T10:00:00Z", "text": "\xff"}\n'
    r = server.post(body)
    assert r.status_code == 200
    doc = r.json()
    assert doc["accepted"] == 2
    got = {x["index"]: (x["reason"], x["error"]) for x in doc["rejected"]}
    assert {i: reason for i, (reason, _) in got.items()} == {
        1: "malformed_json",
        2: "missing_field",
        3: "missing_field",
        4: "bad_timestamp",
        5: "bad_timestamp",
        6: "future_timestamp",
        7: "too_long",
        8: "wrong_type",
        10: "invalid_utf8",
    }
    assert got[2][1].startswith("id")
    assert got[3][1].startswith("text")
    assert "created_at" in got[5][1] and "zone" in got[5][1]
    assert "author_followers" in got[8][1]
    assert server.metric('radar_mentions_rejected_total{reason="bad_timestamp"}') == 2
    assert server.metric('radar_mentions_rejected_total{reason="malformed_json"}') == 1


def test_duplicates_count_once(server: Server) -> None:
    first = server.post(_ndjson([_mention(1), _mention(2)])).json()
    again = server.post(_ndjson([_mention(2), _mention(3)])).json()
    assert first["duplicates"] == 0
    assert again["duplicates"] == 1
    assert server.metric("radar_mentions_duplicate_total") == 1
    # the duplicate is journaled (nothing accepted is dropped) but counted in no bucket twice
    server.service.pipeline.finish()
    assert server.metric('radar_stream_mentions_total{stream="acme"}') == 3


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"authorization": ""}, 401),
        ({"authorization": "Bearer nope"}, 401),
        ({"authorization": "Basic x"}, 401),
    ],
)
def test_bearer_token_is_required(server: Server, headers: dict[str, str], status: int) -> None:
    r = server.post(_ndjson([_mention(1)]), **headers)
    assert r.status_code == status
    assert r.headers["www-authenticate"] == "Bearer"
    assert server.service.journal.last_seq == 0
    assert server.metric('radar_mentions_rejected_total{reason="unauthorized"}') == 1


def test_too_many_records_is_413_and_nothing_goes_in(server: Server) -> None:
    r = server.post(_ndjson([_mention(i) for i in range(51)]))
    assert r.status_code == 413
    assert "51 records" in r.json()["error"] and "50" in r.json()["error"]
    r = server.post(json.dumps([_mention(i) for i in range(51)]), "application/json")
    assert r.status_code == 413
    assert server.service.journal.last_seq == 0
    assert server.metric('radar_mentions_rejected_total{reason="batch_too_large"}') == 2


def test_too_many_bytes_is_413_even_without_a_content_length(server: Server) -> None:
    big = _ndjson([_mention(i, text="acme air " + "y" * 3000) for i in range(30)]).encode()
    assert len(big) > 64 * 1024
    assert server.post(big).status_code == 413

    def chunks() -> Iterator[bytes]:  # chunked transfer: the limit is enforced while reading
        for i in range(0, len(big), 8192):
            yield big[i : i + 8192]

    r = server.client.post(
        "/v1/mentions",
        content=chunks(),
        headers={"content-type": "application/x-ndjson", "authorization": f"Bearer {TOKEN}"},
    )
    assert r.status_code == 413
    assert "limit" in r.json()["error"]
    assert server.service.journal.last_seq == 0


def test_a_malformed_json_document_is_400(server: Server) -> None:
    r = server.post('[{"id": "1", ', "application/json")
    assert r.status_code == 400
    assert r.json()["error"].startswith("body: malformed JSON")


def test_journal_failure_is_503_and_nothing_is_fed(server: Server) -> None:
    server.service.journal.close()  # stands in for a full or failing disk
    r = server.post(_ndjson([_mention(1)]))
    assert r.status_code == 503
    assert r.headers["retry-after"]
    assert "nothing was accepted" in r.json()["error"]
    assert server.service.pipeline.max_event_t < 0
    assert server.metric('radar_mentions_rejected_total{reason="journal_unavailable"}') == 1


def test_read_endpoints(server: Server) -> None:
    server.post(_ndjson([_mention(1)]))
    health = server.client.get("/healthz").json()
    assert health["status"] == "ok"
    assert health["journal_seq"] == 1
    assert health["streams"]["acme"]["learning"] is True
    assert server.client.get("/v1/incidents").json() == {"incidents": []}
    schema = server.client.get("/openapi.json").json()
    body = schema["paths"]["/v1/mentions"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "application/x-ndjson"}
    metrics = server.client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    server.service.pipeline.finish()
    families = {f.name: f for f in text_string_to_metric_families(server.client.get("/metrics").text)}
    per_stream = {
        "radar_stream_mentions",
        "radar_stream_negative_mentions",
        "radar_stream_bucket_mentions",
        "radar_stream_expected_mentions",
        "radar_stream_expected_mentions_lower",
        "radar_stream_expected_mentions_upper",
        "radar_stream_negative_share_ratio",
        "radar_stream_negative_share_baseline_ratio",
        "radar_stream_anomaly_score",
        "radar_stream_surprise",
        "radar_stream_level",
        "radar_stream_learning",
        "radar_stream_silent",
    }
    assert per_stream <= set(families)
    learning = {s.labels["stream"]: s.value for s in families["radar_stream_learning"].samples}
    assert learning == {"acme": 1.0}
    negative = families["radar_stream_negative_mentions"].samples
    assert [(s.name, s.value) for s in negative] == [("radar_stream_negative_mentions_total", 1.0)]
