"""Progress: a one-line progress indicator on a terminal, silent elsewhere.

>>> import io
>>> p = Progress(total=10, stream=io.StringIO())  # not a terminal: prints nothing
>>> p.update(5); p.close()
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Counts work done and redraws ``label  n/total  rate`` at most a few times a second."""

    def __init__(self, total: int | None = None, label: str = "", stream: TextIO | None = None) -> None:
        self.total = total
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self._start = time.monotonic()
        self._drawn = 0.0

    def update(self, n: int = 1) -> None:
        """Add ``n`` units of work done."""
        self.done += n
        if self.enabled:
            now = time.monotonic()
            if now - self._drawn >= 0.2:
                self._drawn = now
                self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self.done / max(now - self._start, 1e-9)
        if self.total:
            frac = min(1.0, self.done / self.total)
            bar = "█" * int(frac * 30) + "·" * (30 - int(frac * 30))
            text = f"\r{self.label} {bar} {self.done:,}/{self.total:,} {rate:,.0f}/s"
        else:
            text = f"\r{self.label} {self.done:,} {rate:,.0f}/s"
        self.stream.write(text)
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
