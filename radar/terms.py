"""Terms: what people are talking about, and which words are surging against the usual.

:func:`tokenize` turns a text into lower-case terms (hashtags without ``#``; no handles, links,
numbers or stop words). :class:`TermBaseline` remembers, per stream, how often each term usually
appears in a fixed-size sketch (counts hashed into ``width`` cells with crc32, decaying with a
half-life), so memory is bounded whatever the vocabulary. :meth:`TermBaseline.surging` ranks the
terms of a recent window by their lift over that baseline.

>>> tokenize("@AcmeAir my flight is CANCELLED again!! #AcmeFail https://t.co/x 2 hours")
['flight', 'cancelled', 'acmefail', 'hours']
"""

from __future__ import annotations

import math
import re
import zlib
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from scipy.special import gammainc

try:  # TermBaseline.learn's loop compiled (radar/_termsketch.pyx): the same sketch, less CPU
    from radar import _termsketch
except ImportError:  # not built: the Python loop
    _termsketch = None  # type: ignore[assignment]

#: Links, handles (whole, so no fragment of one leaks out) or words; only words fill the group.
_TOKEN = re.compile(r"https?://\S+|@[\w'’-]*|#?([^\W\d_][\w'’-]*)")
STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are aren't as at be because been before
    being below between both but by can can't cannot could couldn't did didn't do does doesn't doing
    don't down during each few for from further had hadn't has hasn't have haven't having he he'd
    he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm i've if in into
    is isn't it it's its itself just let's me more most mustn't my myself no nor not now of off on
    once only or other ought our ours ourselves out over own rt same shan't she she'd she'll she's
    should shouldn't so some such than that that's the their theirs them themselves then there
    there's these they they'd they'll they're they've this those through to too under until up very
    via was wasn't we we'd we'll we're we've were weren't what what's when when's where where's
    which while who who's whom why why's will with won't would wouldn't you you'd you'll you're
    you've your yours yourself yourselves get got just also really amp gt lt one still
    """.split()  # noqa: SIM905
)


def tokenize(text: str, ignore: frozenset[str] = frozenset()) -> list[str]:
    """Lower-case content terms of ``text`` (hashtags kept without ``#``), minus ``ignore``."""
    words = _TOKEN.findall(text.lower())  # links and handles match with an empty group
    terms = [w for word in words if len(w := word.rstrip("'’-")) > 2 and w not in STOP_WORDS]
    return [w for w in terms if w not in ignore] if ignore else terms


class TermBaseline:
    """Usual term frequencies of one stream, in a bounded sketch.

    Parameters
    ----------
    width
        Cells of the sketch (4 bytes each).
    half_life_buckets
        Half-life of the counts, in learned buckets.
    """

    def __init__(self, width: int = 1024, half_life_buckets: float = 3 * 1440.0) -> None:
        if width < 16:
            raise ValueError(f"width: {width} must be >= 16")
        if half_life_buckets <= 0:
            raise ValueError(f"half_life_buckets: {half_life_buckets} must be positive")
        self.width = width
        self.half_life_buckets = half_life_buckets
        self._cells = array("f", [0.0]) * width
        self._mentions = 0.0  # decayed number of mentions learned
        self._scale = 1.0  # lazy decay: true count = cell * scale
        self._decay = 0.5 ** (1.0 / half_life_buckets)

    def __setstate__(self, state: dict[str, Any]) -> None:
        cells = state["_cells"]  # no room to grow (an unpickled array has a fifth more)
        self.__dict__.update(state, _cells=array(cells.typecode, cells))

    def _cell(self, term: str) -> int:
        return zlib.crc32(term.encode("utf-8")) % self.width

    def frequency(self, term: str) -> float:
        """Usual share of mentions containing ``term`` (an upper estimate: cells are shared)."""
        if self._mentions <= 0:
            return 0.0
        return self._cells[self._cell(term)] * self._scale / self._mentions

    def learn(self, terms: Mapping[str, int], mentions: int) -> None:
        """Learn one bucket: its term counts and how many mentions it held."""
        self._scale *= self._decay
        self._mentions = self._mentions * self._decay + mentions
        if self._scale < 1e-6:  # fold the lazy decay into the cells before it underflows
            for i in range(self.width):
                self._cells[i] *= self._scale
            self._scale = 1.0
        inc = 1.0 / self._scale
        if _termsketch is not None and type(terms) in (dict, Counter):
            _termsketch.add_counts(self._cells, terms, self.width, inc)
            return
        cells, width, crc32 = self._cells, self.width, zlib.crc32
        for term, count in terms.items():  # _cell(), inline: every term of every calm bucket
            cells[crc32(term.encode("utf-8")) % width] += count * inc

    def emerging(self, recent: Mapping[str, int], mentions: int) -> tuple[str, float]:
        """The term of a recent window least explained by the usual frequencies, with its surprise.

        The surprise is ``-log10`` of the Poisson tail of the term's count given its usual share of
        ``mentions`` (smoothed as in :meth:`surging`); only terms seen at least 3 times count. A
        topic that a stream's people do not usually talk about scores tens; everyday terms score
        below 10 on the scenario model.
        """
        if mentions <= 0:
            return "", 0.0
        prior = 1.0 / max(self._mentions, 50.0)
        best, best_term = 0.0, ""
        for term, count in recent.items():
            if count < 3:
                continue
            mean = (self.frequency(term) + prior) * mentions
            if count < mean + 2.0:
                continue
            s = poisson_surprise(count, mean)
            if s > best or (s == best and term < best_term):
                best, best_term = s, term
        return best_term, best

    def surging(self, recent: Mapping[str, int], mentions: int, top: int = 5) -> list[dict[str, Any]]:
        """Terms of a recent window ranked by lift over the usual frequency (count >= 3)."""
        if mentions <= 0:
            return []
        prior = 1.0 / max(self._mentions, 50.0)  # smoothing: an unseen term is "rare", not "never"
        ranked = []
        for term, count in recent.items():
            if count < 3:
                continue
            share = count / mentions
            lift = share / (self.frequency(term) + prior)
            if lift >= 2.0:
                ranked.append((lift * min(1.0, count / 10.0), lift, term, count))
        ranked.sort(reverse=True)
        return [
            {"term": term, "count": count, "lift": round(lift, 1)} for _, lift, term, count in ranked[:top]
        ]


def poisson_surprise(count: float, mean: float) -> float:
    """``-log10 P(X >= count)`` for ``X ~ Poisson(mean)``; 0 where ``count <= mean``.

    >>> round(poisson_surprise(10, 1.0), 1)
    7.0
    """
    if count <= mean or count <= 0:
        return 0.0
    p = float(gammainc(count, max(mean, 1e-12)))  # regularised lower gamma: P(X >= count), integer count
    return -math.log10(max(p, 1e-300))


def count_terms(texts: Iterable[list[str]]) -> Counter[str]:
    """Document frequency of terms over tokenised texts (a term counts once per text)."""
    counts: Counter[str] = Counter()
    for terms in texts:
        counts.update(set(terms))
    return counts
