"""The outbox: Slack work that must survive a restart and a Slack outage, in one SQLite file.

Two tables:

* ``threads``: one row per announced incident: its channel, the newest :class:`IncidentView` to
  show in the parent message (``version`` counts its changes, ``shown_version`` is what Slack
  shows), the parent's ``ts`` once posted, and ``attempted_at`` while a post's outcome is unknown
  (the request left but no answer came back: before posting again, Slack is asked whether it
  arrived, so a parent is never duplicated).
* ``replies``: the thread replies and chart uploads, each with a unique ``key`` derived from the
  incident and its change (replaying the journal after a restart re-emits the same events: their
  replies are ignored, not doubled).

Every write is committed (``synchronous=FULL``) before :meth:`Outbox.enqueue_*` returns: what the
radar decided to tell people is on disk even if the process dies the next instant.

>>> box = Outbox(":memory:")
>>> box.upsert_thread("acme:crisis:1", "C1", {"id": "acme:crisis:1"}, version=1, now=10.0, due_at=10.0)
True
>>> box.add_reply("acme:crisis:1", "acme:crisis:1#2:escalated", "text", "crisis!", now=11.0)
True
>>> box.add_reply("acme:crisis:1", "acme:crisis:1#2:escalated", "text", "crisis!", now=12.0)
False
>>> box.depth(), box.oldest(now=20.0)
(2, 10.0)
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    incident_id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    view TEXT NOT NULL,
    version INTEGER NOT NULL,
    shown_version INTEGER NOT NULL DEFAULT 0,
    parent_ts TEXT,
    attempted_at REAL,
    created_at REAL NOT NULL,
    due_at REAL NOT NULL,
    changed_at REAL NOT NULL,
    reminded_at REAL,
    reminders INTEGER NOT NULL DEFAULT 0,
    failed TEXT
);
CREATE TABLE IF NOT EXISTS replies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    due_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    attempted_at REAL,
    sent_at REAL,
    failed TEXT
);
CREATE INDEX IF NOT EXISTS replies_pending ON replies (incident_id, sent_at, failed);
"""


@dataclass(frozen=True)
class Thread:
    """One incident's Slack thread as the outbox knows it."""

    incident_id: str
    channel: str
    view: dict[str, Any]
    version: int
    shown_version: int
    parent_ts: str | None
    attempted_at: float | None
    created_at: float
    due_at: float
    changed_at: float
    reminded_at: float | None
    reminders: int
    failed: str | None


@dataclass(frozen=True)
class Reply:
    """A thread reply (``kind`` ``text``) or chart upload (``kind`` ``chart``, ``body`` its data)."""

    id: int
    incident_id: str
    key: str
    kind: str
    body: str
    created_at: float
    due_at: float
    attempts: int
    attempted_at: float | None


class Outbox:
    """The persisted Slack outbox (thread-safe).

    Parameters
    ----------
    path
        The SQLite file (``":memory:"`` for tests and examples).
    """

    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, args)

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- what the notifier writes --------------------------------------------------------------
    def upsert_thread(
        self, incident_id: str, channel: str, view: dict[str, Any], *, version: int, now: float, due_at: float
    ) -> bool:
        """Create the incident's thread, or give it a newer view; False when ``version`` is not newer."""
        text = json.dumps(view, ensure_ascii=False, sort_keys=True)
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO threads (incident_id, channel, view, version, created_at, due_at, changed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (incident_id) DO UPDATE SET "
                "view = excluded.view, version = excluded.version, changed_at = excluded.changed_at, "
                "due_at = MIN(threads.due_at, excluded.due_at) WHERE excluded.version > threads.version",
                (incident_id, channel, text, version, now, due_at, now),
            )
            return cur.rowcount > 0

    def hurry(self, incident_id: str, due_at: float) -> None:
        """Make the thread (and its pending replies) due no later than ``due_at``."""
        with self._lock:
            self._db.execute(
                "UPDATE threads SET due_at = MIN(due_at, ?) WHERE incident_id = ?", (due_at, incident_id)
            )
            self._db.execute(
                "UPDATE replies SET due_at = MIN(due_at, ?) WHERE incident_id = ? AND sent_at IS NULL",
                (due_at, incident_id),
            )

    def add_reply(
        self, incident_id: str, key: str, kind: str, body: str, *, now: float, due_at: float | None = None
    ) -> bool:
        """Queue a reply; False (and nothing queued) when ``key`` was queued before."""
        cur = self._run(
            "INSERT OR IGNORE INTO replies (incident_id, key, kind, body, created_at, due_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (incident_id, key, kind, body, now, now if due_at is None else due_at),
        )
        return cur.rowcount > 0

    def reminded(self, incident_id: str, now: float) -> int:
        """Record a reminder; returns how many the thread has had."""
        with self._lock:
            self._db.execute(
                "UPDATE threads SET reminded_at = ?, reminders = reminders + 1 WHERE incident_id = ?",
                (now, incident_id),
            )
            row = self._db.execute(
                "SELECT reminders FROM threads WHERE incident_id = ?", (incident_id,)
            ).fetchone()
        return int(row["reminders"]) if row else 0

    # -- what the dispatcher reads and writes --------------------------------------------------
    def thread(self, incident_id: str) -> Thread | None:
        """The thread of ``incident_id``."""
        rows = self._all("SELECT * FROM threads WHERE incident_id = ?", (incident_id,))
        return _thread(rows[0]) if rows else None

    def threads(self) -> list[Thread]:
        """Every thread, oldest first."""
        return [_thread(r) for r in self._all("SELECT * FROM threads ORDER BY created_at, incident_id")]

    def to_post(self, now: float) -> list[Thread]:
        """Threads whose parent is due and not posted yet, oldest first."""
        rows = self._all(
            "SELECT * FROM threads WHERE parent_ts IS NULL AND failed IS NULL AND due_at <= ? "
            "ORDER BY created_at, incident_id",
            (now,),
        )
        return [_thread(r) for r in rows]

    def to_update(self) -> list[Thread]:
        """Posted threads whose parent shows an older view than the newest."""
        rows = self._all(
            "SELECT * FROM threads WHERE parent_ts IS NOT NULL AND failed IS NULL "
            "AND shown_version < version ORDER BY changed_at, incident_id"
        )
        return [_thread(r) for r in rows]

    def pending_replies(self, now: float) -> list[Reply]:
        """Due, unsent replies of threads whose parent is posted, oldest first."""
        rows = self._all(
            "SELECT r.* FROM replies r JOIN threads t USING (incident_id) "
            "WHERE r.sent_at IS NULL AND r.failed IS NULL AND r.due_at <= ? "
            "AND t.parent_ts IS NOT NULL AND t.failed IS NULL ORDER BY r.id",
            (now,),
        )
        return [_reply(r) for r in rows]

    def next_due(self) -> float | None:
        """The earliest time something not yet due becomes due."""
        rows = self._all(
            "SELECT MIN(d) AS d FROM (SELECT MIN(due_at) AS d FROM threads WHERE parent_ts IS NULL "
            "AND failed IS NULL UNION ALL SELECT MIN(due_at) FROM replies WHERE sent_at IS NULL "
            "AND failed IS NULL)"
        )
        value = rows[0]["d"] if rows else None
        return float(value) if value is not None else None

    def attempting_parent(self, incident_id: str, now: float) -> None:
        """A parent post is about to leave: until its answer, its outcome is unknown."""
        self._run("UPDATE threads SET attempted_at = ? WHERE incident_id = ?", (now, incident_id))

    def parent_posted(self, incident_id: str, ts: str, version: int, channel: str) -> None:
        """The parent is in Slack as ``ts`` in ``channel`` (the id Slack answered), showing ``version``."""
        self._run(
            "UPDATE threads SET parent_ts = ?, channel = ?, attempted_at = NULL, "
            "shown_version = MAX(shown_version, ?) WHERE incident_id = ?",
            (ts, channel, version, incident_id),
        )

    def parent_not_posted(self, incident_id: str, retry_at: float) -> None:
        """A definite refusal (an error answer): nothing reached the channel; try again at ``retry_at``."""
        self._run(
            "UPDATE threads SET attempted_at = NULL, due_at = ? WHERE incident_id = ?",
            (retry_at, incident_id),
        )

    def retry_thread(self, incident_id: str, retry_at: float) -> None:
        """Try the thread again at ``retry_at`` (the outcome of the last attempt may be unknown)."""
        self._run("UPDATE threads SET due_at = ? WHERE incident_id = ?", (retry_at, incident_id))

    def shown(self, incident_id: str, version: int) -> None:
        """The parent now shows ``version``."""
        self._run(
            "UPDATE threads SET shown_version = MAX(shown_version, ?) WHERE incident_id = ?",
            (version, incident_id),
        )

    def fail_thread(self, incident_id: str, error: str) -> None:
        """A permanent error: the thread (and its replies) will not be tried again."""
        self._run("UPDATE threads SET failed = ? WHERE incident_id = ?", (error, incident_id))

    def attempting_replies(self, ids: list[int], now: float) -> None:
        """Replies about to leave (their outcome unknown until answered)."""
        with self._lock:
            self._db.executemany(
                "UPDATE replies SET attempted_at = ?, attempts = attempts + 1 WHERE id = ?",
                [(now, i) for i in ids],
            )

    def replies_sent(self, ids: list[int], now: float) -> None:
        """Replies that reached Slack."""
        with self._lock:
            self._db.executemany("UPDATE replies SET sent_at = ? WHERE id = ?", [(now, i) for i in ids])

    def replies_not_sent(self, ids: list[int], retry_at: float, *, unknown: bool) -> None:
        """Replies to try again at ``retry_at``; ``unknown``: they may have arrived (check first)."""
        with self._lock:
            self._db.executemany(
                "UPDATE replies SET due_at = ?, attempted_at = CASE WHEN ? THEN attempted_at ELSE NULL END "
                "WHERE id = ?",
                [(retry_at, unknown, i) for i in ids],
            )

    def fail_replies(self, ids: list[int], error: str) -> None:
        """Replies refused for good."""
        with self._lock:
            self._db.executemany("UPDATE replies SET failed = ? WHERE id = ?", [(error, i) for i in ids])

    def wake_all(self, now: float) -> None:
        """Everything waiting on a retry becomes due now (Slack answers again)."""
        with self._lock:
            self._db.execute(
                "UPDATE threads SET due_at = ? WHERE parent_ts IS NULL AND failed IS NULL "
                "AND attempted_at IS NOT NULL AND due_at > ?",
                (now, now),
            )
            self._db.execute(
                "UPDATE replies SET due_at = ? WHERE sent_at IS NULL AND failed IS NULL "
                "AND attempts > 0 AND due_at > ?",
                (now, now),
            )

    # -- what operators see --------------------------------------------------------------------
    def depth(self) -> int:
        """Messages waiting: unposted parents, stale parents and unsent replies."""
        rows = self._all(
            "SELECT (SELECT COUNT(*) FROM threads WHERE failed IS NULL AND "
            "(parent_ts IS NULL OR shown_version < version)) + "
            "(SELECT COUNT(*) FROM replies r JOIN threads t USING (incident_id) WHERE r.sent_at IS NULL "
            "AND r.failed IS NULL AND t.failed IS NULL) AS n"
        )
        return int(rows[0]["n"])

    def oldest(self, now: float) -> float:
        """Age in seconds of the oldest waiting message (0 when none waits)."""
        rows = self._all(
            "SELECT MIN(c) AS c FROM ("
            "SELECT MIN(changed_at) AS c FROM threads WHERE failed IS NULL AND "
            "(parent_ts IS NULL OR shown_version < version) "
            "UNION ALL SELECT MIN(r.created_at) FROM replies r JOIN threads t USING (incident_id) "
            "WHERE r.sent_at IS NULL AND r.failed IS NULL AND t.failed IS NULL)"
        )
        value = rows[0]["c"]
        return max(0.0, now - float(value)) if value is not None else 0.0

    def failures(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest permanent failures (for ``/healthz``)."""
        rows = self._all(
            "SELECT incident_id, 'parent' AS what, failed, changed_at AS at FROM threads "
            "WHERE failed IS NOT NULL UNION ALL SELECT incident_id, kind, failed, created_at FROM replies "
            "WHERE failed IS NOT NULL ORDER BY at DESC LIMIT ?",
            (limit,),
        )
        return [
            {"incident": r["incident_id"], "what": r["what"], "error": r["failed"], "at": r["at"]}
            for r in rows
        ]


def _thread(row: sqlite3.Row) -> Thread:
    return Thread(
        incident_id=row["incident_id"],
        channel=row["channel"],
        view=json.loads(row["view"]),
        version=row["version"],
        shown_version=row["shown_version"],
        parent_ts=row["parent_ts"],
        attempted_at=row["attempted_at"],
        created_at=row["created_at"],
        due_at=row["due_at"],
        changed_at=row["changed_at"],
        reminded_at=row["reminded_at"],
        reminders=row["reminders"],
        failed=row["failed"],
    )


def _reply(row: sqlite3.Row) -> Reply:
    return Reply(
        id=row["id"],
        incident_id=row["incident_id"],
        key=row["key"],
        kind=row["kind"],
        body=row["body"],
        created_at=row["created_at"],
        due_at=row["due_at"],
        attempts=row["attempts"],
        attempted_at=row["attempted_at"],
    )
