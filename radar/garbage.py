"""How often Python's cyclic garbage collector runs in a radar process.

Almost all the radar's memory is long-lived per-stream state: detectors, baselines, recent buckets
and author counts, a few dozen GC-tracked objects a stream (arrays, dicts, lists, the detectors).
Almost everything else it allocates is gone within one bucket, freed by reference counting.
CPython's default young-generation threshold (700 net allocations) collects so often that the
mentions of the bucket being filled live through several young collections. They are then promoted
to the old generation, and that promotion triggers full collections. A full collection walks every
object of every stream. The collections per day grow with the number of streams, and so does the
cost of each, so their cost per stream grows with the number of streams. ``bench/streams.py``, a
whole day of busy streams, same session (``bench/results/streams-gc/``):

* 1,000 streams: 7.1 µs per stream per bucket in collections, beside 38 µs of bucket closing;
* 10,000 streams: 27.6 µs beside 42.8 µs (about 800 full collections in the day).

:func:`tune` raises the young threshold to :data:`YOUNG_THRESHOLD`, so objects that die within a
bucket are mostly freed before the collector sees them, and full collections become rare. Then
collections cost 0.6 and 4.2 µs. Objects that are part of reference cycles are still collected,
only later. The ``radar`` command calls it at start.

>>> import gc
>>> before = tune()
>>> gc.get_threshold()[0] == YOUNG_THRESHOLD
True
>>> _ = tune(before[0])  # back as it was
"""

from __future__ import annotations

import gc

#: Net allocations of GC-tracked objects between two young collections: no young collection in a
#: day of 1,000 busy streams, about one a bucket at 10,000.
YOUNG_THRESHOLD = 50_000


def tune(young: int = YOUNG_THRESHOLD) -> tuple[int, int, int]:
    """Set the young generation's threshold to ``young``; returns the thresholds before."""
    if young < 1:
        raise ValueError(f"young: {young} must be at least 1 (0 would turn the collector off)")
    before = gc.get_threshold()
    gc.set_threshold(young, *before[1:])
    return before
