"""Sentiment: a score in [-1, 1] per mention text, and its negative/neutral/positive class.

:class:`SentimentScorer` is the plug-in point (one method); :class:`VaderScorer` is the default.
A mention's own ``sentiment`` field, when present, is used instead of any scorer.

>>> scorer = VaderScorer()
>>> scorer.score("Worst airline ever, cancelled my flight again") < 0 < scorer.score("Great crew, thanks!")
True
>>> scorer.score("@united my flight was cancelled") == scorer.score("my flight was cancelled") < 0
True
>>> classify(-0.4, -0.05, 0.05), classify(0.0, -0.05, 0.05), classify(0.3, -0.05, 0.05)
(-1, 0, 1)
"""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


@runtime_checkable
class SentimentScorer(Protocol):
    """Scores a text from -1 (very negative) to 1 (very positive)."""

    def score(self, text: str) -> float:
        """The sentiment of ``text`` in [-1, 1]."""
        ...


#: Handles and links: names and addresses, not words (VADER would read ``@united`` as praise).
_NOT_WORDS = re.compile(r"(?<![\w@])@\w+|https?://\S+")


class VaderScorer:
    """VADER's compound score (rule-based, tuned on social media text, English).

    Handles and links are removed first; hashtags stay (``#fail`` is a word of the post).
    """

    def __init__(self) -> None:
        self._analyzer = SentimentIntensityAnalyzer()

    def __reduce__(self) -> tuple[type[VaderScorer], tuple[()]]:
        return (VaderScorer, ())  # rebuilt from its packaged lexicon, not shipped as a pickle

    def score(self, text: str) -> float:
        """The VADER compound score of ``text``."""
        if "@" in text or "://" in text:
            text = _NOT_WORDS.sub(" ", text)
        return float(self._analyzer.polarity_scores(text)["compound"])


def classify(score: float, negative_threshold: float, positive_threshold: float) -> int:
    """-1 when ``score`` is at or below ``negative_threshold``, 1 at or above ``positive_threshold``."""
    if score <= negative_threshold:
        return -1
    if score >= positive_threshold:
        return 1
    return 0
