"""A real radar replaying the demo scenario over HTTP, and a real Prometheus scraping it.

Used by ``tests/test_dashboards.py`` and ``tests/test_prometheus.py``:

* :class:`LiveRadar`: a :class:`~radar.service.RadarService` (demo configuration, Slack on when a
  :class:`~tests.fakeslack.FakeSlack` is given) behind uvicorn on ``127.0.0.1`` (a free port). Mentions
  go in through the ingest API; :meth:`LiveRadar.exercise` then makes every labelled series exist
  (rejects, a duplicate, an unmatched and a late mention, refused Slack clicks).
* :class:`PrometheusServer`: Debian's ``prometheus`` on ``127.0.0.1`` (a free port) with a private
  TSDB directory, scraping the radar every second with the repository's rules loaded, evaluated
  every second.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import yaml
from slack_sdk import WebClient

from radar.app import create_app
from radar.config import RadarConfig
from radar.demo import demo_config
from radar.scenario import demo_scenario
from radar.service import RadarService
from tests.fakeslack import FakeSlack
from tests.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS_DIR = ROOT / "prometheus"
RULES_DIR = PROMETHEUS_DIR / "rules"
TOKEN = "dashboards-test-token"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_CHANNEL = "C0CRISIS"


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(every)


def demo_records() -> list[dict[str, Any]]:
    """The demo scenario's mentions (3 streams, 4 days, a buzz on nimbus, a crisis on acme), in order."""
    return list(demo_scenario(1).mentions())


def demo_radar_config(state_dir: Path, slack: bool) -> RadarConfig:
    base = demo_config(demo_scenario(1), str(state_dir)).model_dump()
    if slack:
        base["slack"] = {
            "channel": SLACK_CHANNEL,
            "incident_url": "http://127.0.0.1/incidents/{id}",
            "dashboard_url": "http://127.0.0.1/d/crisis-radar-stream/crisis-radar-stream?var-stream={stream}",
        }
    return RadarConfig.model_validate(base)


class LiveRadar:
    """The radar service with its HTTP app on a free loopback port; ``close()`` stops both."""

    def __init__(self, state_dir: Path, slack: FakeSlack | None = None) -> None:
        client = None
        if slack is not None:
            client = WebClient(token=slack.token, base_url=slack.base_url, timeout=5, retry_handlers=[])
        self.service = RadarService(
            demo_radar_config(state_dir, slack is not None),
            state_dir=state_dir,
            slack=client,
            notifiers=[] if client is None else None,
            live=False,
            fsync=False,
        )
        # a replay of old data, but bucket closes observed on the wall clock (the health dashboard's panel)
        self.service.pipeline.wall_clock = time.time
        self.service.start()
        app = create_app(self.service, token=TOKEN, slack_secret=SLACK_SECRET)
        self.server = LoopbackServer(app, name="live-radar")
        self.port = self.server.port
        self.url = self.server.base
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def post(self, records: Iterable[dict[str, Any] | str]) -> dict[str, Any]:
        """POST records (dicts, or raw lines) as NDJSON to the ingest API; returns its answer."""
        body = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)
        response = self.http.post(
            "/v1/mentions",
            content=body.encode(),
            headers={"content-type": "application/x-ndjson", "authorization": f"Bearer {TOKEN}"},
        )
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def states(self) -> dict[str, tuple[int, bool, bool]]:
        """Each stream's (level, learning, silent) as ``/metrics`` shows it now."""
        return {s.stream: (s.level, s.learning, s.silent) for s in self.service.pipeline.stream_samples()}

    def feed(
        self,
        records: list[dict[str, Any]],
        chunk: int = 500,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        """Send ``records`` in chunks; after a chunk that changed a stream's level, learning or silent
        state, call ``on_change`` (to let Prometheus scrape that state before it changes again)."""
        before = self.states()
        for i in range(0, len(records), chunk):
            self.post(records[i : i + chunk])
            now = self.states()
            if now != before and on_change is not None:
                on_change()
            before = now

    def exercise(self, records: list[dict[str, Any]]) -> None:
        """Make the series that only exist once something happened: rejects (by reason), a duplicate,
        an unmatched mention, a late one on acme, refused Slack clicks; then write a checkpoint."""
        first_acme = next(r for r in records if r["id"].startswith("acme-"))
        answer = self.post(
            [
                "{oops",
                json.dumps({"id": "no-text", "created_at": first_acme["created_at"]}),
                first_acme,  # a duplicate
                {**first_acme, "id": "late-acme-1"},  # its bucket closed days ago
                {**records[-1], "id": "unmatched-1", "text": "nothing any stream listens for"},
            ]
        )
        assert len(answer["rejected"]) == 2 and answer["duplicates"] == 1, answer
        assert answer["unmatched"] == 1, answer
        for signature in ("v0=not-a-signature", ""):
            refused = self.http.post(
                "/slack/interactions",
                content=b"payload=%7B%7D",
                headers={
                    "content-type": "application/x-www-form-urlencoded",
                    "x-slack-request-timestamp": str(int(time.time())),
                    "x-slack-signature": signature,
                },
            )
            assert refused.status_code == 401, refused.text
        self.service.checkpoint()

    def click(self, action_id: str, incident_id: str, user: str = "U0JANE") -> int:
        """A correctly signed click on an alert button (``ack``, ``resolve``, ``snooze_1h``); the status."""
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": "jane", "name": "jane"},
            "container": {"type": "message", "channel_id": SLACK_CHANNEL},
            "actions": [{"type": "button", "action_id": action_id, "value": incident_id}],
        }
        body = urlencode({"payload": json.dumps(payload)})
        stamp = str(int(time.time()))
        digest = hmac.new(SLACK_SECRET.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": f"v0={digest}",
        }
        return self.http.post("/slack/interactions", content=body, headers=headers).status_code

    def scrape(self) -> str:
        """The text of ``GET /metrics``."""
        response = self.http.get("/metrics")
        response.raise_for_status()
        return response.text

    def close(self) -> None:
        self.http.close()
        self.server.stop()
        self.service.stop()


class PrometheusServer:
    """Debian's Prometheus on loopback, scraping ``target`` as job ``radar`` every second, with the
    repository's rules (``prometheus/rules/*.yml``) evaluated every second."""

    def __init__(self, workdir: Path, target: str, binary: str = "prometheus") -> None:
        path = shutil.which(binary)
        assert path, f"{binary} is not installed (Debian package prometheus)"
        workdir.mkdir(parents=True, exist_ok=True)
        config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))
        config["global"].update(
            {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"}
        )
        config["rule_files"] = [str(RULES_DIR / Path(p).name) for p in config["rule_files"]]
        (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "radar"]
        job["static_configs"] = [{"targets": [target]}]
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "prometheus.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                path,
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1d",
                "--log.level=warn",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "GOMAXPROCS": "2"},
        )
        self.http = httpx.Client(base_url=self.url, timeout=10)
        try:
            wait_until(self._ready, 30, "Prometheus to be ready")
        except AssertionError:
            self.close()
            raise AssertionError(f"Prometheus did not start:\n{self.log()}") from None

    def _ready(self) -> bool:
        assert self.process.poll() is None, f"Prometheus exited:\n{self.log()}"
        try:
            return self.http.get("/-/ready").status_code == 200
        except httpx.TransportError:
            return False

    def log(self) -> str:
        """The last lines Prometheus logged."""
        self._log.flush()
        return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])

    def api(self, path: str, **params: Any) -> Any:
        """``GET /api/v1/<path>``: its ``data``, after checking ``status`` is success."""
        response = self.http.get(f"/api/v1/{path}", params=params)
        body = response.json()
        assert body.get("status") == "success", f"{path} {params}: {body}"
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query at the present time; the result vector (a scalar as one sample)."""
        data = self.api("query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def value(self, expr: str) -> float | None:
        """The value of a one-sample query (None when it returns nothing)."""
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def close(self) -> None:
        self.http.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()
