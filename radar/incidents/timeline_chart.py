"""An incident's timeline chart: mentions against the expected band, negative share, level bands and
markers (onset, detected, acknowledged, resolved); as inline SVG for pages and as PNG for post-mortems.

The SVG is built by hand (no script, no external asset: it prints, and a 48-hour incident of 2,880
buckets draws in milliseconds).

>>> from radar.sample import Sample
>>> samples = [Sample(i * 60.0, 5 + 20 * (i > 5), 2 * (i > 5), 5.0, 0, 12, 3 * (i > 5)) for i in range(10)]
>>> svg(samples, {"detected": 420.0}).startswith("<svg")
True
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape

from radar.sample import Sample

LEVEL_COLOURS = {1: "#fff3bf", 2: "#ffd8a8", 3: "#ffc9c9"}  # watch, warning, crisis
MARKER_COLOURS = {"onset": "#868e96", "detected": "#e8590c", "acknowledged": "#1971c2", "resolved": "#2f9e44"}


def _clock(t: float, span: float) -> str:
    d = datetime.fromtimestamp(t, UTC)
    return d.strftime("%H:%M") if span <= 36 * 3600 else d.strftime("%d %b %H:%M")


def svg(
    samples: Sequence[Sample],
    markers: Mapping[str, float | None],
    width: int = 960,
    height: int = 340,
) -> str:
    """The chart as an ``<svg>`` element (empty-state text when there are no samples)."""
    if not samples:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="60" role="img">'
            '<text x="10" y="35" font-size="14">No samples kept for this incident (retention).</text></svg>'
        )
    left, right, top = 48, 12, 14
    main_h, share_h, gap = int(height * 0.62), int(height * 0.2), 28
    t0, t1 = samples[0].t, samples[-1].t + 60.0
    span = max(t1 - t0, 60.0)
    ymax = max(max(s.mentions for s in samples), max(s.upper for s in samples), 1.0) * 1.08
    plot_w = width - left - right

    def x(t: float) -> float:
        return left + (t - t0) / span * plot_w

    def y(v: float) -> float:
        return top + main_h - v / ymax * main_h

    share_top = top + main_h + gap

    def ys(v: float) -> float:
        return share_top + share_h - v * share_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="mentions against the expected band">'
    ]
    # level bands
    run_start, run_level = samples[0].t, samples[0].level
    for s in [*samples[1:], Sample(t1, 0, 0, 0, 0, 0, -1)]:
        if s.level != run_level:
            if run_level in LEVEL_COLOURS:
                out.append(
                    f'<rect x="{x(run_start):.1f}" y="{top}" width="{x(s.t) - x(run_start):.1f}" '
                    f'height="{main_h}" fill="{LEVEL_COLOURS[run_level]}"/>'
                )
            run_start, run_level = s.t, s.level
    # band, expected, mentions, negatives
    upper = " ".join(f"{x(s.t):.1f},{y(s.upper):.1f}" for s in samples)
    lower = " ".join(f"{x(s.t):.1f},{y(s.lower):.1f}" for s in reversed(samples))
    out.append(f'<polygon points="{upper} {lower}" fill="#a5d8ff" fill-opacity="0.55"/>')
    for attr, colour, w in (
        ("expected", "#1c7ed6", 1),
        ("mentions", "#212529", 1.4),
        ("negative", "#e03131", 1.2),
    ):
        pts = " ".join(f"{x(s.t):.1f},{y(float(getattr(s, attr))):.1f}" for s in samples)
        out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="{w}"/>')
    # share panel
    pts = " ".join(f"{x(s.t):.1f},{ys(s.negative_share):.1f}" for s in samples if s.mentions)
    out.append(
        f'<rect x="{left}" y="{share_top}" width="{plot_w}" height="{share_h}" fill="none" stroke="#dee2e6"/>'
    )
    if pts:
        out.append(f'<polyline points="{pts}" fill="none" stroke="#c2255c" stroke-width="1"/>')
    out.append(f'<text x="4" y="{share_top + 10}" font-size="10">100%</text>')
    out.append(f'<text x="4" y="{share_top + share_h}" font-size="10">0%</text>')
    out.append(f'<text x="{left + 4}" y="{share_top - 4}" font-size="11">negative share</text>')
    # axes and ticks
    out.append(
        f'<line x1="{left}" y1="{top + main_h}" x2="{width - right}" y2="{top + main_h}" stroke="#868e96"/>'
    )
    for i in range(5):
        v = ymax * i / 4
        out.append(f'<text x="4" y="{y(v) + 4:.1f}" font-size="10">{v:.0f}</text>')
    for i in range(7):
        tick = t0 + span * i / 6
        label = _clock(tick, span)
        out.append(
            f'<text x="{x(tick):.1f}" y="{height - 4}" font-size="10" text-anchor="middle">{label}</text>'
        )
    # markers
    for name, when in markers.items():
        if when is None or not t0 <= when <= t1:
            continue
        t = when
        colour = MARKER_COLOURS.get(name, "#495057")
        out.append(
            f'<line x1="{x(t):.1f}" y1="{top}" x2="{x(t):.1f}" y2="{share_top + share_h}" stroke="{colour}" '
            f'stroke-dasharray="4 3" stroke-width="1.5"><title>{escape(name)}</title></line>'
        )
        out.append(
            f'<text x="{x(t) + 3:.1f}" y="{top + 10}" font-size="11" fill="{colour}">{escape(name)}</text>'
        )
    out.append(
        f'<text x="{width - right}" y="{top + 10}" font-size="11" text-anchor="end">mentions (black), '
        "negative (red), expected and normal band (blue) per bucket, UTC</text>"
    )
    out.append("</svg>")
    return "".join(out)


def png(samples: Sequence[Sample], markers: Mapping[str, float | None], title: str) -> bytes:
    """The chart as PNG (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.dates import DateFormatter, date2num
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2), dpi=100)
    ax, share = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    times = [float(date2num(datetime.fromtimestamp(s.t, UTC))) for s in samples]
    if samples:
        for i, s in enumerate(samples):
            if s.level in LEVEL_COLOURS and i + 1 < len(samples):
                ax.axvspan(times[i], times[i + 1], color=LEVEL_COLOURS[s.level], lw=0)
        ax.fill_between(
            times, [s.lower for s in samples], [s.upper for s in samples], color="#a5d8ff", alpha=0.6, lw=0
        )
        ax.plot(times, [s.expected for s in samples], color="#1c7ed6", lw=1, label="expected")
        ax.plot(times, [s.mentions for s in samples], color="#212529", lw=1.2, label="mentions")
        ax.plot(times, [s.negative for s in samples], color="#e03131", lw=1.1, label="negative")
        share.plot(times, [s.negative_share for s in samples], color="#c2255c", lw=1)
    for name, t in markers.items():
        if t is not None:
            when = float(date2num(datetime.fromtimestamp(t, UTC)))
            for axis in (ax, share):
                axis.axvline(when, color=MARKER_COLOURS.get(name, "#495057"), ls="--", lw=1)
            ax.annotate(
                name, (when, 1.0), xycoords=("data", "axes fraction"), fontsize=8, rotation=90, va="top"
            )
    ax.set_title(title, fontsize=10)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    share.set_ylim(0, 1)
    share.set_ylabel("neg. share", fontsize=8)
    share.xaxis.set_major_formatter(DateFormatter("%d %b %H:%M", tz=UTC))
    fig.autofmt_xdate()
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
