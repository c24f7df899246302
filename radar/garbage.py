"""How often Python's cyclic garbage collector runs in a radar process.

Almost all the radar's memory is long-lived per-stream state: detectors, baselines, recent buckets
and author counts, about 40 GC-tracked objects a stream (100 with the shared ones). Almost
everything else it allocates is gone within one bucket, freed by reference counting. CPython's
default young-generation threshold (700 net allocations) collects so often that the mentions of
the bucket being filled live through several young collections. They are then promoted to the old
generation, and that promotion triggers full collections. A full collection walks every object of
every stream. The collections per day grow with the number of streams, and so does the cost of
each, so their cost per stream grows with the number of streams:

* 1,000 busy streams: 7.5 µs per stream per bucket in collections;
* 10,000 busy streams: 28.7 µs, on top of the 47.6 µs that closing the buckets costs.

``bench/streams.py`` measured both, before this module existed.

:func:`tune` raises the young threshold to :data:`YOUNG_THRESHOLD`, so objects that die within a
bucket are freed before the collector sees them, and full collections become rare. Objects that are
part of reference cycles are still collected, only later. The ``radar`` command calls it at start.

>>> import gc
>>> before = tune()
>>> gc.get_threshold()[0] == YOUNG_THRESHOLD
True
>>> _ = tune(before[0])  # back as it was
"""

from __future__ import annotations

import gc

#: Net allocations of GC-tracked objects between two young collections. It is more than the objects
#: one bucket of 10,000 busy streams keeps alive while it fills, and a young collection of this
#: many objects takes about a millisecond.
YOUNG_THRESHOLD = 50_000


def tune(young: int = YOUNG_THRESHOLD) -> tuple[int, int, int]:
    """Set the young generation's threshold to ``young``; returns the thresholds before."""
    if young < 1:
        raise ValueError(f"young: {young} must be at least 1 (0 would turn the collector off)")
    before = gc.get_threshold()
    gc.set_threshold(young, *before[1:])
    return before
