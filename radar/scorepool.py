"""A pool of worker processes that score mention texts while the pipeline works on earlier ones.

Sentiment scoring is the largest cost per mention and needs nothing but the text, so replays of
large files (``radar backtest``) score batch ``k + 1`` in other processes while the pipeline ingests
batch ``k``. Scores come back in order and are exactly those of the scorer in one process, so a
backtest stays deterministic with or without workers.

>>> from radar.sentiment import VaderScorer
>>> with ScorePool(VaderScorer(), workers=1) as pool:
...     batches = list(pool.scored([["great crew!", "lost my bag"], ["ok"]]))
>>> [[round(s, 2) for s in scores] for _items, scores in batches]
[[0.66, -0.32], [0.3]]
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

from radar.sentiment import SentimentScorer

T = TypeVar("T")

_scorer: SentimentScorer | None = None  # the worker process's own scorer


def _start_worker(scorer: SentimentScorer) -> None:
    global _scorer
    _scorer = scorer


def _score_texts(texts: Sequence[str]) -> list[float]:
    assert _scorer is not None, "worker not initialised"
    score = _scorer.score
    return [score(t) for t in texts]


def default_workers() -> int:
    """Worker processes worth starting here: one core is left for the pipeline itself."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(cpus - 1, 4))


class ScorePool:
    """Scores batches of texts in ``workers`` processes (0: in this process, no pool).

    Parameters
    ----------
    scorer
        The scorer; it is pickled once into each worker, so it must be picklable.
    workers
        Worker processes (0 scores in the calling process).
    ahead
        Batches in flight at once (more keeps the workers busy; each holds its texts in memory).
    """

    def __init__(self, scorer: SentimentScorer, workers: int, ahead: int | None = None) -> None:
        if workers < 0:
            raise ValueError(f"workers: {workers} must be >= 0")
        self.scorer = scorer
        self.workers = workers
        self.ahead = ahead if ahead is not None else 2 * workers + 1
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> ScorePool:
        if self.workers:
            # spawn: the caller may have threads (an HTTP server, a scheduler), which fork would copy badly
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self.scorer,),
            )
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def scored(self, batches: Iterable[Sequence[str]]) -> Iterator[tuple[Sequence[str], list[float]]]:
        """Each batch of texts with its scores, in input order."""
        yield from self.map(batches, lambda texts: texts)

    def map(self, batches: Iterable[T], texts_of: Any) -> Iterator[tuple[T, list[float]]]:
        """Each item of ``batches`` with the scores of ``texts_of(item)``, in input order."""
        if self._pool is None:
            score = self.scorer.score
            for item in batches:
                yield item, [score(t) for t in texts_of(item)]
            return
        pending: deque[tuple[T, Future[list[float]]]] = deque()
        for item in batches:
            pending.append((item, self._pool.submit(_score_texts, list(texts_of(item)))))
            if len(pending) >= self.ahead:
                first, future = pending.popleft()
                yield first, future.result()
        while pending:
            first, future = pending.popleft()
            yield first, future.result()
