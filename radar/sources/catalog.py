"""The live sources the radar knows, built from ``[sources]`` in the configuration.

Each enabled source gets the radar's :class:`~radar.matcher.Matcher` (streams are matched on our side:
a firehose carries far more than the configured brands) and is named after the platform, which is
also the ``source`` field of its mentions: ``bluesky`` (Jetstream) and ``mastodon``.
"""

from __future__ import annotations

import os

from radar.config import RadarConfig
from radar.matcher import Matcher
from radar.sources.source import Source

#: The environment variable holding a Mastodon access token (enables searches).
MASTODON_TOKEN_ENV = "MASTODON_TOKEN"


def build_sources(config: RadarConfig) -> list[Source]:
    """The enabled live sources (none by default)."""
    settings = config.sources
    matcher = Matcher(config)
    sources: list[Source] = []
    if settings.jetstream.enabled:
        from radar.sources.jetstream import JetstreamSource

        sources.append(JetstreamSource(settings.jetstream, matcher, name="bluesky"))
    if settings.mastodon.enabled:
        from radar.sources.mastodon import MastodonSource

        token = os.environ.get(MASTODON_TOKEN_ENV, "").strip() or None
        sources.append(MastodonSource(settings.mastodon, matcher, name="mastodon", token=token))
    return sources
