"""How an incident's why reads in one line: the phrases every notifier's headline is made of.

A why (see ``radar.pipeline``) holds the figures of the window that fired: how far the negatives
are above normal, the negative share against its baseline, the surging terms. When an incident
comes down a level, the window that fired still holds the whole surge (a 4-hour window keeps it
for four hours), so on its own it reads as if nothing had changed; the why's ``now`` (the last few
minutes against normal) says that it is easing, and leads.

>>> why = {"ratio": 11.7, "window_minutes": 240, "negative_share": 0.63,
...        "negative_share_baseline": 0.2, "top_terms": [{"term": "refunds"}, {"term": "lie"}],
...        "now": {"window_minutes": 15, "ratio": 1.2}}
>>> headline_parts(why)
['negative mentions 11.7× normal over 240 min', '63% negative (usually 20%)', 'about refunds, lie']
>>> headline_parts(why, easing=True)[:2]
['easing: negative mentions 1.2× normal over the last 15 min', 'peak window 11.7× normal over 240 min']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def headline_parts(why: Mapping[str, Any], *, easing: bool = False) -> list[str]:
    """The phrases of a headline after the level and stream, in order; ``easing`` when the
    incident has come down from a higher level (the last minutes lead, when the why has them)."""
    parts: list[str] = []
    now = why.get("now")
    fired = "ratio" in why and "window_minutes" in why
    if easing and isinstance(now, Mapping) and "ratio" in now:
        ratio, minutes = float(now["ratio"]), now.get("window_minutes", "?")
        parts.append(f"easing: negative mentions {ratio:.1f}× normal over the last {minutes} min")
        if fired:
            parts.append(f"peak window {float(why['ratio']):.1f}× normal over {why['window_minutes']} min")
    elif fired:
        parts.append(f"negative mentions {float(why['ratio']):.1f}× normal over {why['window_minutes']} min")
    if "negative_share" in why:
        parts.append(
            f"{float(why['negative_share']):.0%} negative "
            f"(usually {float(why.get('negative_share_baseline', 0.0)):.0%})"
        )
    terms = [str(t.get("term", "")) for t in why.get("top_terms") or [] if isinstance(t, Mapping)][:3]
    if terms:
        parts.append("about " + ", ".join(terms))
    return parts
