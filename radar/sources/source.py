"""The live-source plug-in point: a :class:`Source` yields batches of mentions and keeps its health.

A source connects to something that produces mentions (Bluesky's Jetstream, a Mastodon server, ...),
turns what it receives into :class:`~radar.mention.Mention` s (matching the configured streams on our
side), and yields them in small batches as an async iterator. It raises when its connection fails;
the :class:`~radar.sources.supervisor.Supervisor` then restarts it with backoff. A source that can
resume (a cursor, a ``min_id``) reports its position with :meth:`Source.position` and is given it back
with :meth:`Source.resume` after a restart: the supervisor persists it once the mentions before it
are journaled, so a restart neither loses nor (thanks to de-duplication by id) doubles a mention.

Malformed events are the source's business: it skips them, counts them in ``health.malformed``
and keeps the connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from radar.mention import Mention


@dataclass
class SourceHealth:
    """How a source is doing (shown in ``/healthz`` and the ``radar_source_*`` metrics)."""

    name: str
    connected: bool = False
    last_event_at: float | None = None  # wall time of the last event received (any event)
    last_mention_at: float | None = None  # wall time of the last mention handed over
    events: int = 0  # events received (posts and everything else the source sees)
    mentions: int = 0  # mentions handed over (matched a stream)
    malformed: int = 0  # events skipped as malformed
    errors: int = 0  # connection failures
    reconnects: int = 0
    last_error: str | None = None
    silent: bool = False  # quiet or disconnected beyond ``silent_after``
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """As a JSON object."""
        return asdict(self)


@runtime_checkable
class Source(Protocol):
    """Something that produces mentions."""

    name: str
    health: SourceHealth

    def batches(self) -> AsyncIterator[Sequence[Mention]]:
        """Connect and yield batches of mentions until the connection fails (then raise)."""

    def position(self) -> dict[str, Any]:
        """Where the source is (e.g. ``{"cursor": 1725911162329308}``), to resume from after a restart."""

    def resume(self, position: dict[str, Any]) -> None:
        """Start the next connection from ``position`` (as :meth:`position` gave it)."""

    async def close(self) -> None:
        """Release connections and clients."""
