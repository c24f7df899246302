"""The real ``radar run`` process: ``kill -9`` mid-ingest loses nothing acknowledged; SIGTERM checkpoints.

Each test starts the console script on a free loopback port with its own state directory, talks
to it over HTTP and stops it with a real signal.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from radar.demo import demo_config
from radar.scenario import demo_scenario

TOKEN = "durability-token"
HEADERS = {"authorization": f"Bearer {TOKEN}", "content-type": "application/x-ndjson"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_config(path: Path, checkpoint_every: int) -> None:
    config = demo_config(demo_scenario(1), str(path.parent / "unused"))
    lines = [
        "[radar]",
        f"checkpoint_interval_seconds = {checkpoint_every}",
        "[detection]",
        f"warmup_hours = {config.detection.warmup_hours}",
    ]
    for name, stream in config.streams.items():
        lines.append(f"[streams.{name}]")
        lines.append(f"display_name = {json.dumps(stream.display_name)}")
        lines.append(f"keywords = {json.dumps(list(stream.keywords))}")
        lines.append(f"hashtags = {json.dumps(['#' + h.lstrip('#') for h in stream.hashtags])}")
        lines.append(f"handles = {json.dumps(list(stream.handles))}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class Radar:
    """One ``radar run`` process."""

    def __init__(self, config: Path, state: Path, log: Path) -> None:
        self.port = _free_port()
        self.log = log
        env = {**os.environ, "RADAR_INGEST_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"}
        argv = [sys.executable, "-m", "radar.cli", "run", "--config", str(config)]
        argv += ["--port", str(self.port), "--state-dir", str(state)]
        with log.open("ab") as out:
            self.proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, f"radar exited early:\n{log.read_text()}"
            try:
                if self.client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "radar did not come up"
            time.sleep(0.1)

    def health(self) -> dict[str, Any]:
        return dict(self.client.get("/healthz").json())

    def metric(self, name: str) -> float:
        for line in self.client.get("/metrics").text.splitlines():
            if line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def incidents(self) -> list[dict[str, Any]]:
        return list(self.client.get("/v1/incidents").json()["incidents"])

    def stop(self, sig: int) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=60)
        self.client.close()
        return code


@pytest.fixture(scope="module")
def batches() -> list[bytes]:
    scenario = demo_scenario(1)
    crisis = next(e for e in scenario.events if e.kind == "sudden_crisis")
    stop_at = (crisis.start + timedelta(minutes=60)).isoformat().replace("+00:00", "Z")
    records = [r for r in scenario.mentions() if str(r["created_at"]) < stop_at]
    return [
        "".join(json.dumps(r) + "\n" for r in records[i : i + 250]).encode()
        for i in range(0, len(records), 250)
    ]


def test_kill_9_mid_ingest_loses_nothing_acknowledged(batches: list[bytes], tmp_path: Path) -> None:
    config, state, log = tmp_path / "radar.toml", tmp_path / "state", tmp_path / "radar.log"
    _write_config(config, checkpoint_every=3600)  # no checkpoint: everything comes back from the journal
    radar = Radar(config, state, log)
    acknowledged = 0
    sent_batches = 0
    failures: list[str] = []

    def send() -> None:
        nonlocal acknowledged, sent_batches
        with httpx.Client(base_url=f"http://127.0.0.1:{radar.port}", timeout=30) as client:
            for body in batches:
                sent_batches += 1
                try:
                    r = client.post("/v1/mentions", content=body, headers=HEADERS)
                except httpx.TransportError:
                    return
                if r.status_code != 200:
                    failures.append(r.text)
                    return
                acknowledged += r.json()["accepted"]

    sender = threading.Thread(target=send)
    sender.start()
    while acknowledged < 5000 and sender.is_alive():
        time.sleep(0.005)
    radar.proc.kill()  # SIGKILL, mid-stream
    radar.proc.wait(timeout=30)
    sender.join(timeout=30)
    assert not failures
    assert 5000 <= acknowledged < sum(b.count(b"\n") for b in batches), "the kill came too late to mean much"

    radar = Radar(config, state, log)
    try:
        health = radar.health()
        recovered = radar.metric('radar_mentions_ingested_total{source="journal"}')
        # everything acknowledged is back; at most the one batch in flight at the kill is extra
        assert acknowledged <= health["journal_seq"] <= acknowledged + 250
        assert recovered == health["journal_seq"]
        # and the radar knows every acknowledged id: sending them again counts them as duplicates
        duplicates = 0
        for body in batches[: sent_batches - 1]:
            r = radar.client.post("/v1/mentions", content=body, headers=HEADERS)
            duplicates += r.json()["duplicates"]
        assert acknowledged == sum(b.count(b"\n") for b in batches[: sent_batches - 1])
        assert duplicates == acknowledged
    finally:
        assert radar.stop(signal.SIGTERM) == 0


def test_sigterm_checkpoints_and_restart_keeps_learning_and_incidents(
    batches: list[bytes], tmp_path: Path
) -> None:
    config, state, log = tmp_path / "radar.toml", tmp_path / "state", tmp_path / "radar.log"
    _write_config(config, checkpoint_every=3600)
    radar = Radar(config, state, log)
    for body in batches:
        assert radar.client.post("/v1/mentions", content=body, headers=HEADERS).status_code == 200
    before = radar.incidents()
    open_crises = [
        i for i in before if i["stream"] == "acme" and i["kind"] == "crisis" and not i["resolved_at"]
    ]
    assert open_crises, f"the demo crisis should be open 60 minutes after onset:\n{log.read_text()}"
    journal_seq = radar.health()["journal_seq"]
    first_run = log.read_text()
    assert radar.stop(signal.SIGTERM) == 0
    assert list((state / "checkpoints").iterdir()), "SIGTERM should leave a checkpoint"

    radar = Radar(config, state, log)
    try:
        health = radar.health()
        assert health["checkpoint_seq"] == journal_seq  # the checkpoint covers everything
        assert radar.metric('radar_mentions_ingested_total{source="journal"}') == 0
        assert {name: s["learning"] for name, s in health["streams"].items()} == {
            "acme": False,
            "nimbus": False,
            "fernwood": False,
        }
        after = radar.incidents()
        assert [i["id"] for i in after] == [i["id"] for i in before]
        assert [i["levels"] for i in after] == [i["levels"] for i in before]
        second_run = log.read_text()[len(first_run) :]
        assert " · opened at " not in second_run, second_run
    finally:
        assert radar.stop(signal.SIGTERM) == 0
