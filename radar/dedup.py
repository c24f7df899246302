"""De-duplication of mention ids in bounded memory.

:class:`Deduplicator` remembers the ids it has been shown in two generations of sets: ids go into
the *current* generation; when it holds ``capacity // 2`` ids it becomes the *previous* one and a
fresh current generation starts (the old previous one is dropped). A lookup checks both, and an id
found only in the previous generation is copied into the current one, so an id stays remembered as
long as it keeps being seen.

Guarantee: an id passed to :meth:`~Deduplicator.seen` at most ``capacity // 2`` calls ago is always
reported as seen; memory never exceeds ``capacity`` entries. Older ids may be forgotten (and then
counted again), which is the price of bounded memory.

Entries are 64-bit BLAKE2b digests of the id string, not the string itself: memory per entry does
not depend on how long ids are (up to 512 characters), and the digest is stable across processes
(Python's ``hash()`` of a string is not), so a pickled deduplicator keeps working after a restart.
The chance that two different ids share a digest is about ``capacity / 2**64`` per lookup
(5e-14 at the default capacity). The key is the id string alone, whatever the source.

>>> d = Deduplicator(capacity=4)
>>> d.seen("tw-1"), d.seen("tw-2"), d.seen("tw-1")
(False, False, True)
>>> d.seen("tw-3"), d.seen("tw-4"), d.seen("tw-5"), len(d)
(False, False, False, 3)
>>> d.seen("tw-1")  # more than capacity // 2 calls ago: forgotten, recorded anew
False
"""

from __future__ import annotations

import hashlib

__all__ = ["Deduplicator"]


def _key(mention_id: str) -> int:
    """A stable 64-bit digest of the id (lone surrogates from JSON escapes are tolerated)."""
    digest = hashlib.blake2b(mention_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class Deduplicator:
    """Recently seen mention ids, two generations of at most ``capacity // 2`` entries each.

    Parameters
    ----------
    capacity
        Most entries held at once (at least 2). At least ``capacity // 2`` of the most recent ids
        are always remembered. Each entry costs about 70 bytes of memory.

    Not thread-safe: the caller serialises access (the pipeline runs under the service lock).
    Picklable; it is part of the checkpointed pipeline state.
    """

    def __init__(self, capacity: int = 1_000_000) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int):
            raise ValueError(f"capacity: expected an integer, got {type(capacity).__name__}")
        if capacity < 2:
            raise ValueError(f"capacity: must be at least 2, got {capacity}")
        self.capacity = capacity
        self._generation = capacity // 2
        self._current: set[int] = set()
        self._previous: set[int] = set()

    def seen(self, mention_id: str) -> bool:
        """True if ``mention_id`` was seen before (within the retained horizon); else record it."""
        key = _key(mention_id)
        if key in self._current:
            return True
        found = key in self._previous
        if len(self._current) >= self._generation:
            self._previous = self._current
            self._current = set()
        self._current.add(key)
        return found

    def __len__(self) -> int:
        """Entries held (an id promoted from the previous generation may count twice)."""
        return len(self._current) + len(self._previous)

    def __repr__(self) -> str:
        return f"Deduplicator(capacity={self.capacity}, held={len(self)})"
