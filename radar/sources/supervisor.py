"""The supervisor: runs every configured live source, restarts the ones that fail, watches for silence.

Each source runs as a task on one asyncio event loop in a background thread. Its batches are handed
to ``sink`` (the radar's ``submit``: journaled before it returns) in a worker thread, and only then is
the source's position recorded, so a persisted position never runs ahead of what is on disk.

A source whose connection fails (or ends), or whose batch the sink could not take, is resumed from
its last recorded position (so nothing it had read but not handed over is lost) and restarted after
an exponential backoff with full jitter:
``base`` doubling up to ``cap``, back to ``base`` once a connection has stayed up for ``cap`` seconds.

Silence: a source that has had no event for ``silent_after`` seconds (or stayed disconnected that long)
is marked silent and ``on_silent(name, True)`` is called once; the first event after that calls
``on_silent(name, False)``.

>>> import asyncio
>>> class Two:
...     name, health = "two", SourceHealth("two")
...     async def batches(self):
...         yield ["a", "b"]
...         raise ConnectionError("gone")
...     def position(self): return {}
...     def resume(self, position): pass
...     async def close(self): pass
>>> got = []
>>> sup = Supervisor([Two()], sink=lambda batch, name: got.extend(batch), base=0.01, cap=0.02)
>>> sup.start(); import time; time.sleep(0.2); sup.stop()
>>> got[:4], sup.health()[0].reconnects > 0
(['a', 'b', 'a', 'b'], True)
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from radar.sources.source import Source, SourceHealth

log = logging.getLogger(__name__)


class Supervisor:
    """Runs sources, restarts them, tracks positions and silence.

    Parameters
    ----------
    sources
        The sources.
    sink
        ``(batch, source name) -> anything``: takes a batch of mentions durably (called in a worker
        thread; an exception there counts as a source error and the batch is retried by the source's
        resume position).
    on_silent
        ``(source name, silent)``: called when a source goes silent or comes back.
    silent_after
        Seconds without events before a source is silent (``None``: never).
    clock
        Wall clock, epoch seconds.
    """

    def __init__(
        self,
        sources: Sequence[Source],
        sink: Callable[[Sequence[Any], str], object],
        *,
        on_silent: Callable[[str, bool], None] | None = None,
        silent_after: float | None = 600.0,
        base: float = 1.0,
        cap: float = 60.0,
        clock: Callable[[], float] = time.time,
        positions: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.sources = list(sources)
        self.sink = sink
        self.on_silent = on_silent
        self.silent_after = silent_after
        self.base, self.cap = base, cap
        self.clock = clock
        self._positions: dict[str, dict[str, Any]] = dict(positions or {})
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._started_at = clock()
        for source in self.sources:
            if source.name in self._positions:
                source.resume(self._positions[source.name])

    # -- running -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start every source in a background thread."""
        if self._thread is not None:
            return
        self._started_at = self.clock()
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._tasks = [loop.create_task(self._supervise(source)) for source in self.sources]
            self._tasks.append(loop.create_task(self._watch()))
            ready.set()
            loop.run_forever()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.gather(*asyncio.all_tasks(loop), return_exceptions=True))
            for source in self.sources:
                loop.run_until_complete(source.close())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="sources", daemon=True)
        self._thread.start()
        ready.wait(10)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every source (their positions stay as last recorded)."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._thread, self._loop = None, None

    async def _supervise(self, source: Source) -> None:
        health = source.health
        delay = self.base
        loop = asyncio.get_running_loop()
        while True:
            connected_at = self.clock()
            try:
                async for batch in source.batches():
                    health.connected = True
                    if batch:
                        await loop.run_in_executor(None, self.sink, list(batch), source.name)
                        health.mentions += len(batch)
                        health.last_mention_at = self.clock()
                    with self._lock:
                        self._positions[source.name] = source.position()
                    self._heard(source)
                    if self.clock() - connected_at >= self.cap:
                        delay = self.base  # a connection that lasted: the next failure starts over
                raise ConnectionError("the source ended its stream")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                with self._lock:  # start again after what is on disk, whatever the source had read
                    position = self._positions.get(source.name)
                if position is not None:
                    source.resume(position)
                health.connected = False
                health.errors += 1
                health.last_error = f"{type(exc).__name__}: {exc}"[:300]
                wait = random.uniform(0, min(self.cap, delay))  # full jitter
                log.warning("source %s failed (%s): retry in %.1f s", source.name, health.last_error, wait)
                delay = min(self.cap, delay * 2)
                await asyncio.sleep(wait)
                health.reconnects += 1

    def _heard(self, source: Source) -> None:
        health = source.health
        if health.silent and self._recent(health):
            health.silent = False
            log.info("source %s is delivering again", source.name)
            if self.on_silent is not None:
                self.on_silent(source.name, False)

    def _recent(self, health: SourceHealth) -> bool:
        last = health.last_event_at
        return last is not None and self.silent_after is not None and self.clock() - last < self.silent_after

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.check_silence()

    def check_silence(self) -> list[str]:
        """Mark sources silent that have been quiet too long; returns the names newly silent."""
        if self.silent_after is None:
            return []
        now = self.clock()
        newly = []
        for source in self.sources:
            health = source.health
            last = health.last_event_at if health.last_event_at is not None else self._started_at
            if not health.silent and now - last >= self.silent_after:
                health.silent = True
                newly.append(source.name)
                log.warning("source %s silent for %.0f s", source.name, now - last)
                if self.on_silent is not None:
                    self.on_silent(source.name, True)
        return newly

    # -- reading -------------------------------------------------------------------------------
    def positions(self) -> dict[str, dict[str, Any]]:
        """Every source's last position whose mentions are journaled (what a checkpoint keeps)."""
        with self._lock:
            return {name: dict(position) for name, position in self._positions.items()}

    def health(self) -> list[SourceHealth]:
        """Every source's health."""
        return [source.health for source in self.sources]
