"""Tests for the FakeSlack fixture, driven only through a real ``slack_sdk.WebClient``.

Every client is built with ``retry_handlers=[]`` so that slack_sdk's default connection-error retry
never hides a failure the fake was told to produce, and no test sleeps on ``Retry-After``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.error import HTTPError, URLError

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.fakeslack import UPLOAD, FakeSlack

CRISIS = "C0CRISIS"
OTHER = "C0OTHER"
METADATA = {"event_type": "crisis_alert", "event_payload": {"incident_id": "inc-42", "severity": 3}}


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def make_client(slack: FakeSlack, token: str | None = None, timeout: float = 5) -> WebClient:
    return WebClient(
        token=slack.token if token is None else token,
        base_url=slack.base_url,
        retry_handlers=[],
        timeout=timeout,  # type: ignore[arg-type]  # urllib accepts float seconds
    )


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    return make_client(slack)


def api_error(excinfo: pytest.ExceptionInfo[SlackApiError]) -> str:
    return str(excinfo.value.response["error"])


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(text: str) -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": "ack"}


# --------------------------------------------------------------------------- lifecycle and auth


def test_base_url_is_loopback_with_trailing_slash(slack: FakeSlack) -> None:
    assert slack.base_url.startswith("http://127.0.0.1:")
    assert slack.base_url.endswith("/api/")


def test_auth_test_with_the_right_token(client: WebClient, slack: FakeSlack) -> None:
    answer = client.auth_test()
    assert answer.status_code == 200
    assert answer["ok"] is True
    assert answer["team_id"] == "T0TEST"
    for key in ("url", "team", "user", "user_id", "bot_id"):
        assert answer[key]
    (received,) = slack.calls("auth.test")
    assert received.headers["Authorization"] == f"Bearer {slack.token}"
    assert received.status == 200
    assert received.answer["ok"] is True


def test_missing_token_is_not_authed(slack: FakeSlack) -> None:
    anonymous = WebClient(base_url=slack.base_url, retry_handlers=[])
    with pytest.raises(SlackApiError) as excinfo:
        anonymous.auth_test()
    assert excinfo.value.response.status_code == 200
    assert api_error(excinfo) == "not_authed"


def test_wrong_token_is_invalid_auth(slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        make_client(slack, token="xoxb-wrong").chat_postMessage(channel=CRISIS, text="hi")
    assert excinfo.value.response.status_code == 200
    assert api_error(excinfo) == "invalid_auth"
    assert slack.messages == {}


def test_stop_releases_the_port_and_context_manager_restarts_cleanly() -> None:
    fake = FakeSlack().start()
    url = fake.base_url
    make_client(fake).auth_test()
    fake.stop()
    fake.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = fake.base_url
    with FakeSlack() as again:
        assert make_client(again).auth_test()["ok"]
    assert url.startswith("http://127.0.0.1:")


# --------------------------------------------------------------------------- messages


def test_post_reply_update_and_read_back_with_metadata(client: WebClient, slack: FakeSlack) -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Crisis: Acme Air"}},
        section("*Volume* up 7x"),
    ]
    parent = client.chat_postMessage(
        channel=CRISIS, text="Crisis: Acme Air", blocks=blocks, metadata=METADATA
    )
    assert parent["ok"] and parent["channel"] == CRISIS
    ts = parent["ts"]
    assert parent["message"]["ts"] == ts
    assert parent["message"]["metadata"] == METADATA
    assert parent["message"]["blocks"] == blocks

    reply = client.chat_postMessage(channel=CRISIS, thread_ts=ts, text="update: 9x", metadata=METADATA)
    assert reply["message"]["thread_ts"] == ts
    assert float(reply["ts"]) > float(ts)

    updated = client.chat_update(channel=CRISIS, ts=ts, text="Crisis: Acme Air (resolved)")
    assert updated["ok"] and updated["ts"] == ts and updated["channel"] == CRISIS
    assert updated["text"] == "Crisis: Acme Air (resolved)"
    assert updated["message"]["text"] == "Crisis: Acme Air (resolved)"
    assert updated["message"]["metadata"] == METADATA  # kept when the update does not mention it
    assert "edited" in updated["message"]

    stored = slack.messages[(CRISIS, ts)]
    assert stored.text == "Crisis: Acme Air (resolved)"
    assert stored.blocks is None
    assert [e["text"] for e in stored.edits] == ["Crisis: Acme Air"]
    assert stored.edits[0]["blocks"] == blocks
    assert [m.ts for m in slack.parents(CRISIS)] == [ts]
    assert [m.text for m in slack.replies(CRISIS, ts)] == ["update: 9x"]

    history = client.conversations_history(channel=CRISIS, include_all_metadata=True)
    assert history["ok"] and history["has_more"] is False
    assert history["response_metadata"] == {"next_cursor": ""}
    (top,) = history["messages"]
    assert top["ts"] == ts and top["metadata"] == METADATA
    assert top["reply_count"] == 1 and top["latest_reply"] == reply["ts"]

    thread = client.conversations_replies(channel=CRISIS, ts=ts, include_all_metadata=True)
    assert [m["ts"] for m in thread["messages"]] == [ts, reply["ts"]]
    assert thread["messages"][1]["metadata"] == METADATA
    assert thread["messages"][1]["thread_ts"] == ts


def test_metadata_only_returned_when_asked(client: WebClient) -> None:
    ts = client.chat_postMessage(channel=CRISIS, text="alert", metadata=METADATA)["ts"]
    client.chat_postMessage(channel=CRISIS, thread_ts=ts, text="more", metadata=METADATA)
    assert "metadata" not in client.conversations_history(channel=CRISIS)["messages"][0]
    assert all("metadata" not in m for m in client.conversations_replies(channel=CRISIS, ts=ts)["messages"])


def test_update_with_empty_metadata_removes_it(client: WebClient, slack: FakeSlack) -> None:
    ts = client.chat_postMessage(channel=CRISIS, text="alert", metadata=METADATA)["ts"]
    client.chat_update(channel=CRISIS, ts=ts, text="alert", metadata={})
    assert slack.messages[(CRISIS, ts)].metadata is None
    assert slack.messages[(CRISIS, ts)].edits[0]["metadata"] == METADATA


def test_history_newest_first_with_window_and_cursor(client: WebClient, slack: FakeSlack) -> None:
    posted = [client.chat_postMessage(channel=CRISIS, text=f"m{i}")["ts"] for i in range(5)]
    client.chat_postMessage(channel=OTHER, text="elsewhere")
    client.chat_postMessage(channel=CRISIS, thread_ts=posted[0], text="a reply is not history")

    first = client.conversations_history(channel=CRISIS, limit=2)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"]
    assert first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    second = client.conversations_history(channel=CRISIS, limit=2, cursor=cursor)
    assert [m["text"] for m in second["messages"]] == ["m2", "m1"]
    third = client.conversations_history(
        channel=CRISIS, limit=2, cursor=second["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in third["messages"]] == ["m0"]
    assert third["has_more"] is False

    window = client.conversations_history(channel=CRISIS, oldest=posted[1], latest=posted[3])
    assert [m["text"] for m in window["messages"]] == ["m2"]
    inclusive = client.conversations_history(
        channel=CRISIS, oldest=posted[1], latest=posted[3], inclusive=True
    )
    assert [m["text"] for m in inclusive["messages"]] == ["m3", "m2", "m1"]
    recent = client.conversations_history(channel=CRISIS, oldest=str(time.time() - 60))
    assert len(recent["messages"]) == 5
    assert [m.text for m in slack.parents()] == ["m0", "m1", "m2", "m3", "m4", "elsewhere"]


def test_form_encoded_call_with_json_strings(client: WebClient, slack: FakeSlack) -> None:
    blocks = [section("from a form")]
    answer = client.api_call(
        "chat.postMessage",
        params={
            "channel": CRISIS,
            "text": "form",
            "blocks": json.dumps(blocks),
            "metadata": json.dumps(METADATA),
        },
    )
    assert answer["ok"]
    (received,) = slack.calls("chat.postMessage")
    assert received.headers["Content-Type"] == "application/x-www-form-urlencoded"
    stored = slack.messages[(CRISIS, answer["ts"])]
    assert stored.blocks == blocks
    assert stored.metadata == METADATA


MISSING_TEXT_WARNING = "ignore:The top-level `text` argument is missing:UserWarning"


def test_multipart_form_fields_are_arguments(client: WebClient, slack: FakeSlack) -> None:
    answer = client.api_call(
        "chat.postMessage", data={"channel": CRISIS, "text": "multipart"}, files={"extra": b"\x00bytes"}
    )
    assert answer["ok"]
    (received,) = slack.calls("chat.postMessage")
    assert received.headers["Content-Type"].startswith("multipart/form-data")
    assert received.args == {"channel": CRISIS, "text": "multipart"}
    assert slack.parents(CRISIS)[0].text == "multipart"


@pytest.mark.filterwarnings(MISSING_TEXT_WARNING)
@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"channel": "C0NOPE", "text": "x"}, "channel_not_found"),
        ({"channel": CRISIS}, "no_text"),
        ({"channel": CRISIS, "text": "x" * 40_001}, "msg_too_long"),
        ({"channel": CRISIS, "text": "x", "thread_ts": "1700000000.000100"}, "thread_not_found"),
        ({"channel": CRISIS, "text": "x", "blocks": "not json"}, "invalid_blocks_format"),
        ({"channel": CRISIS, "text": "x", "metadata": {"event_payload": {}}}, "invalid_metadata_format"),
    ],
)
def test_post_message_errors(client: WebClient, slack: FakeSlack, kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(**kwargs)
    assert excinfo.value.response.status_code == 200
    assert api_error(excinfo) == error
    assert slack.messages == {}


def test_text_of_exactly_40000_chars_is_accepted(client: WebClient) -> None:
    assert client.chat_postMessage(channel=CRISIS, text="x" * 40_000)["ok"]


def test_reply_to_a_reply_is_thread_not_found(client: WebClient) -> None:
    parent = client.chat_postMessage(channel=CRISIS, text="parent")["ts"]
    child = client.chat_postMessage(channel=CRISIS, text="child", thread_ts=parent)["ts"]
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel=CRISIS, text="grandchild", thread_ts=child)
    assert api_error(excinfo) == "thread_not_found"
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel=OTHER, text="wrong channel", thread_ts=parent)
    assert api_error(excinfo) == "thread_not_found"


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        ([section("x")] * 51, "/blocks"),
        ([{"text": {"type": "mrkdwn", "text": "no type"}}], "/blocks/0"),
        ([section("x" * 3001)], "/blocks/0/text/text"),
        ([{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}], "/blocks/0/text/text"),
        ([{"type": "actions", "elements": [button("ok")] * 26}], "/blocks/0/elements"),
        ([{"type": "actions", "elements": [button("b" * 76)]}], "/blocks/0/elements/0/text/text"),
        ([{**section("x"), "accessory": button("b" * 76)}], "/blocks/0/accessory/text/text"),
    ],
)
def test_block_limits_are_invalid_blocks(
    client: WebClient, slack: FakeSlack, blocks: list[Any], pointer: str
) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel=CRISIS, text="fallback", blocks=blocks)
    assert api_error(excinfo) == "invalid_blocks"
    messages = excinfo.value.response["response_metadata"]["messages"]
    assert any(f"[json-pointer:{pointer}]" in m for m in messages), messages
    assert slack.messages == {}


def test_blocks_at_the_limits_are_accepted(client: WebClient) -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 150}},
        section("x" * 3000),
        {"type": "actions", "elements": [button("b" * 75)] * 25},
    ] + [section("filler")] * 47
    assert len(blocks) == 50
    assert client.chat_postMessage(channel=CRISIS, text="fallback", blocks=blocks)["ok"]


@pytest.mark.filterwarnings(MISSING_TEXT_WARNING)
def test_update_errors(client: WebClient) -> None:
    ts = client.chat_postMessage(channel=CRISIS, text="alert")["ts"]
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_update(channel=CRISIS, ts="1700000000.000100", text="x")
    assert api_error(excinfo) == "message_not_found"
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_update(channel=OTHER, ts=ts, text="x")
    assert api_error(excinfo) == "message_not_found"
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_update(channel=CRISIS, ts=ts, blocks=[section("y" * 3001)])
    assert api_error(excinfo) == "invalid_blocks"


def test_replies_errors(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.conversations_replies(channel=CRISIS, ts="1700000000.000100")
    assert api_error(excinfo) == "thread_not_found"
    with pytest.raises(SlackApiError) as excinfo:
        client.conversations_history(channel="C0NOPE")
    assert api_error(excinfo) == "channel_not_found"


def test_unknown_method(client: WebClient, slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.api_call("chat.postMessageTypo", json={"channel": CRISIS, "text": "x"})
    assert api_error(excinfo) == "unknown_method"
    assert slack.calls("chat.postMessageTypo")[0].status == 200


# --------------------------------------------------------------------------- fault injection


def test_fail_next_429_carries_retry_after(client: WebClient, slack: FakeSlack) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=2)
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel=CRISIS, text="first try")
    assert excinfo.value.response.status_code == 429
    assert excinfo.value.response.headers["Retry-After"] == "2"
    assert api_error(excinfo) == "ratelimited"
    assert slack.messages == {}
    # the failure is used up: the retry goes through
    assert client.chat_postMessage(channel=CRISIS, text="second try")["ok"]
    assert [r.status for r in slack.calls("chat.postMessage")] == [429, 200]


def test_fail_next_500_is_a_non_json_body(client: WebClient, slack: FakeSlack) -> None:
    slack.fail_next("chat.postMessage", status=500)
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel=CRISIS, text="x")
    assert excinfo.value.response.status_code == 500
    assert "internal error" in api_error(excinfo)
    assert slack.calls("chat.postMessage")[0].answer == {"raw": "internal error"}


def test_fail_next_ok_false_error_with_http_200(client: WebClient, slack: FakeSlack) -> None:
    slack.fail_next("chat.update", error="channel_not_found")
    ts = client.chat_postMessage(channel=CRISIS, text="x")["ts"]  # other methods are unaffected
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_update(channel=CRISIS, ts=ts, text="y")
    assert excinfo.value.response.status_code == 200
    assert api_error(excinfo) == "channel_not_found"
    assert slack.messages[(CRISIS, ts)].text == "x"


def test_fail_next_count_and_wildcard(client: WebClient, slack: FakeSlack) -> None:
    slack.fail_next("*", count=2, status=502)
    for _ in range(2):
        with pytest.raises(SlackApiError) as excinfo:
            client.auth_test()
        assert excinfo.value.response.status_code == 502
    assert client.auth_test()["ok"]
    slack.fail_next("*", status=429)
    slack.fail_next("auth.test", error="fatal_error")  # exact-method failures go first
    with pytest.raises(SlackApiError) as excinfo:
        client.auth_test()
    assert api_error(excinfo) == "fatal_error"
    with pytest.raises(SlackApiError) as excinfo:
        client.auth_test()
    assert excinfo.value.response.status_code == 429
    assert excinfo.value.response.headers["Retry-After"] == "1"


def test_set_down_answers_every_request_until_lifted(client: WebClient, slack: FakeSlack) -> None:
    slack.set_down(True)
    attempts: list[Callable[[], object]] = [
        client.auth_test,
        lambda: client.chat_postMessage(channel=CRISIS, text="x"),
    ]
    for call in attempts:
        with pytest.raises(SlackApiError) as excinfo:
            call()
        assert excinfo.value.response.status_code == 503
    slack.set_down(True, status=504)
    with pytest.raises(SlackApiError) as excinfo:
        client.auth_test()
    assert excinfo.value.response.status_code == 504
    slack.set_down(False)
    assert client.chat_postMessage(channel=CRISIS, text="back")["ok"]
    assert [m.text for m in slack.parents()] == ["back"]


def test_delay_makes_a_short_client_timeout_fire(slack: FakeSlack) -> None:
    impatient = make_client(slack, timeout=0.1)
    slack.delay(0.5)
    started = time.monotonic()
    with pytest.raises((TimeoutError, URLError)):
        impatient.auth_test()
    assert time.monotonic() - started < 0.45
    slack.delay(0)
    assert impatient.auth_test()["ok"]


# --------------------------------------------------------------------------- files


def test_files_upload_v2_round_trip_into_a_thread(client: WebClient, slack: FakeSlack) -> None:
    parent = client.chat_postMessage(channel=CRISIS, text="Crisis: Acme Air")["ts"]
    answer = client.files_upload_v2(
        channel=CRISIS,
        thread_ts=parent,
        content=b"png bytes",
        filename="chart.png",
        title="Mentions per minute",
        initial_comment="volume chart",
    )
    assert answer["ok"]
    file_id = answer["file"]["id"]
    assert answer["files"][0]["id"] == file_id
    assert answer["file"]["title"] == "Mentions per minute"
    assert answer["file"]["name"] == "chart.png"
    assert "ts" not in answer  # like Slack: the share's ts is only in files.info

    assert [r.method for r in slack.requests[1:]] == [
        "files.getUploadURLExternal",
        UPLOAD,
        "files.completeUploadExternal",
    ]
    stored = slack.files[file_id]
    assert stored.content == b"png bytes"
    assert stored.length == len(b"png bytes")
    assert (stored.filename, stored.title) == ("chart.png", "Mentions per minute")
    assert (stored.channel, stored.thread_ts, stored.initial_comment) == (CRISIS, parent, "volume chart")

    (share,) = slack.replies(CRISIS, parent)
    assert share.files == [file_id]
    assert share.text == "volume chart"
    assert [m.ts for m in slack.parents(CRISIS)] == [parent]  # the upload did not start a new thread

    thread = client.conversations_replies(channel=CRISIS, ts=parent)["messages"]
    assert thread[1]["files"][0]["id"] == file_id
    info = client.files_info(file=file_id)["file"]
    assert info["shares"]["public"][CRISIS][0]["ts"] == share.ts
    assert info["shares"]["public"][CRISIS][0]["thread_ts"] == parent


def test_files_upload_v2_without_channel_stays_private(client: WebClient, slack: FakeSlack) -> None:
    answer = client.files_upload_v2(content="plain text", filename="notes.txt")
    stored = slack.files[answer["file"]["id"]]
    assert stored.content == b"plain text" and stored.channel is None
    assert slack.messages == {}


def test_upload_errors(client: WebClient, slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.files_upload_v2(channel="C0NOPE", content=b"x", filename="x.png")
    assert api_error(excinfo) == "invalid_channel"
    with pytest.raises(SlackApiError) as excinfo:
        client.files_completeUploadExternal(files=[{"id": "F0MISSING"}])
    assert api_error(excinfo) == "file_not_found"
    slack.fail_next(UPLOAD, status=500)
    with pytest.raises(HTTPError) as http_error:
        client.files_upload_v2(channel=CRISIS, content=b"x", filename="x.png")
    assert http_error.value.code == 500
    assert len(slack.calls("files.completeUploadExternal")) == 2  # the failed upload never completed
    assert slack.messages == {}


# --------------------------------------------------------------------------- bookkeeping


def test_requests_are_logged_in_order_with_monotonic_times(client: WebClient, slack: FakeSlack) -> None:
    before = time.monotonic()
    client.auth_test()
    client.chat_postMessage(channel=CRISIS, text="hello")
    after = time.monotonic()
    first, second = slack.requests
    assert (first.method, second.method) == ("auth.test", "chat.postMessage")
    assert before <= first.at <= second.at <= after
    assert second.args == {"channel": CRISIS, "text": "hello"}
    assert second.headers["Content-Type"].startswith("application/json")
    assert second.answer["ts"] in {ts for _, ts in slack.messages}


def test_concurrent_posts_get_unique_increasing_ts(slack: FakeSlack) -> None:
    results: list[str] = []
    lock = threading.Lock()

    def post(i: int) -> None:
        ts = make_client(slack).chat_postMessage(channel=CRISIS, text=f"p{i}")["ts"]
        with lock:
            results.append(ts)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)
    assert len(results) == len(set(results)) == 20
    assert [m.ts for m in slack.parents(CRISIS)] == sorted(
        results, key=lambda ts: tuple(map(int, ts.split(".")))
    )
