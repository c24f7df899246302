"""Parameter values, one object per distinct value for every detector of the process.

Every stream has its own detectors, and every detector keeps its parameters (thresholds, window
lengths, rates) as attributes. Streams built from one configuration share those objects, but a
detector restored from a checkpoint or cloned through pickle gets a float (24 bytes), a tuple or a
string of its own for each: a few hundred bytes per stream of identical values. :func:`share` hands
out one object per distinct value instead.

>>> a, b = share(float("0.25")), share(float("0.25"))
>>> a is b, share(1) is share(1.0), share(-0.0) is share(0.0)  # equal is not enough
(True, False, False)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, TypeVar

T = TypeVar("T")
#: distinct values kept at most (parameters are few; beyond this, values are left unshared)
LIMIT = 4096
_VALUES: dict[tuple[type, Any], Any] = {}
_SHAREABLE = (bool, int, float, str, tuple)


def share(value: T) -> T:
    """The process's object equal to ``value`` (of the same type): ``value`` itself the first time."""
    kind = type(value)
    if kind not in _SHAREABLE or (kind is float and math.isnan(value)):  # type: ignore[arg-type]
        return value
    item: Any = value
    try:  # a float by its bits (0.0 is not -0.0), a tuple with the types of its items ((1,) is not (1.0,))
        key: tuple[type, Any] = (kind, item.hex() if kind is float else item)
        if kind is tuple:
            key = (tuple, (tuple(map(type, item)), item))
        found = _VALUES.get(key)
    except TypeError:  # a tuple holding something unhashable
        return value
    if found is not None:
        return found
    if len(_VALUES) < LIMIT:
        _VALUES[key] = value
    return value


def share_attributes(obj: object, names: Iterable[str]) -> None:
    """Replace the attributes ``names`` of ``obj`` by the shared objects of their values."""
    for name in names:
        setattr(obj, name, share(getattr(obj, name)))
