"""Binomial tail surprise: how unlikely is a share of negatives, given the usual share.

Of ``n`` mentions, how surprising is it that ``k`` or more are negative when a mention is
negative with probability ``p``? ``P(X >= k) = I_p(k, n - k + 1)`` (a regularised incomplete
beta function), which also takes the non-integer counts of author-weighted buckets.

>>> round(upper_surprise(12, 26, 0.2), 2)   # -log10 P(X >= 12 | n 26, p 0.2)
2.63
>>> upper_surprise(3, 26, 0.2)              # at or below the usual share: no surprise
0.0
"""

from __future__ import annotations

import math

from scipy.special.cython_special import betainc

from detectors.negbin import MAX_SURPRISE

_TINY = 10.0**-MAX_SURPRISE


def upper_surprise(k: float, n: float, p: float) -> float:
    """``-log10 P(X >= k)`` for ``X ~ Binomial(n, p)``; 0 where ``k <= n * p``."""
    if n <= 0 or k <= n * p:
        return 0.0
    if p <= 0.0:
        return MAX_SURPRISE
    k = min(k, n)
    tail = betainc(float(k), n - k + 1.0, float(min(p, 1.0)))  # cython_special: doubles only
    return -math.log10(max(tail, _TINY)) if tail == tail else 0.0
