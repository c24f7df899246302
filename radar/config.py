"""The radar's configuration: a TOML file, validated with clear messages.

Every section is optional; an empty file (or no file) gives a radar that creates streams from
the ``stream`` field of mentions. A typo in a key is an error, not a silent default.

>>> config = RadarConfig.model_validate(
...     {"streams": {"acme": {"keywords": ["Acme Air"], "handles": ["@AcmeAir"],
...                           "detection": {"warning_ratio": 3.0}}}})
>>> config.detection_for("acme").warning_ratio, config.detection_for("other").warning_ratio
(3.0, 2.0)
>>> config.streams["acme"].handles
('@acmeair',)
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

#: Stream names: lower-case letters, digits, ``-`` and ``_`` (they become metric labels and URLs).
STREAM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: Environment variable naming the configuration file when ``--config`` is not given.
CONFIG_ENV = "RADAR_CONFIG"


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message lists every problem, one per line."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RadarSettings(_Section):
    """``[radar]``: windows, bounds and state."""

    bucket_seconds: int = Field(default=60, ge=10, le=3600, description="event-time bucket size")
    allowed_lateness_seconds: int = Field(
        default=120, ge=0, le=86_400, description="how late a mention may arrive"
    )
    max_streams: int = Field(default=1000, ge=1, le=100_000, description="bound on the number of streams")
    auto_streams: bool = Field(default=True, description="create streams named by mentions' `stream` field")
    state_dir: str = Field(default="radar-state", description="journal and checkpoints")
    checkpoint_interval_seconds: int = Field(default=60, ge=1, le=86_400)
    dedup_capacity: int = Field(default=1_000_000, ge=1000, le=100_000_000, description="ids remembered")

    @model_validator(mode="after")
    def _bucket_divides_day(self) -> Self:
        if 86_400 % self.bucket_seconds:
            raise ValueError(f"bucket_seconds: {self.bucket_seconds} must divide a day (86400) evenly")
        return self


class HttpSettings(_Section):
    """``[http]``: the ingest API and ``/metrics``."""

    host: str = "127.0.0.1"
    port: int = Field(default=8462, ge=1, le=65_535)
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_batch_records: int = Field(default=10_000, ge=1)


class DetectionSettings(_Section):
    """``[detection]``: the detectors' knobs (DESIGN §4); streams may override any of them."""

    warmup_hours: float = Field(default=24.0, ge=0, le=24 * 28, description="learning time of a new stream")
    surprise: float = Field(default=5.0, gt=0, description="-log10 tail probability that triggers")
    watch_ratio: float = Field(default=1.5, ge=1.0)
    warning_ratio: float = Field(default=2.0, ge=1.0)
    crisis_ratio: float = Field(default=4.0, ge=1.0)
    min_excess: float = Field(default=5.0, ge=0, description="mentions above normal needed to alert")
    negative_threshold: float = Field(
        default=-0.05, ge=-1, le=1, description="sentiment at or below: negative"
    )
    positive_threshold: float = Field(
        default=0.05, ge=-1, le=1, description="sentiment at or above: positive"
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.watch_ratio < self.warning_ratio < self.crisis_ratio:
            raise ValueError(
                f"need watch_ratio < warning_ratio < crisis_ratio, got "
                f"{self.watch_ratio} / {self.warning_ratio} / {self.crisis_ratio}"
            )
        if not self.negative_threshold < self.positive_threshold:
            raise ValueError(
                f"need negative_threshold < positive_threshold, got "
                f"{self.negative_threshold} / {self.positive_threshold}"
            )
        return self


class EscalationSettings(_Section):
    """``[escalation]``: how incidents move between levels."""

    deescalate_after_minutes: float = Field(
        default=15, ge=0, description="a level must hold this long to drop"
    )
    quiet_period_minutes: float = Field(default=60, ge=0, description="calm time before an incident resolves")
    silent_after_minutes: float = Field(default=30, gt=0, description="silence before a source is silent")


_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


class StoreSettings(_Section):
    """``[store]``: the incident store (incidents, timelines, samples)."""

    url: str = Field(
        default="", description="SQLAlchemy URL ($RADAR_STORE_URL); empty: STATE_DIR/incidents.sqlite3"
    )
    retention_days: float = Field(
        default=90, gt=0, description="samples of incidents resolved longer ago are dropped"
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError(f"{value!r}: use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
        return value


class JetstreamSettings(_Section):
    """``[sources.jetstream]``: Bluesky's Jetstream firehose (posts matched against the streams here)."""

    enabled: bool = False
    url: str = Field(default="wss://jetstream2.us-east.bsky.network/subscribe", description="websocket URL")
    profile_api: str = Field(default="https://public.api.bsky.app", description="for follower counts")
    replies: bool = Field(default=True, description="count replies as mentions")
    quotes: bool = Field(default=True, description="count quote posts as mentions")
    resume_overlap_seconds: float = Field(default=5.0, ge=0, le=600, description="replayed on resume")


class MastodonSettings(_Section):
    """``[sources.mastodon]``: polled hashtag timelines (and searches, with a token) of one server."""

    enabled: bool = False
    base_url: str = Field(default="https://mastodon.social", description="the server")
    tags: tuple[str, ...] = Field(default=(), description="hashtags whose public timelines are polled")
    search: tuple[str, ...] = Field(default=(), description="search queries (need $MASTODON_TOKEN)")
    poll_seconds: float = Field(default=60.0, ge=5, le=3600)

    @model_validator(mode="after")
    def _something_to_poll(self) -> Self:
        if self.enabled and not self.tags and not self.search:
            raise ValueError("enabled, but no tags and no search queries: nothing to poll")
        if not self.base_url.startswith(("https://", "http://")):
            raise ValueError(f"base_url: {self.base_url!r} is not an http(s) URL")
        return self


class SourcesSettings(_Section):
    """``[sources]``: live sources run by ``radar run``."""

    silent_after_minutes: float = Field(
        default=10, gt=0, description="no events this long (or disconnected): the source is silent"
    )
    jetstream: JetstreamSettings = JetstreamSettings()
    mastodon: MastodonSettings = MastodonSettings()


#: Mention fields a webhook mapping may fill.
MENTION_FIELDS = (
    "id", "created_at", "text", "source", "author", "author_followers", "reshares", "likes", "lang", "url",
    "stream", "sentiment",
)  # fmt: skip


class WebhookSettings(_Section):
    """``[webhooks.NAME]``: how a listening platform's pushed JSON maps to mentions (see the README)."""

    records: str = Field(default="", description="dotted path to the list of records ('' = the body)")
    fields: dict[str, str] = Field(description="mention field -> dotted path in a record")
    constants: dict[str, Any] = Field(default_factory=dict, description="fields set to a fixed value")
    id_prefix: str = Field(default="", description="prepended to ids (keeps platforms' ids apart)")
    sentiment_scale: float = Field(default=0.0, ge=0, description="the platform's most positive score")
    sentiment_labels: dict[str, float] = Field(default_factory=dict, description="label -> -1..1")

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(MENTION_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown mention field(s) {', '.join(unknown)} (known: {', '.join(MENTION_FIELDS)})"
            )
        missing = [f for f in ("id", "created_at", "text") if f not in value]
        if missing:
            raise ValueError(f"map {', '.join(missing)}: every mention needs them")
        return value

    @field_validator("constants")
    @classmethod
    def _constants(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(MENTION_FIELDS))
        if unknown:
            raise ValueError(f"unknown mention field(s) {', '.join(unknown)}")
        return value

    @field_validator("sentiment_labels")
    @classmethod
    def _labels(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [k for k, v in value.items() if not -1.0 <= v <= 1.0]
        if bad:
            raise ValueError(f"sentiment_labels: {', '.join(bad)} must map to -1..1")
        return {k.lower(): v for k, v in value.items()}


class SlackRoute(_Section):
    """``[streams.NAME.slack]``: where one stream's alerts go (the ``[slack]`` defaults otherwise)."""

    channel: str = Field(default="", description="channel id (C...) or name")
    oncall_group: str = Field(default="", description="user group id (S...) mentioned on crisis")


class SlackSettings(_Section):
    """``[slack]``: Slack alerts (on when ``$SLACK_BOT_TOKEN`` is set; see the README)."""

    channel: str = Field(default="", description="default channel id (C...) or name")
    oncall_group: str = Field(default="", description="default on-call user group id (S...)")
    api_url: str = Field(default="https://slack.com/api/", description="Web API base ($SLACK_API_URL)")
    reminder_minutes: float = Field(default=30, gt=0, description="re-announce unacknowledged crises")
    quiet_hours: str = Field(default="", description="HH:MM-HH:MM: warnings wait, crises do not")
    timezone: str = Field(default="UTC", description="of quiet_hours (IANA name)")
    incident_url: str = Field(default="", description="link to an incident page; {id} and {stream}")
    dashboard_url: str = Field(default="", description="link to the dashboard; {stream}")
    chart_hours: float = Field(default=4, gt=0, le=4, description="hours shown on the chart")
    max_per_second: float = Field(default=1.0, gt=0, le=10, description="messages per channel")

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        if not value:
            return value
        start, sep, end = value.partition("-")
        if not sep or not _CLOCK.match(start.strip()) or not _CLOCK.match(end.strip()):
            raise ValueError(f"{value!r} is not HH:MM-HH:MM (e.g. 22:00-07:00)")
        if start.strip() == end.strip():
            raise ValueError(f"{value!r} starts and ends at the same time")
        return f"{start.strip()}-{end.strip()}"

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Paris)") from None
        return value

    @field_validator("incident_url", "dashboard_url")
    @classmethod
    def _template(cls, value: str) -> str:
        try:
            value.format(id="x", stream="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"{value!r} may use only {{id}} and {{stream}} ({exc})") from None
        return value

    def route(self, stream: StreamSettings | None) -> SlackRoute:
        """Where ``stream``'s alerts go: its own route over these defaults."""
        own = stream.slack if stream is not None and stream.slack is not None else SlackRoute()
        return SlackRoute(
            channel=own.channel or self.channel, oncall_group=own.oncall_group or self.oncall_group
        )


def _words(values: Any, prefix: str, what: str) -> tuple[str, ...]:
    out: list[str] = []
    for raw in values:
        value = raw.strip().lower()
        if prefix and value.startswith(prefix):
            value = value[1:]
        if not value or not re.search(r"\w", value):
            raise ValueError(f"{what}: {raw!r} has no letters or digits")
        out.append(prefix + value)
    return tuple(dict.fromkeys(out))


class StreamSettings(_Section):
    """``[streams.NAME]``: one brand or topic, its match rules and overrides."""

    display_name: str = ""
    keywords: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    handles: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    detection: dict[str, Any] = Field(default_factory=dict, description="overrides of [detection]")
    slack: SlackRoute | None = None

    @field_validator("keywords", "exclude", mode="before")
    @classmethod
    def _phrases(cls, value: Any, info: Any) -> Any:
        return _words(value, "", info.field_name) if isinstance(value, list | tuple) else value

    @field_validator("hashtags", mode="before")
    @classmethod
    def _hashtags(cls, value: Any) -> Any:
        return _words(value, "#", "hashtags") if isinstance(value, list | tuple) else value

    @field_validator("handles", mode="before")
    @classmethod
    def _handles(cls, value: Any) -> Any:
        return _words(value, "@", "handles") if isinstance(value, list | tuple) else value

    @field_validator("detection")
    @classmethod
    def _known_overrides(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(DetectionSettings.model_fields))
        if unknown:
            raise ValueError(f"unknown detection setting(s): {', '.join(unknown)}")
        return value

    @property
    def has_rules(self) -> bool:
        """True when the stream matches mentions by content (not only by their ``stream`` field)."""
        return bool(self.keywords or self.hashtags or self.handles)


class RadarConfig(_Section):
    """The whole configuration."""

    radar: RadarSettings = RadarSettings()
    http: HttpSettings = HttpSettings()
    detection: DetectionSettings = DetectionSettings()
    escalation: EscalationSettings = EscalationSettings()
    slack: SlackSettings = SlackSettings()
    store: StoreSettings = StoreSettings()
    sources: SourcesSettings = SourcesSettings()
    webhooks: dict[str, WebhookSettings] = Field(default_factory=dict)
    streams: dict[str, StreamSettings] = Field(default_factory=dict)

    @field_validator("streams")
    @classmethod
    def _stream_names(cls, value: dict[str, StreamSettings]) -> dict[str, StreamSettings]:
        for name in value:
            if not STREAM_NAME.match(name):
                raise ValueError(
                    f"stream name {name!r}: use 1-64 lower-case letters, digits, '-' or '_', starting with "
                    "a letter or digit"
                )
        return value

    @model_validator(mode="after")
    def _overrides_valid(self) -> Self:
        for name in self.streams:
            self.detection_for(name)  # raises on overrides that break the ordering rules
        if len(self.streams) > self.radar.max_streams:
            raise ValueError(
                f"{len(self.streams)} streams configured but radar.max_streams is {self.radar.max_streams}"
            )
        return self

    def slack_route(self, stream: str) -> SlackRoute:
        """Where ``stream``'s Slack alerts go."""
        return self.slack.route(self.streams.get(stream))

    def detection_for(self, stream: str) -> DetectionSettings:
        """The detection settings of ``stream``: the defaults with its overrides applied."""
        settings = self.streams.get(stream)
        if settings is None or not settings.detection:
            return self.detection
        try:
            return DetectionSettings.model_validate({**self.detection.model_dump(), **settings.detection})
        except ValidationError as exc:
            problems = "; ".join(_describe(e) for e in exc.errors(include_url=False))
            raise ValueError(f"streams.{stream}.detection: {problems}") from None


def _describe(err: Any) -> str:
    where = ".".join(str(p) for p in err["loc"])
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def parse_config(text: str, source: str = "<config>") -> RadarConfig:
    """Parse TOML ``text``; raises :class:`ConfigError` listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        return RadarConfig.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            msg = _describe(err)
            if err["type"] == "extra_forbidden":
                msg = f"{'.'.join(str(p) for p in err['loc'])}: unknown setting (check the spelling)"
            lines.append(f"{source}: {msg}")
        raise ConfigError("\n".join(lines)) from None


def load_config(path: Path | str | None = None) -> RadarConfig:
    """Read the configuration file ``path`` (or ``$RADAR_CONFIG``; the defaults when neither)."""
    if path is None:
        path = os.environ.get(CONFIG_ENV) or None
    if path is None:
        return RadarConfig()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such configuration file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text") from None
    return parse_config(text, str(p))


#: The environment variable that overrides ``[store] url``.
STORE_URL_ENV = "RADAR_STORE_URL"


def store_url(config: RadarConfig) -> str:
    """The incident store's URL: ``$RADAR_STORE_URL`` (checked as ``[store] url`` is) or the config's;
    empty for the default (a SQLite file in the state directory). :class:`ConfigError` when bad."""
    value = os.environ.get(STORE_URL_ENV, "").strip()
    if not value:
        return config.store.url
    try:
        return StoreSettings(url=value).url
    except ValidationError as exc:
        reason = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise ConfigError(f"${STORE_URL_ENV}: {reason}") from None


def check_config_report(path: Path | str) -> tuple[bool, str]:
    """Validate ``path``; returns whether it is usable and a report for people."""
    try:
        config = load_config(path)
        url = store_url(config)
    except ConfigError as exc:
        return False, f"{path}: INVALID\n{exc}"
    lines = [f"{path}: OK"]
    r = config.radar
    lines.append(
        f"  buckets of {r.bucket_seconds} s, lateness {r.allowed_lateness_seconds} s, "
        f"max {r.max_streams} streams ({'auto-created' if r.auto_streams else 'configured only'})"
    )
    sl = config.slack
    if sl.channel or any(st.slack and st.slack.channel for st in config.streams.values()):
        quiet = f", quiet hours {sl.quiet_hours} {sl.timezone}" if sl.quiet_hours else ""
        group = f", crises mention {sl.oncall_group}" if sl.oncall_group else ", no on-call group"
        lines.append(
            f"  slack: alerts to {sl.channel or '(per stream only)'}{group}, reminders every "
            f"{sl.reminder_minutes:g} min{quiet} (sent when SLACK_BOT_TOKEN is set)"
        )
    else:
        lines.append("  slack: no channel configured (alerts go to the console)")
    if not config.streams:
        lines.append("  no streams configured: mentions must carry a `stream` field")
    for name, s in config.streams.items():
        rules = [*s.keywords, *s.hashtags, *s.handles]
        excl = f"; excluding {', '.join(s.exclude)}" if s.exclude else ""
        over = f"; overrides {', '.join(sorted(s.detection))}" if s.detection else ""
        if s.slack and (s.slack.channel or s.slack.oncall_group):
            route = config.slack_route(name)
            over += f"; slack {route.channel or '-'} {route.oncall_group}".rstrip()
        what = ", ".join(rules) if rules else "only mentions that name it in `stream`"
        lines.append(f"  stream {name}: {what}{excl}{over}")
    origin = f" (${STORE_URL_ENV})" if os.environ.get(STORE_URL_ENV, "").strip() else ""
    lines.append(f"  incident store: {_without_password(url) or 'STATE_DIR/incidents.sqlite3'}{origin}")
    return True, "\n".join(lines)


def _without_password(url: str) -> str:
    """``url`` with the password of its user part masked (a report may be pasted anywhere)."""
    return re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", url)
