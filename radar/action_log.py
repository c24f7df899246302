"""The action log: what people did to incidents (acknowledge, snooze, resolve), durably, in order.

Actions are not mentions, so the mention journal does not hold them; a checkpoint holds them only
once it is written. Every action is appended here (and fsync'ed) before it is applied, and on
start the radar re-applies the logged actions of the incidents that are open after the journal
replay (each action has an id, so one already in the checkpoint is not applied twice). One JSON
object per line, as :meth:`alerts.incident.Action.to_json` gives, plus the ``incident`` id.

>>> import tempfile
>>> from datetime import UTC, datetime
>>> from alerts.incident import Action
>>> with tempfile.TemporaryDirectory() as tmp:
...     log = ActionLog(Path(tmp) / "actions.jsonl", fsync=False)
...     log.append("acme:crisis:1", Action("a1", datetime(2026, 3, 4, tzinfo=UTC), "acknowledge", "jane"))
...     [(incident, a.action, a.actor) for incident, a in ActionLog(Path(tmp) / "actions.jsonl").read()]
[('acme:crisis:1', 'acknowledge', 'jane')]
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from alerts.incident import Action

log = logging.getLogger(__name__)


class ActionLog:
    """An append-only JSON-lines file of incident actions."""

    def __init__(self, path: Path, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, incident_id: str, action: Action) -> None:
        """Write one action durably (raises ``OSError`` when it cannot: then it was not taken)."""
        line = json.dumps({"incident": incident_id, **action.to_json()}, ensure_ascii=False) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line)
            out.flush()
            if self.fsync:
                os.fsync(out.fileno())

    def read(self) -> Iterator[tuple[str, Action]]:
        """Every logged action, oldest first (a damaged line is logged and skipped)."""
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.endswith("\n"):
                    log.warning("%s:%d: incomplete last line skipped", self.path, number)
                    continue
                try:
                    data = json.loads(line)
                    yield str(data["incident"]), Action.from_json(data)
                except (ValueError, KeyError, TypeError) as exc:
                    log.warning("%s:%d: damaged action skipped (%s)", self.path, number, exc)
