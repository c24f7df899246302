"""Type stub of the compiled top terms of a bucket (``radar/_topterms.pyx``)."""

from collections.abc import Mapping

def top_terms(counts: Mapping[str, int], n: int) -> dict[str, int] | None: ...
