"""Which streams a mention belongs to, and which streams the radar admits.

:class:`Matcher` applies the configured rules: keywords (words or phrases), hashtags and handles,
case-insensitive and word-boundary aware ("acme" matches "ACME's" and "#acme" but not "acmeville"),
minus exclusions. A mention that names its ``stream`` is trusted and not matched.
:class:`StreamRegistry` bounds the number of streams (``max_streams``).

>>> from radar.config import RadarConfig
>>> from radar.mention import parse_mention
>>> config = RadarConfig.model_validate({"streams": {
...     "acme": {"keywords": ["Acme Air"], "handles": ["@AcmeAir"], "exclude": ["acme air fryer"]}}})
>>> m = Matcher(config)
>>> def mention(text):
...     return parse_mention({"id": "1", "created_at": "2026-01-01T00:00:00Z", "text": text}, None)
>>> m.assign(mention("Delayed again on ACME AIR, thanks @acmeair.")), m.assign(mention("my acme air fryer"))
(('acme',), ())
>>> m.assign(mention("AcmeAirways")), m.own_terms("acme")
((), ['acme', 'acmeair', 'air'])
>>> m.assign(mention("mail refunds@acmeair.example")), m.assign(mention("cc @AcmeAir@mastodon.example"))
((), ('acme',))
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from radar.config import RadarConfig, StreamSettings
from radar.mention import Mention

# A token: a handle or hashtag (with its prefix; dots and dashes allowed inside handles), or a word.
# A prefix right after a word character is not one ("support@acmeair.com" is an e-mail address, not a
# mention of @acmeair): its words are words.
_TOKEN = re.compile(r"(?<![\w@#])[@#][\w.-]*\w|\w+", re.UNICODE)


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class _Rule:
    """One phrase: matched on the token sequence (``words``) or as a hashtag/handle token."""

    __slots__ = ("exclude", "stream", "tokens")

    def __init__(self, stream: str, tokens: tuple[str, ...], exclude: bool) -> None:
        self.stream = stream
        self.tokens = tokens
        self.exclude = exclude


class Matcher:
    """Assigns streams to mentions by the configured rules (see the module doc)."""

    def __init__(self, config: RadarConfig) -> None:
        # every token that can start a match -> (rule, whether it is the rule's word behind a # or @)
        self._by_key: dict[str, list[tuple[_Rule, bool]]] = {}
        self._own: dict[str, list[str]] = {}
        for name, stream in config.streams.items():
            self._own[name] = sorted({w for p in _phrases(stream) for w in _word_tokens(p)})
            for phrase in _phrases(stream):
                self._add(name, phrase, exclude=False)
            for phrase in stream.exclude:
                self._add(name, phrase, exclude=True)
        self._keys = frozenset(self._by_key)

    def _add(self, stream: str, phrase: str, exclude: bool) -> None:
        tokens = tuple(_tokens(phrase)) if phrase[0] not in "@#" else (phrase,)
        if not tokens:
            return
        rule = _Rule(stream, tokens, exclude)
        first = tokens[0]
        self._by_key.setdefault(first, []).append((rule, False))
        if first[0] not in "@#":  # keywords also match inside hashtags and handles ("acme" in "#acme")
            for prefix in "#@":
                self._by_key.setdefault(prefix + first, []).append((rule, True))

    def assign(self, mention: Mention) -> tuple[str, ...]:
        """The streams of ``mention``: its own ``stream`` field if any, else the matching rules."""
        if mention.streams:
            return mention.streams
        if not self._keys:
            return ()
        return self.match(mention.text)

    def match(self, text: str) -> tuple[str, ...]:
        """Streams whose rules match ``text`` and whose exclusions do not."""
        raw = _tokens(text)
        found = self._keys.intersection(raw)  # the common case (no rule starts here) stays in C
        if not found:
            return ()
        hits: dict[str, bool] = {}
        bare: list[str] | None = None
        for key in sorted(found):  # sorted: the streams come out in the same order every time
            for rule, via_prefix in self._by_key[key]:
                if len(rule.tokens) > 1:
                    if via_prefix:
                        if bare is None:
                            bare = [t[1:] if t[0] in "@#" else t for t in raw]
                        seq = bare
                    else:
                        seq = raw
                    if not _contains(seq, rule.tokens):
                        continue
                hits[rule.stream] = hits.get(rule.stream, False) or rule.exclude
        return tuple(name for name, excluded in hits.items() if not excluded)

    def own_terms(self, stream: str) -> list[str]:
        """The words of the stream's own rules (never news in its "surging terms")."""
        return list(self._own.get(stream, ()))


def _contains(seq: list[str], phrase: tuple[str, ...]) -> bool:
    """Whether ``phrase`` occurs as consecutive tokens of ``seq``."""
    k, first = len(phrase), phrase[0]
    return any(tok == first and tuple(seq[i : i + k]) == phrase for i, tok in enumerate(seq))


def _phrases(stream: StreamSettings) -> tuple[str, ...]:
    return (*stream.keywords, *stream.hashtags, *stream.handles)


def _word_tokens(phrase: str) -> list[str]:
    return [t.lstrip("@#") for t in _tokens(phrase)]


class StreamRegistry:
    """The streams the radar admits: all configured ones, plus new ones up to ``max_streams``.

    >>> reg = StreamRegistry({}, max_streams=2, auto=True)
    >>> [reg.admit(n) for n in ("a", "b", "c", "a")]
    [True, True, False, True]
    """

    def __init__(self, configured: Mapping[str, object], max_streams: int, auto: bool) -> None:
        self.known: set[str] = set()
        self.update(configured, max_streams, auto)

    def update(self, configured: Mapping[str, object], max_streams: int, auto: bool) -> None:
        """Apply a (new) configuration; streams already known stay admitted."""
        self.configured = frozenset(configured)
        self.max_streams = max_streams
        self.auto = auto
        self.known |= self.configured

    def admit(self, name: str) -> bool:
        """Whether mentions of ``name`` are taken (creating the stream if there is room)."""
        if name in self.known:
            return True
        if not self.auto or len(self.known) >= self.max_streams:
            return False
        self.known.add(name)
        return True
