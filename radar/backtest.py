"""Backtest: replay a mention file through the real pipeline in event time, as fast as it can.

Deterministic: the same file and configuration give the same incidents with the same ids. The
output is the contract of DESIGN §3 (``{"incidents": [...]}``), plus a per-stream summary
(including whether a stream was still ``learning`` at the end) and the intake counts.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alerts.escalation import IncidentEvent
from radar.batch import Rejection
from radar.config import RadarConfig
from radar.mention import Mention
from radar.pipeline import Pipeline
from radar.progress import Progress
from radar.scorepool import ScorePool
from radar.sentiment import SentimentScorer

EXAMPLES = 10


@dataclass
class BacktestResult:
    """What a backtest produced."""

    pipeline: Pipeline
    events: list[IncidentEvent]
    outcomes: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    #: the first few rejected records, so a bad file shows where it is bad
    examples: list[Rejection] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The backtest output document."""
        incidents = []
        for incident in self.pipeline.all_incidents():
            doc = incident.to_json()
            doc["learning"] = False
            incidents.append(doc)
        streams = {}
        for name, state in sorted(self.pipeline.streams.items()):
            last = state.last
            streams[name] = {
                "learning": state.learning,
                "negative_share_baseline": round(last.share_baseline, 4) if last else None,
                "late_mentions": self.pipeline.windower.late_count(name),
                "skipped_buckets": self.pipeline.windower.skipped_count(name),
            }
        return {
            "incidents": incidents,
            "streams": streams,
            "summary": {
                "mentions": dict(sorted(self.outcomes.items())),
                "rejected": dict(sorted(self.rejected.items())),
                "incidents": len(incidents),
            },
        }

    def write(self, path: Path | str) -> None:
        """Write the output document as JSON."""
        Path(path).write_text(
            json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )


def run_backtest(
    records: Iterable[Mention | Rejection],
    config: RadarConfig,
    scorer: SentimentScorer,
    *,
    pipeline: Pipeline | None = None,
    progress: Progress | None = None,
    sink: Any = None,
    workers: int = 0,
    batch: int = 2000,
) -> BacktestResult:
    """Replay ``records`` (file order = arrival order) and close everything at the end.

    With ``workers`` > 0, texts are scored in that many other processes, ``batch`` records at
    a time, while the pipeline works (same scores, same result; see :mod:`radar.scorepool`).
    """
    pipe = pipeline or Pipeline(config, scorer, sink=sink)
    result = BacktestResult(pipe, [])
    if workers <= 0:
        for record in records:
            _take(pipe, result, record, None)
            if progress is not None:
                progress.update()
    else:
        with ScorePool(scorer, workers) as pool:
            for chunk, scores in pool.map(_chunks(records, batch), _texts_to_score):
                it = iter(scores)
                for record in chunk:
                    unscored = isinstance(record, Mention) and record.sentiment is None
                    _take(pipe, result, record, next(it) if unscored else None)
                if progress is not None:
                    progress.update(len(chunk))
    result.events.extend(pipe.finish())
    if progress is not None:
        progress.close()
    return result


def _take(pipe: Pipeline, result: BacktestResult, record: Mention | Rejection, score: float | None) -> None:
    if isinstance(record, Rejection):
        result.rejected[record.reason] += 1
        if len(result.examples) < EXAMPLES:
            result.examples.append(record)
        pipe.metrics.rejected.labels(record.reason).inc()
        return
    result.outcomes[pipe.ingest(record, score=score)] += 1
    if pipe.max_event_t - pipe.lateness >= pipe.windower.watermark + pipe.bucket_seconds:
        result.events.extend(pipe.advance())


def _chunks(records: Iterable[Mention | Rejection], size: int) -> Iterator[list[Mention | Rejection]]:
    chunk: list[Mention | Rejection] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _texts_to_score(chunk: list[Mention | Rejection]) -> list[str]:
    return [r.text for r in chunk if isinstance(r, Mention) and r.sentiment is None]
