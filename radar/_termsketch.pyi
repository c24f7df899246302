"""Type stub of the compiled term-sketch loop (``radar/_termsketch.pyx``)."""

from array import array
from collections.abc import Mapping

def crc32(term: str) -> int: ...
def add_counts(cells: array[float], terms: Mapping[str, int], width: int, inc: float) -> None: ...
