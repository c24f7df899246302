"""The small chart an alert carries: a stream's last hours of mentions against the expected band.

:class:`Series` is plain data (captured when the alert is decided, rendered later by whoever
delivers it); :func:`render_png` draws it with matplotlib's Agg backend (no display needed).

>>> series = Series("Acme Air", 60, [(0.0, 3, 0, 3.0, 0.0, 8.0), (60.0, 30, 20, 3.0, 0.0, 8.0)], 60.0)
>>> render_png(series)[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: A point: (bucket start, mentions, negative mentions, expected mentions, band low, band high).
Point = tuple[float, int, int, float, float, float]


@dataclass(frozen=True)
class Series:
    """A stream's recent buckets with what was expected of each."""

    stream_name: str
    bucket_seconds: int
    points: list[Point]
    marker: float | None = None  # when the incident opened (a vertical line)

    def to_json(self) -> dict[str, Any]:
        """A JSON form."""
        return {
            "stream_name": self.stream_name,
            "bucket_seconds": self.bucket_seconds,
            "points": [list(p) for p in self.points],
            "marker": self.marker,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Series:
        """The inverse of :meth:`to_json`."""
        points: list[Point] = [
            (float(p[0]), int(p[1]), int(p[2]), float(p[3]), float(p[4]), float(p[5])) for p in data["points"]
        ]
        return cls(str(data["stream_name"]), int(data["bucket_seconds"]), points, data.get("marker"))


def render_png(series: Series, width: float = 6.0, height: float = 2.6, dpi: int = 100) -> bytes:
    """The chart as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.dates import DateFormatter, date2num
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi)
    ax = fig.add_subplot()
    times = [float(date2num(datetime.fromtimestamp(p[0], UTC))) for p in series.points]
    if times:
        ax.fill_between(
            times, [p[4] for p in series.points], [p[5] for p in series.points],
            color="#9ecae1", alpha=0.45, step="post", label="normal band", linewidth=0,
        )  # fmt: skip
        ax.step(times, [p[3] for p in series.points], where="post", color="#3182bd", lw=1, label="expected")
        ax.step(times, [p[1] for p in series.points], where="post", color="#252525", lw=1.2, label="mentions")
        ax.step(times, [p[2] for p in series.points], where="post", color="#de2d26", lw=1.2, label="negative")
    if series.marker is not None:
        ax.axvline(
            float(date2num(datetime.fromtimestamp(series.marker, UTC))), color="#de2d26", ls="--", lw=0.8
        )
    per = "minute" if series.bucket_seconds == 60 else f"{series.bucket_seconds} s"
    ax.set_title(f"{series.stream_name}: mentions per {per} (UTC)", fontsize=9)
    ax.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=UTC))
    ax.tick_params(labelsize=7)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, loc="upper left", frameon=False, ncols=4)
    fig.autofmt_xdate()
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
