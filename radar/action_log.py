"""The action log: what people did to incidents (acknowledge, snooze, resolve), durably, in order.

Actions are not mentions, so the mention journal does not hold them; a checkpoint holds them only
once it is written. Every action is appended here (and fsync'ed) before it is applied, and on
start the radar re-applies the logged actions of the incidents that are open after the journal
replay (each action has an id, so one already in the checkpoint is not applied twice). One JSON
object per line, as :meth:`alerts.incident.Action.to_json` gives, plus the ``incident`` id.

The log is compacted as checkpoints cover it: :meth:`ActionLog.mark` is its end when a checkpoint
is taken (the action log and the pipeline under the same lock), and once every kept checkpoint
was taken at or after a mark, the actions before it are in all of them and :meth:`compact` drops
them (rewritten to a temporary file, fsync'ed, renamed over the log).

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
        self._dropped = 0  # bytes compacted away since this object was made (marks stay valid)
        path.parent.mkdir(parents=True, exist_ok=True)

    def mark(self) -> int:
        """The log's end as a position that later compactions do not move (for :meth:`compact`)."""
        with self._lock:
            return self._dropped + self._size()

    def compact(self, before: int) -> int:
        """Drop the actions logged before ``before`` (a :meth:`mark`); returns the bytes dropped.

        Call it only once nothing needs those actions any more (every kept checkpoint holds them).
        The rest of the log is rewritten to a temporary file, fsync'ed and renamed over the log,
        so a crash at any point leaves either the old log or the compacted one. Raises ``OSError``
        when it cannot write (the log is then as it was).

        >>> import tempfile
        >>> from datetime import UTC, datetime
        >>> from alerts.incident import Action
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     log = ActionLog(Path(tmp) / "actions.jsonl", fsync=False)
        ...     at = datetime(2026, 3, 4, tzinfo=UTC)
        ...     log.append("acme:crisis:1", Action("a1", at, "acknowledge", "jane"))
        ...     covered = log.mark()
        ...     log.append("acme:crisis:2", Action("a2", at, "resolve", "joe"))
        ...     log.compact(covered) > 0, [a.id for _i, a in log.read()], log.compact(covered)
        (True, ['a2'], 0)
        """
        with self._lock:
            cut = before - self._dropped
            if cut <= 0 or not self.path.exists():
                return 0
            data = self.path.read_bytes()
            cut = data.rfind(b"\n", 0, min(cut, len(data))) + 1  # whole lines only
            if cut <= 0:
                return 0
            temp = self.path.with_name(self.path.name + ".compacting")
            try:
                with temp.open("wb") as out:
                    out.write(data[cut:])
                    out.flush()
                    if self.fsync:
                        os.fsync(out.fileno())
                os.replace(temp, self.path)
            except BaseException:
                temp.unlink(missing_ok=True)
                raise
            if self.fsync:
                fd = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            self._dropped += cut
            log.info("%s: compacted %d bytes of actions every checkpoint holds", self.path, cut)
            return cut

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

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
