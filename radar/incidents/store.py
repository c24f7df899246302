"""The incident store: incidents, their append-only timelines and their per-bucket samples, in SQL.

SQLAlchemy 2 over a SQLite file by default (``STATE_DIR/incidents.sqlite3``) or PostgreSQL by URL
(``postgresql+psycopg://...``). The schema is Alembic's (``radar/migrations``): :meth:`IncidentStore.open`
upgrades it to the newest revision, so an upgrade of the radar never loses history.

Three tables:

* ``incidents``: one row per incident, with what a list needs without reading anything else (stream,
  kind, level and peak, when it opened, was detected, acknowledged and resolved, by whom, and the
  peak and total figures, kept up to date as samples arrive);
* ``timeline``: the append-only event log: opened, every level change with its why, notifications
  delivered, acknowledged / snoozed / resolved by whom, notes. Each row has a unique ``key``: a
  journal replay after a crash re-records the same events and they are ignored, not doubled;
* ``samples``: the stream's buckets while the incident is open (and the hours before it opened):
  mentions, negatives, the expected band, the level. Old incidents' samples can be dropped
  (``retention_days``); figures and timelines are kept.

Every write is one transaction: a crash leaves an incident as it was before the write, never half.

>>> store = IncidentStore.open("sqlite://")
>>> store.count()
0
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Double,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from radar.sample import Sample, onset_of

LEVELS = ("calm", "watch", "warning", "crisis")


class Base(DeclarativeBase):
    """The store's tables."""


class IncidentRow(Base):
    """``incidents``: one row per incident."""

    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    stream: Mapped[str] = mapped_column(String(64), index=True)
    stream_name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(32), index=True)
    level: Mapped[str] = mapped_column(String(16))
    peak_level: Mapped[str] = mapped_column(String(16), index=True)
    peak_rank: Mapped[int] = mapped_column(Integer, default=0)  # 0 calm ... 3 crisis: sorting
    opened_at: Mapped[float] = mapped_column(Double, index=True)
    onset_at: Mapped[float | None] = mapped_column(Double, nullable=True)  # first abnormal bucket
    detected_at: Mapped[float | None] = mapped_column(Double, nullable=True)  # first warning or above
    acknowledged_at: Mapped[float | None] = mapped_column(Double, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    resolved_at: Mapped[float | None] = mapped_column(Double, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    peak_mentions: Mapped[int] = mapped_column(Integer, default=0)  # most mentions in one bucket
    peak_expected: Mapped[float] = mapped_column(Double, default=0.0)  # what that bucket expected
    peak_negative_share: Mapped[float] = mapped_column(Double, default=0.0)
    total_mentions: Mapped[int] = mapped_column(Integer, default=0)  # while open
    total_negative: Mapped[int] = mapped_column(Integer, default=0)
    bucket_seconds: Mapped[int] = mapped_column(Integer, default=60)
    why: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the why at the peak level
    samples_dropped: Mapped[bool] = mapped_column(default=False)  # retention removed the samples
    updated_at: Mapped[float] = mapped_column(Double)


class TimelineRow(Base):
    """``timeline``: the append-only event log of incidents."""

    __tablename__ = "timeline"
    __table_args__ = (Index("timeline_incident_at", "incident_id", "at"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(300), unique=True)
    at: Mapped[float] = mapped_column(Double)
    type: Mapped[str] = mapped_column(String(32))
    level: Mapped[str | None] = mapped_column(String(16), nullable=True)
    actor: Mapped[str | None] = mapped_column(String(200), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SampleRow(Base):
    """``samples``: a stream's bucket while (or just before) an incident was open."""

    __tablename__ = "samples"

    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    t: Mapped[float] = mapped_column(Double, primary_key=True)
    mentions: Mapped[int] = mapped_column(Integer)
    negative: Mapped[int] = mapped_column(Integer)
    expected: Mapped[float] = mapped_column(Double)
    lower: Mapped[float] = mapped_column(Double)
    upper: Mapped[float] = mapped_column(Double)
    level: Mapped[int] = mapped_column(Integer, default=0)


@dataclass(frozen=True)
class Entry:
    """One timeline event."""

    seq: int
    at: float
    type: str
    level: str | None
    actor: str | None
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """JSON form (times ISO 8601 UTC)."""
        return {
            "at": _iso(self.at),
            "type": self.type,
            "level": self.level,
            "actor": self.actor,
            "detail": self.detail,
        }


def _iso(t: float | None) -> str | None:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if t is not None else None


def default_url(state_dir: Path | str) -> str:
    """The SQLite file of a state directory."""
    return f"sqlite:///{Path(state_dir).resolve() / 'incidents.sqlite3'}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (SQLite files get WAL, full sync and foreign keys)."""
    if url.startswith("sqlite"):
        if url not in ("sqlite://", "sqlite:///:memory:"):
            path = url.split(":///", 1)[1]
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        else:
            from sqlalchemy.pool import StaticPool

            engine = create_engine(url, connect_args={"check_same_thread": False}, poolclass=StaticPool)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` with Alembic (from empty or any earlier revision)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:  # a table rebuilt by a migration must not cascade-delete the rows that refer to it
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


class IncidentStore:
    """Reads and writes incidents, timelines and samples (thread-safe)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()  # SQLite: one writer at a time, without busy waits

    @classmethod
    def open(cls, url: str) -> IncidentStore:
        """The store at ``url``, migrated to the newest schema."""
        engine = make_engine(url)
        migrate(engine)
        return cls(engine)

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    # -- writing -------------------------------------------------------------------------------
    def record(
        self,
        incident: dict[str, Any],
        entry: dict[str, Any] | None = None,
        samples: Sequence[Sample] = (),
    ) -> bool:
        """Upsert ``incident`` (its columns), append ``entry`` (a timeline event with a unique
        ``key``) and ``samples``, all in one transaction. Returns False when ``entry`` was recorded
        before (a replay): nothing is changed then.
        """
        now = datetime.now(UTC).timestamp()
        with self._lock, Session(self.engine) as session, session.begin():
            if entry is not None:
                seen = session.scalar(select(TimelineRow.seq).where(TimelineRow.key == entry["key"]))
                if seen is not None:
                    return False
            row = session.get(IncidentRow, incident["id"])
            if row is None:
                row = IncidentRow(id=incident["id"], updated_at=now, **_columns(incident, None))
                session.add(row)
            else:
                for name, value in _columns(incident, row).items():
                    setattr(row, name, value)
                row.updated_at = now
            session.flush()
            if entry is not None:
                session.add(TimelineRow(incident_id=incident["id"], **entry))
            if samples:
                self._add_samples(session, row, samples)
        return True

    def add_samples(self, incident_id: str, samples: Sequence[Sample]) -> None:
        """Record buckets of an open incident (a bucket recorded before is replaced)."""
        with self._lock, Session(self.engine) as session, session.begin():
            row = session.get(IncidentRow, incident_id)
            if row is None:
                return
            self._add_samples(session, row, samples)
            row.updated_at = datetime.now(UTC).timestamp()

    @staticmethod
    def _add_samples(session: Session, row: IncidentRow, samples: Sequence[Sample]) -> None:
        times = [s.t for s in samples]
        session.execute(delete(SampleRow).where(SampleRow.incident_id == row.id, SampleRow.t.in_(times)))
        session.execute(
            insert(SampleRow),
            [
                {
                    "incident_id": row.id,
                    "t": s.t,
                    "mentions": s.mentions,
                    "negative": s.negative,
                    "expected": s.expected,
                    "lower": s.lower,
                    "upper": s.upper,
                    "level": s.level,
                }
                for s in samples
            ],
        )
        opened = row.opened_at - row.bucket_seconds
        if row.onset_at is None and opened in times:  # the opening bucket is in: the onset is known
            window = int((row.why or {}).get("window_minutes") or 1)
            earliest = row.opened_at - max(1, window) * 60.0
            around = session.scalars(
                select(SampleRow).where(SampleRow.incident_id == row.id, SampleRow.t >= earliest)
            )
            known = [Sample(r.t, r.mentions, r.negative, r.expected, r.lower, r.upper) for r in around]
            row.onset_at = onset_of(known, row.opened_at, window, row.bucket_seconds)
        # figures over the incident's own buckets (not the context before it opened)
        until = row.resolved_at if row.resolved_at is not None else float("inf")
        own = [s for s in samples if opened <= s.t < until]
        if not own:
            return
        totals = session.execute(
            select(
                func.coalesce(func.sum(SampleRow.mentions), 0), func.coalesce(func.sum(SampleRow.negative), 0)
            )
            .where(SampleRow.incident_id == row.id, SampleRow.t >= opened)
            .where(SampleRow.t < until)
        ).one()
        row.total_mentions, row.total_negative = int(totals[0]), int(totals[1])
        for s in own:
            if s.mentions > row.peak_mentions:
                row.peak_mentions, row.peak_expected = s.mentions, s.expected
            if s.mentions >= 5 and s.negative / s.mentions > row.peak_negative_share:
                row.peak_negative_share = s.negative / s.mentions

    def add_entry(self, incident_id: str, entry: dict[str, Any]) -> bool:
        """Append a timeline event to an existing incident; False if its key was recorded or the
        incident is unknown."""
        with self._lock, Session(self.engine) as session, session.begin():
            if session.get(IncidentRow, incident_id) is None:
                return False
            try:
                with session.begin_nested():
                    session.add(TimelineRow(incident_id=incident_id, **entry))
            except IntegrityError:
                return False
        return True

    def drop_samples_before(self, resolved_before: float) -> int:
        """Retention: drop the samples of incidents resolved before ``resolved_before``; returns how
        many incidents lost theirs. Figures and timelines stay."""
        with self._lock, Session(self.engine) as session, session.begin():
            ids = list(
                session.scalars(
                    select(IncidentRow.id).where(
                        IncidentRow.resolved_at < resolved_before, IncidentRow.samples_dropped.is_(False)
                    )
                )
            )
            if ids:
                session.execute(delete(SampleRow).where(SampleRow.incident_id.in_(ids)))
                session.execute(
                    update(IncidentRow).where(IncidentRow.id.in_(ids)).values(samples_dropped=True)
                )
        return len(ids)

    # -- reading -------------------------------------------------------------------------------
    def count(self) -> int:
        """How many incidents the store holds."""
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(IncidentRow)) or 0)

    def incident(self, incident_id: str) -> IncidentRow | None:
        """One incident's row (detached: read its attributes freely)."""
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(IncidentRow, incident_id)

    def incidents(
        self,
        *,
        stream: str | None = None,
        kind: str | None = None,
        level: str | None = None,
        since: float | None = None,
        until: float | None = None,
        sort: str = "-opened_at",
        limit: int = 500,
    ) -> list[IncidentRow]:
        """Incidents matching the filters (``level``: peak level at least), sorted by ``sort`` (a
        column name, ``-`` for descending)."""
        query = select(IncidentRow)
        if stream:
            query = query.where(IncidentRow.stream == stream)
        if kind:
            query = query.where(IncidentRow.kind == kind)
        if level:
            query = query.where(IncidentRow.peak_rank >= LEVELS.index(level))
        if since is not None:
            query = query.where(IncidentRow.opened_at >= since)
        if until is not None:
            query = query.where(IncidentRow.opened_at < until)
        key = _sort_key(sort.lstrip("-"))
        ordered = key.desc() if sort.startswith("-") else key.asc()
        query = query.order_by(ordered.nulls_last(), IncidentRow.id)  # unknown durations last, always
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.scalars(query.limit(limit)))

    def timeline(self, incident_id: str) -> list[Entry]:
        """The incident's events, in order."""
        query = select(TimelineRow).where(TimelineRow.incident_id == incident_id)
        with Session(self.engine) as session:
            rows = session.scalars(query.order_by(TimelineRow.at, TimelineRow.seq))
            return [Entry(r.seq, r.at, r.type, r.level, r.actor, dict(r.detail or {})) for r in rows]

    def samples(self, incident_id: str) -> list[Sample]:
        """The incident's buckets, in time order."""
        query = select(SampleRow).where(SampleRow.incident_id == incident_id).order_by(SampleRow.t)
        with Session(self.engine) as session:
            return [
                Sample(r.t, r.mentions, r.negative, r.expected, r.lower, r.upper, r.level)
                for r in session.scalars(query)
            ]

    def streams(self) -> list[str]:
        """Streams that have incidents."""
        with Session(self.engine) as session:
            return sorted(session.scalars(select(IncidentRow.stream).distinct()))


#: Columns the incident list sorts by (and durations: time to detect / acknowledge / resolve).
SORTABLE = (
    "opened_at",
    "stream",
    "kind",
    "peak_rank",
    "peak_mentions",
    "total_mentions",
    "resolved_at",
    "time_to_detect",
    "time_to_acknowledge",
    "time_to_resolve",
)


def _sort_key(name: str) -> Any:
    """The SQL expression the list sorts by for ``name``."""
    onset = func.coalesce(IncidentRow.onset_at, IncidentRow.opened_at - IncidentRow.bucket_seconds)
    durations = {
        "time_to_detect": IncidentRow.detected_at - onset,
        "time_to_acknowledge": IncidentRow.acknowledged_at - IncidentRow.detected_at,
        "time_to_resolve": IncidentRow.resolved_at - onset,
    }
    if name in durations:
        return durations[name]
    return getattr(IncidentRow, name if name in SORTABLE else "opened_at")


_COLUMNS = (
    "stream", "stream_name", "kind", "level", "peak_level", "peak_rank", "opened_at", "detected_at",
    "acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by", "bucket_seconds", "why",
)  # fmt: skip


def _columns(incident: dict[str, Any], row: IncidentRow | None) -> dict[str, Any]:
    """The columns ``incident`` sets; once set, detection/acknowledgement times are kept."""
    out = {k: incident[k] for k in _COLUMNS if k in incident}
    if row is not None:
        for first in ("detected_at", "acknowledged_at", "acknowledged_by"):
            if getattr(row, first) is not None:
                out.pop(first, None)
        if "why" in out and incident.get("peak_rank", 0) < row.peak_rank:
            out.pop("why")  # keep the why of the peak
    return out


def dumps(value: Any) -> str:
    """Compact JSON (for exports)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def iter_entries(entries: Iterable[Entry]) -> list[dict[str, Any]]:
    """Entries as JSON objects."""
    return [e.to_json() for e in entries]
