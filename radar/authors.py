"""Author activity: damping repeat posters so a few accounts cannot fake a surge.

Each mention counts ``1 / (1 + recent posts by the same author)``, where recent posts decay with
a half-life (30 minutes by default). A crowd of distinct people counts fully; a spam flood of a
handful of accounts posting every few seconds counts for little. Only the most recently active
authors are remembered (``capacity``), which is exactly the set a flood keeps fresh, so memory
stays bounded whatever the stream's size.

>>> a = AuthorActivity()
>>> [round(a.weight("bot", t=float(i)), 2) for i in range(4)]
[1.0, 0.5, 0.33, 0.25]
>>> a.weight("someone-else", t=4.0)
1.0
"""

from __future__ import annotations

import math
from array import array
from typing import Any

_END = b"\x00"  # ends every name in the list of names
#: Cells of the counting filter that tells most new authors from known ones without a search, and
#: the authors from which a stream has one (a search among a few names is as quick).
_CELLS = 512
_FILTER_FROM = 32


def _encoded(author: str) -> bytes:
    """``author`` as it is kept: UTF-8 (lone surrogates kept), with NUL and SOH escaped so that a NUL
    ends every name and nothing else (the encoding stays one-to-one)."""
    raw = author.encode("utf-8", "surrogatepass")
    return _escaped(raw) if b"\x00" in raw or b"\x01" in raw else raw


def _escaped(raw: bytes) -> bytes:
    return raw.replace(b"\x01", b"\x01\x02").replace(b"\x00", b"\x01\x03")


def _new_filter(capacity: int) -> bytearray | array[int]:
    """Empty counting filter cells: a byte each while a cell cannot hold more than 255 names."""
    return bytearray(_CELLS) if capacity < 256 else array("I", bytes(4 * _CELLS))


#: What an :class:`AuthorActivity` pickles, in the order it always has (the filter and cells are derived).
_STATE = ("capacity", "half_life", "_names", "_counts", "_at")


class AuthorActivity:
    """Decayed per-author post counts for the most recently active authors of one stream."""

    # slots, not a dict per stream; what is pickled is the same dict as before (_STATE)
    __slots__ = ("_cells", "_filter", *_STATE)

    def __init__(self, capacity: int = 128, half_life: float = 1800.0) -> None:
        if capacity < 1:
            raise ValueError(f"capacity: {capacity} must be >= 1")
        if half_life <= 0:
            raise ValueError(f"half_life: {half_life} must be positive")
        self.capacity = capacity
        self.half_life = half_life
        # the authors, least recently active first, as one run of encoded names each ended by a NUL
        # after a leading NUL (a name is found with one search for NUL + name + NUL, at C speed): a
        # string and a dict entry per author cost about 90 bytes plus the name. Their decayed counts
        # and times in two arrays in the same order (8 bytes each instead of a tuple of two floats).
        self._names = bytearray(_END)
        self._counts = array("d")
        self._at = array("d")
        # derived (not pickled: the hash of a name differs from one process to the next), once there are
        # _FILTER_FROM authors: how many fall in each cell of their hash, and the cell of each author
        self._filter: bytearray | array[int] | None = None
        self._cells = array("H")

    def __getstate__(self) -> dict[str, Any]:
        """The state without the filter and cells (derived, and of this process only)."""
        return {name: getattr(self, name) for name in _STATE}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a pickled state, also one of checkpoint version 3 (a dict of authors to slots)."""
        state = dict(state)
        slots = state.pop("_slots", None)
        if slots is not None:  # version 3: author -> slot of the arrays, least recently active first
            counts, at = state["_counts"], state["_at"]
            state["_names"] = bytearray(_END + b"".join(_encoded(a) + _END for a in slots))
            state["_counts"] = array("d", [counts[s] for s in slots.values()])
            state["_at"] = array("d", [at[s] for s in slots.values()])
        for name, value in state.items():
            if type(value) is array:  # no room to grow (an unpickled array has a fifth more)
                value = array(value.typecode, value)
            setattr(self, name, value)
        self._filter, self._cells = None, array("H")
        if len(self._counts) >= _FILTER_FROM:
            self._build_filter()

    def _build_filter(self) -> None:
        names = bytes(self._names[1:]).split(_END)[:-1]
        self._cells = array("H", [hash(name + _END) % _CELLS for name in names])
        self._filter = known = _new_filter(self.capacity)
        for cell in self._cells:
            known[cell] += 1

    def weight(self, author: str, t: float) -> float:
        """The weight of a post by ``author`` at ``t`` (epoch seconds), and remember it."""
        if not author:
            return 1.0
        raw = author.encode("utf-8", "surrogatepass")  # _encoded(), inline: every mention
        name = (_escaped(raw) if b"\x00" in raw or b"\x01" in raw else raw) + _END
        names, counts, at, known, cells = self._names, self._counts, self._at, self._filter, self._cells
        if known is None:
            cell = 0
            found = names.find(_END + name)
        else:
            cell = hash(name) % _CELLS
            found = names.find(_END + name) if known[cell] else -1  # no known name in the cell: a new one
        if found >= 0:
            k = names.count(_END, 0, found)  # the name's place: the NULs before it
            del names[found + 1 : found + 1 + len(name)]
            names += name  # the most recently active now
            count = counts.pop(k) * math.pow(0.5, max(0.0, t - at[k]) / self.half_life)
            counts.append(count + 1.0)
            at.append(max(t, at.pop(k)))
            if known is not None:
                cells.append(cells.pop(k))
            return 1.0 / (1.0 + count)
        if len(counts) >= self.capacity:  # forget the least recently active author
            if known is not None:
                known[cells.pop(0)] -= 1
            del names[1 : names.index(_END, 1) + 1], counts[0], at[0]
        names += name
        counts.append(1.0)
        at.append(t)
        if known is not None:
            known[cell] += 1
            cells.append(cell)
        elif len(counts) >= _FILTER_FROM:
            self._build_filter()
        return 1.0

    def __len__(self) -> int:
        return len(self._counts)
