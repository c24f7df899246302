"""Listening-platform pushes through their field mappings (examples/webhooks.toml), over real HTTP."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from radar.app import create_app
from radar.clock import ManualClock
from radar.config import ConfigError, RadarConfig, parse_config
from radar.service import RadarService
from tests.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)
TOKEN = "hook-token"

BRANDWATCH = {
    "resultsTotal": 2,
    "results": [
        {
            "resourceId": "1234567",
            "date": "2026-03-04T09:15:02.000+0000",
            "fullText": "Acme Air lost my bag again",
            "author": "traveller",
            "twitterFollowers": 1200,
            "twitterRetweets": 3,
            "language": "en",
            "url": "https://twitter.com/traveller/status/1234567",
            "sentiment": "negative",
            "domain": "twitter.com",
        },
        {
            "resourceId": "1234568",
            "date": "2026-03-04T09:16:00.000+0000",
            "fullText": "",
            "author": "empty",
            "sentiment": "neutral",
        },
    ],
}
TALKWALKER = {
    "chunk_type": "CT_RESULT",
    "chunk_result": {
        "data": {
            "data": {
                "url": "https://news.example/acme-strike",
                "published": 1772615702000,
                "content": "Acme Air strike announced",
                "lang": "en",
                "sentiment": -4,
                "engagement": 40,
                "extra_author_attributes": {"name": "Daily News", "id": "dn"},
                "source_extended_attributes": {"twitter_followers": 250000},
            }
        }
    },
}
SPRINKLR = {
    "type": "NEW_MESSAGE",
    "payload": {
        "messageId": "m-99",
        "createdTime": 1772615760000,
        "content": {"text": "Acme Air, where is my refund?"},
        "senderProfile": {"username": "angry_flyer", "followers": 87},
        "permalink": "https://x.example/99",
        "sentiment": "NEGATIVE",
        "language": "en",
    },
}


def config() -> RadarConfig:
    hooks = tomllib.loads((ROOT / "examples" / "webhooks.toml").read_text())
    return RadarConfig.model_validate({**hooks, "streams": {"acme": {"keywords": ["acme air"]}}})


@pytest.fixture
def radar(tmp_path: Path) -> Iterator[tuple[httpx.Client, RadarService]]:
    service = RadarService(config(), state_dir=tmp_path, notifiers=[], clock=ManualClock(NOW), live=False)
    server = LoopbackServer(create_app(service, token=TOKEN))
    client = httpx.Client(base_url=server.base, headers={"authorization": f"Bearer {TOKEN}"})
    yield client, service
    client.close()
    server.stop()
    service.stop()


def journaled(service: RadarService) -> dict[str, Any]:
    return {m.id: m for _, m in service.journal.replay(0)}


def test_each_platform_mapping_ingests_its_push(radar: tuple[httpx.Client, RadarService]) -> None:
    client, service = radar
    answer = client.post("/v1/webhooks/brandwatch", json=BRANDWATCH).json()
    assert answer["accepted"] == 1
    assert answer["rejected"] == [
        {"index": 1, "reason": "missing_field", "error": answer["rejected"][0]["error"]}
    ]
    assert "text" in answer["rejected"][0]["error"]
    assert client.post("/v1/webhooks/talkwalker", json=TALKWALKER).json()["accepted"] == 1
    assert (
        client.post(
            "/v1/webhooks/sprinklr?token=" + TOKEN, json=SPRINKLR, headers={"authorization": ""}
        ).json()["accepted"]
        == 1
    )
    got = journaled(service)
    bw = got["brandwatch:1234567"]
    assert (bw.author, bw.author_followers, bw.reshares, bw.sentiment, bw.source) == (
        "traveller",
        1200,
        3,
        -0.6,
        "brandwatch",
    )
    assert bw.created_at == datetime(2026, 3, 4, 9, 15, 2, tzinfo=UTC)
    tw = got["talkwalker:https://news.example/acme-strike"]
    assert (tw.author, tw.author_followers, tw.sentiment, tw.reshares) == ("Daily News", 250000, -0.8, 40)
    assert tw.created_at == datetime.fromtimestamp(1772615702, UTC)
    sp = got["sprinklr:m-99"]
    assert (sp.text, sp.author, sp.sentiment, sp.url) == (
        "Acme Air, where is my refund?",
        "angry_flyer",
        -0.6,
        "https://x.example/99",
    )
    assert client.post("/v1/webhooks/brandwatch", json=BRANDWATCH).json()["duplicates"] == 1


def test_bad_pushes_are_refused_with_a_reason(radar: tuple[httpx.Client, RadarService]) -> None:
    client, _ = radar
    assert client.post("/v1/webhooks/nope", json={}).status_code == 404
    bad = client.post(
        "/v1/webhooks/brandwatch", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 400 and "webhook brandwatch" in bad.json()["error"]
    wrong = client.post("/v1/webhooks/brandwatch", json={"items": []})
    assert wrong.status_code == 400 and "no 'results' in the body" in wrong.json()["error"]
    assert (
        client.post(
            "/v1/webhooks/brandwatch", json=BRANDWATCH, headers={"authorization": "Bearer x"}
        ).status_code
        == 401
    )


def test_a_record_with_a_date_out_of_range_fails_alone(radar: tuple[httpx.Client, RadarService]) -> None:
    client, service = radar
    good = BRANDWATCH["results"][0]
    micro = {**good, "resourceId": "1", "date": 1772615760000000}  # epoch µs: year 58,000 and more
    huge = {**good, "resourceId": "2", "date": "9" * 5000}  # beyond Python's digit limit
    answer = client.post("/v1/webhooks/brandwatch", json={"results": [micro, huge, good]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["accepted"] == 1
    assert [(r["index"], r["reason"]) for r in body["rejected"]] == [
        (0, "bad_timestamp"),
        (1, "bad_timestamp"),
    ]
    assert all("created_at" in r["error"] for r in body["rejected"])
    assert set(journaled(service)) == {"brandwatch:1234567"}


def test_a_push_nested_too_deeply_or_with_a_byte_order_mark(radar: tuple[httpx.Client, RadarService]) -> None:
    client, _ = radar
    deep = client.post(
        "/v1/webhooks/brandwatch",
        content=b"[" * 100_000 + b"]" * 100_000,
        headers={"content-type": "application/json"},
    )
    assert deep.status_code == 400 and "nested too deeply" in deep.json()["error"]
    marked = client.post(
        "/v1/webhooks/brandwatch",
        content=b"\xef\xbb\xbf" + json.dumps(BRANDWATCH).encode(),
        headers={"content-type": "application/json"},
    )
    assert marked.status_code == 200 and marked.json()["accepted"] == 1


def test_a_mapping_without_the_required_fields_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as bad:
        parse_config('[webhooks.x]\nfields = { text = "body", colour = "c" }\n')
    assert "unknown mention field(s) colour" in str(bad.value)
    with pytest.raises(ConfigError) as missing:
        parse_config('[webhooks.x]\nfields = { text = "body" }\n')
    assert "map id, created_at: every mention needs them" in str(missing.value)
