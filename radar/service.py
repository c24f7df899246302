"""The radar service: the pipeline plus durability, a scheduler and notifiers.

:class:`RadarService` is the composition root of a running radar:

* every accepted batch is appended to the on-disk journal (fsync) *before* it is acknowledged
  and fed to the pipeline;
* the pipeline state (windows, detectors, incidents, de-duplication) is checkpointed every
  ``checkpoint_interval_seconds`` and on stop; on start the newest checkpoint is restored and
  the journal after it replayed, so ``kill -9`` loses nothing accepted and a restart neither
  re-learns nor re-opens open incidents as new;
* in live mode an APScheduler job closes the buckets of idle streams on the wall clock;
* incident events go to the notifiers: Slack when a client is given (see
  :func:`slack_client_from_env`), the console otherwise; Slack work goes through a persisted
  outbox drained by a dispatcher thread, and an APScheduler job re-announces unacknowledged crises;
* what people do to incidents (:meth:`RadarService.act`: acknowledge, snooze, resolve) is logged
  durably before it is applied, and re-applied after a restart.

HTTP lives in :mod:`radar.app`; this module has no web code.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from slack_sdk import WebClient

from alerts.chart import Series
from alerts.console import ConsoleNotifier
from alerts.delivery import SlackDispatcher
from alerts.escalation import IncidentEvent
from alerts.incident import ACTIONS, Action, Incident
from alerts.notifier import FanOut, Notifier
from alerts.outbox import Outbox
from alerts.quiet_hours import QuietHours
from alerts.slack import SlackNotifier
from alerts.slack_message import Links
from radar.action_log import ActionLog
from radar.batch import BatchResult, Rejection
from radar.checkpoint import Checkpointer
from radar.clock import Clock, SystemClock
from radar.config import RadarConfig, store_url
from radar.incidents.recorder import IncidentRecorder
from radar.incidents.spool import StoreSpool
from radar.incidents.store import IncidentStore, default_url
from radar.journal import Journal
from radar.mention import Mention
from radar.metrics import RadarMetrics
from radar.pipeline import Pipeline
from radar.sentiment import SentimentScorer, VaderScorer
from radar.sources.catalog import build_sources
from radar.sources.source import Source
from radar.sources.supervisor import Supervisor

log = logging.getLogger(__name__)

#: Environment variables of the Slack integration.
SLACK_TOKEN_ENV = "SLACK_BOT_TOKEN"
SLACK_SECRET_ENV = "SLACK_SIGNING_SECRET"
SLACK_URL_ENV = "SLACK_API_URL"


def slack_client_from_env(config: RadarConfig) -> WebClient | None:
    """A Slack client when ``$SLACK_BOT_TOKEN`` is set (base URL: ``$SLACK_API_URL`` or the config)."""
    token = os.environ.get(SLACK_TOKEN_ENV, "").strip()
    if not token:
        return None
    base = os.environ.get(SLACK_URL_ENV, "").strip() or config.slack.api_url
    return WebClient(token=token, base_url=base.rstrip("/") + "/", timeout=10, retry_handlers=[])


@dataclass
class IngestReport:
    """The answer to one ingested batch."""

    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        """``{"accepted": n, "rejected": [{"index", "error"}], ...}`` (the ingest API answer)."""
        return {
            "accepted": self.accepted,
            "rejected": [{"index": r.index, "reason": r.reason, "error": r.error} for r in self.rejected],
            "duplicates": self.outcomes.get("duplicate", 0),
            "unmatched": self.outcomes.get("unmatched", 0),
        }


class _Deliveries:
    """Counts Slack deliveries in the metrics and puts each on its incident's timeline."""

    def __init__(
        self,
        metrics: RadarMetrics,
        recorder: Callable[[], IncidentRecorder],
        notifier: str,
        now: Callable[[], float],
    ) -> None:
        self.counter = metrics.delivery(notifier)
        self.recorder, self.notifier, self.now = recorder, notifier, now

    def sent(self, what: str, latency: float, incident_id: str, key: str) -> None:
        self.counter.sent(what, latency)
        detail = {"notifier": self.notifier, "latency_seconds": round(latency, 3)}
        self.recorder().notified(incident_id, what, key, self.now(), detail)

    def failed(self, reason: str) -> None:
        self.counter.failed(reason)


class RadarService:
    """A running radar: pipeline, journal, checkpoints, scheduler and notifiers.

    Parameters
    ----------
    config
        The configuration.
    state_dir
        Where the journal and checkpoints live (``config.radar.state_dir`` by default).
    scorer
        Sentiment scorer (VADER by default).
    notifiers
        Who hears about incident events (the console by default).
    clock
        Wall clock (injected for tests).
    live
        Close idle streams' buckets on the wall clock (off for replays of old data).
    fsync
        Flush each journaled batch to the disk before acknowledging it (on in production).
    journal_segment_bytes
        Size at which the journal starts a new segment file (segments are deleted whole).
    slack
        A Slack Web API client: incidents are then announced in Slack (and no longer on the
        console unless ``notifiers`` says so). Build it with retry_handlers=[]: the dispatcher
        makes every retry decision.
    sources
        Live sources to run (by default those enabled in ``[sources]``); their positions are saved
        with every checkpoint in ``STATE_DIR/sources.json`` and resumed from on start.
    """

    def __init__(
        self,
        config: RadarConfig,
        *,
        state_dir: Path | str | None = None,
        scorer: SentimentScorer | None = None,
        notifiers: Sequence[Notifier] | None = None,
        clock: Clock | None = None,
        live: bool = True,
        fsync: bool = True,
        journal_segment_bytes: int = 64 * 2**20,
        slack: WebClient | None = None,
        sources: Sequence[Source] | None = None,
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.live = live
        self.metrics = RadarMetrics()
        self.scorer = scorer or VaderScorer()
        root = Path(state_dir if state_dir is not None else config.radar.state_dir)
        self.state_dir = root
        chosen: list[Notifier] = (
            list(notifiers) if notifiers is not None else ([] if slack else [ConsoleNotifier()])
        )
        self.slack: SlackNotifier | None = None
        self.dispatcher: SlackDispatcher | None = None
        if slack is not None:
            self.slack, self.dispatcher = self._slack(slack, root)
            chosen.append(self.slack)
        self.notify = FanOut(chosen)
        self.actions = ActionLog(root / "actions.jsonl", fsync=fsync)
        url = store_url(config) or default_url(root)
        self.store = IncidentStore.open(url)
        self.recorder = IncidentRecorder(
            self.store,
            config.radar.bucket_seconds,
            self._history,
            spool=StoreSpool(root / "store-spool.jsonl", fsync=fsync),
        )
        self.supervisor = Supervisor(
            list(sources) if sources is not None else build_sources(config),
            self._from_source,
            on_silent=self._source_silent,
            silent_after=config.sources.silent_after_minutes * 60.0,
            clock=lambda: self.clock.now().timestamp(),
            positions=self._load_positions(root / "sources.json"),
        )
        self.metrics.source_collector.health = self.supervisor.health
        self.journal = Journal(root / "journal", segment_bytes=journal_segment_bytes, fsync=fsync)
        self.checkpointer = Checkpointer(root / "checkpoints")
        self._lock = threading.RLock()
        self._scheduler: BackgroundScheduler | None = None
        self._checkpoint_seq = 0
        self._action_marks: dict[str, int] = {}  # checkpoint file -> the action log's mark when taken
        self._checkpoint_at: float | None = None
        #: (newest event time, wall time it arrived): where the idle event clock runs from
        self._anchor: tuple[float, float] | None = None
        self.restored_from: int | None = None
        self.replayed = 0
        self.pipeline = self._restore()

    # -- start-up ------------------------------------------------------------------------------
    def _restore(self) -> Pipeline:
        checkpoint = self.checkpointer.load_latest()
        if checkpoint is not None and isinstance(checkpoint.state, Pipeline):
            pipeline = checkpoint.state.attach(
                self.config, self.scorer, self.metrics, self._on_event, self.recorder.bucket
            )
            self._checkpoint_seq = checkpoint.journal_seq
            self.restored_from = checkpoint.journal_seq
            log.info("restored checkpoint at journal seq %d", checkpoint.journal_seq)
        else:
            pipeline = Pipeline(self.config, self.scorer, self.metrics, self._on_event, self.recorder.bucket)
        for _seq, mention in self.journal.replay(self._checkpoint_seq):
            pipeline.ingest(mention, source="journal")
            self.replayed += 1
        if self.live:
            pipeline.wall_clock = lambda: self.clock.now().timestamp()
        pipeline.advance()
        for incident_id, action in self.actions.read():  # those the checkpoint may not hold yet
            pipeline.act(incident_id, action)
        if self.replayed:
            log.info("replayed %d journaled mentions after the checkpoint", self.replayed)
        self.metrics.journal_seq.set(self.journal.last_seq)
        return pipeline

    def _on_event(self, event: IncidentEvent) -> None:
        self.recorder.event(event)  # every event; the notifiers hear the announced ones
        self.notify.notify(event)

    # -- live sources --------------------------------------------------------------------------
    def _from_source(self, batch: Sequence[Mention], name: str) -> IngestReport:
        return self.submit(batch, source=name)

    def _source_silent(self, name: str, silent: bool) -> None:
        with self._lock:
            fed = self.pipeline.source_silent(name, silent)
        if silent:
            log.warning("source %s is silent: %d streams treat its buckets as missing", name, len(fed))

    @staticmethod
    def _load_positions(path: Path) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("%s unreadable (%s): sources start from their newest data", path, exc)
            return {}
        return {str(k): dict(v) for k, v in data.items() if isinstance(v, dict)}

    def _save_positions(self) -> None:
        path = self.state_dir / "sources.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.supervisor.positions()), encoding="utf-8")
        os.replace(tmp, path)

    def _history(self, incident: Incident) -> Series | None:
        """The stream's last hours when ``incident`` opened (the context of its timeline)."""
        pipeline = getattr(self, "pipeline", None)
        return pipeline.series(incident.stream, 4.0, marker=incident.opened_at) if pipeline else None

    def _slack(self, client: WebClient, root: Path) -> tuple[SlackNotifier, SlackDispatcher]:
        settings = self.config.slack
        outbox = Outbox(root / "slack-outbox.sqlite3")

        def route(stream: str) -> tuple[str, str]:
            r = self.config.slack_route(stream)
            return r.channel, r.oncall_group

        dispatcher = SlackDispatcher(
            outbox,
            client,
            group_of=lambda stream: route(stream)[1],
            links=Links(settings.incident_url, settings.dashboard_url),
            observer=_Deliveries(
                self.metrics, lambda: self.recorder, "slack", lambda: self.clock.now().timestamp()
            ),
            clock=lambda: self.clock.now().timestamp(),
            max_per_second=settings.max_per_second,
        )
        notifier = SlackNotifier(
            outbox,
            route,
            self.clock.now,
            quiet_hours=QuietHours(settings.quiet_hours, settings.timezone),
            reminder=timedelta(minutes=settings.reminder_minutes),
            charts=self._chart,
            wake=dispatcher.wake,
        )
        self.metrics.outbox_depth.labels("slack").set_function(outbox.depth)
        self.metrics.notifier_halted.labels("slack").set_function(
            lambda: float(dispatcher.halted is not None)
        )
        m = self.metrics  # the series start at 0
        for what in ("parent", "update", "reply", "chart"):
            m.notifications_sent.labels("slack", what)
        for reason in ("rate_limited", "server_error", "connection"):
            m.notifications_failed.labels("slack", reason)
        m.notification_latency.labels("slack")
        self.metrics.outbox_oldest_age.labels("slack").set_function(
            lambda: outbox.oldest(self.clock.now().timestamp())
        )
        return notifier, dispatcher

    def _chart(self, incident: Incident, now: datetime) -> Series | None:
        pipeline = getattr(self, "pipeline", None)  # events during start-up replay come before it is set
        if pipeline is None:
            return None
        return pipeline.series(incident.stream, self.config.slack.chart_hours, marker=incident.opened_at)

    def apply_retention(self) -> int:
        """Drop the samples of incidents resolved over ``store.retention_days`` ago."""
        cutoff = self.clock.now() - timedelta(days=self.config.store.retention_days)
        dropped = self.store.drop_samples_before(cutoff.timestamp())
        if dropped:
            log.info("retention: dropped the samples of %d incidents resolved before %s", dropped, cutoff)
        return dropped

    def add_note(self, incident_id: str, author: str, text: str) -> bool:
        """Add a note to an incident's timeline; False when the store has no such incident."""
        text, author = text.strip(), author.strip()
        if not text:
            raise ValueError("text: a note needs some text")
        if not author:
            raise ValueError("author: say who wrote the note")
        if len(text) > 10_000:
            raise ValueError(f"text: {len(text)} characters, at most 10,000")
        now = self.clock.now().timestamp()
        entry = {
            "key": f"{incident_id}#note:{uuid.uuid4().hex}",
            "at": now,
            "type": "note",
            "level": None,
            "actor": author[:200],
            "detail": {"text": text},
        }
        return self.store.add_entry(incident_id, entry)

    # -- what people do ------------------------------------------------------------------------
    def act(
        self,
        incident_id: str,
        action: str,
        actor: str,
        *,
        actor_id: str = "",
        snooze: timedelta | None = None,
    ) -> Incident | None:
        """Record and apply ``action`` on the open incident ``incident_id``; None when none is open.

        The action is written to the action log (fsync) before it is applied, so a crash right
        after cannot lose it.
        """
        if action not in ACTIONS:
            raise ValueError(f"action: unknown action {action!r} ({', '.join(ACTIONS)})")
        if action == "snooze" and (snooze is None or snooze <= timedelta(0)):
            raise ValueError("snooze: needs a positive duration")
        now = self.clock.now()
        record = Action(
            id=uuid.uuid4().hex,
            at=now,
            action=action,
            actor=actor,
            until=now + snooze if action == "snooze" and snooze is not None else None,
            actor_id=actor_id,
        )
        with self._lock:
            incident = self.pipeline.policy.find(incident_id)
            if incident is None:
                return None
            self.actions.append(incident_id, record)
            self.pipeline.act(incident_id, record)
        return incident

    # -- ingest --------------------------------------------------------------------------------
    def submit(self, batch: BatchResult | Sequence[Mention], source: str = "api") -> IngestReport:
        """Journal the batch's mentions (durably), then feed them to the pipeline."""
        if isinstance(batch, BatchResult):
            mentions, rejected = batch.mentions, list(batch.rejected)
        else:
            mentions, rejected = list(batch), []
        report = IngestReport(rejected=rejected)
        for r in rejected:
            self.metrics.rejected.labels(r.reason).inc()
        if not mentions:
            return report
        # mentions keep the order of their records: their indexes are the ones not rejected
        skipped = {r.index for r in rejected}
        indexes = [i for i in range(len(mentions) + len(rejected)) if i not in skipped]
        with self._lock:
            seq = self.journal.append(mentions)  # JournalError: nothing fed, nothing acknowledged
            self.metrics.journal_seq.set(seq)
            newest = self.pipeline.max_event_t
            for index, mention in zip(indexes, mentions, strict=True):
                outcome = self.pipeline.ingest(mention, source=source)
                report.outcomes[outcome] += 1
                if outcome == "stream_limit":
                    report.rejected.append(
                        Rejection(
                            index,
                            "stream_limit",
                            f"stream: its streams are new and the radar already has max_streams="
                            f"{self.config.radar.max_streams}; configure the stream or raise the limit",
                        )
                    )
            if self.pipeline.max_event_t > newest:
                self._anchor = (self.pipeline.max_event_t, self.clock.now().timestamp())
            self.pipeline.advance()
        report.accepted = len(mentions) - report.outcomes["stream_limit"]
        report.rejected.sort(key=lambda r: r.index)
        return report

    # -- periodic work -------------------------------------------------------------------------
    def tick(self) -> None:
        """Close due buckets; in live mode also those of idle streams, on the wall clock.

        When no newer mention arrives, event time keeps running at wall-clock speed from the
        newest event seen: live streams that fall silent still get their (zero) buckets closed,
        and a file replayed into a running radar (event time far behind the wall clock) is not
        cut off as late.
        """
        with self._lock:
            watermark = self.pipeline.max_event_t - self.pipeline.lateness
            if self.live and self.pipeline.max_event_t > 0:
                now = self.clock.now().timestamp()
                newest, seen_at = self._anchor or (self.pipeline.max_event_t, now)
                self._anchor = (newest, seen_at)
                event_now = min(now, newest + max(0.0, now - seen_at))
                watermark = max(watermark, event_now - self.pipeline.lateness)
                self.metrics.lag.set(max(0.0, now - self.pipeline.max_event_t))
            self.pipeline.advance(watermark)
            if self._checkpoint_at is not None:
                self.metrics.checkpoint_age.set(self.clock.now().timestamp() - self._checkpoint_at)

    def checkpoint(self) -> Path:
        """Write a checkpoint of the pipeline and drop journal segments it covers."""
        with self._lock:
            seq = self.journal.last_seq
            now = self.clock.now()
            actions = self.actions.mark()  # every action logged so far is in this checkpoint
            path = self.checkpointer.save(self.pipeline, seq, now=now)
            self._action_marks[path.name] = actions
            self._checkpoint_seq = seq
            if self.supervisor.sources:
                self._save_positions()
        self._checkpoint_at = now.timestamp()
        self.metrics.checkpoint_time.set(self._checkpoint_at)
        self.metrics.checkpoint_age.set(0)
        # keep what the oldest kept checkpoint still needs: a damaged newest one falls back losslessly
        oldest = self.checkpointer.oldest_journal_seq()
        self.journal.truncate_before(oldest if oldest is not None else seq)
        with self._lock:
            self._compact_actions()
        return path

    def _compact_actions(self) -> None:
        """Drop the logged actions that every kept checkpoint holds (those of a checkpoint written
        by an earlier process are kept until it is pruned: its mark is not known)."""
        kept = [p.name for p in self.checkpointer.paths()]
        self._action_marks = {name: m for name, m in self._action_marks.items() if name in kept}
        if kept and kept[0] in self._action_marks:
            try:
                self.actions.compact(self._action_marks[kept[0]])
            except OSError as exc:  # the log stays as it was: longer, nothing lost
                log.warning("cannot compact the action log: %s", exc)

    def flush_store(self) -> None:
        """Hand the incident writes spooled during a store outage back to the store, if it answers."""
        with self._lock:
            self.recorder.flush()

    def start(self) -> None:
        """Start the scheduler (idle-stream closing and periodic checkpoints)."""
        if self._scheduler is not None:
            return
        scheduler = BackgroundScheduler(timezone="UTC")
        tick_every = max(1, min(15, self.config.radar.bucket_seconds // 4))
        scheduler.add_job(
            self.tick, "interval", seconds=tick_every, coalesce=True, max_instances=1, id="tick"
        )
        scheduler.add_job(
            self.checkpoint,
            "interval",
            seconds=self.config.radar.checkpoint_interval_seconds,
            coalesce=True,
            max_instances=1,
            id="checkpoint",
        )
        scheduler.add_job(
            self.apply_retention, "interval", hours=6, coalesce=True, max_instances=1, id="retention"
        )
        scheduler.add_job(  # writes spooled while the incident store was unreachable
            self.flush_store, "interval", seconds=15, coalesce=True, max_instances=1, id="store-spool"
        )
        if self.slack is not None:
            scheduler.add_job(
                self.slack.remind, "interval", seconds=60, coalesce=True, max_instances=1, id="remind"
            )
        scheduler.start()
        self._scheduler = scheduler
        if self.dispatcher is not None:
            self.dispatcher.start()
        if self.supervisor.sources:
            self.supervisor.start()

    def stop(self) -> None:
        """Stop the scheduler, write a final checkpoint and close the journal."""
        self.supervisor.stop()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        if self.dispatcher is not None:
            self.dispatcher.stop()
        self.checkpoint()
        self.journal.close()
        if self.dispatcher is not None:
            self.dispatcher.outbox.close()
        self.store.close()

    # -- reading -------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """What ``/healthz`` reports."""
        with self._lock:
            pipe = self.pipeline
            streams = {
                name: {
                    "learning": s.learning,
                    "silent": s.detector.silent,
                    "level": max(
                        (str(i.level) for i in pipe.open_incidents() if i.stream == name and i.pages),
                        default="calm",
                        key=lambda lv: ["calm", "watch", "warning", "crisis"].index(lv),
                    ),
                }
                for name, s in pipe.streams.items()
            }
            age = None
            if self._checkpoint_at is not None:
                age = round(self.clock.now().timestamp() - self._checkpoint_at, 1)
            slack = self.dispatcher.status() if self.dispatcher is not None else None
            return {
                # degraded: alerts cannot reach people (Slack refused the token)
                "status": "degraded" if slack is not None and slack["halted"] else "ok",
                "streams": streams,
                "open_incidents": len(pipe.open_incidents()),
                "journal_seq": self.journal.last_seq,
                "checkpoint_seq": self._checkpoint_seq,
                "checkpoint_age_seconds": age,
                "watermark": pipe.windower.watermark if pipe.windower.watermark > 0 else None,
                "notification_failures": self.notify.failures,
                "store": {
                    "pending": self.recorder.pending,
                    "unreachable": self.recorder.failures,
                    "dropped": self.recorder.dropped,
                },
                "slack": slack,
                "sources": [h.to_json() for h in self.supervisor.health()],
            }
