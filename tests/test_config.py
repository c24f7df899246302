"""The TOML configuration (:mod:`radar.config`) and ``radar check-config``.

Unknown keys are errors naming the key, per-stream ``detection`` overrides reach the stream's
detector, ``$RADAR_CONFIG`` is read when no path is given, and ``examples/radar.toml`` is valid and
shows the defaults. The command line runs as a real subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from radar.config import (
    CONFIG_ENV,
    ConfigError,
    DetectionSettings,
    EscalationSettings,
    HttpSettings,
    RadarConfig,
    RadarSettings,
    check_config_report,
    load_config,
    parse_config,
    store_url,
)
from radar.mention import parse_mention
from radar.pipeline import Pipeline
from radar.sentiment import VaderScorer

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = REPO_ROOT / "examples" / "radar.toml"


def radar_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != CONFIG_ENV}
    return subprocess.run(
        [sys.executable, "-m", "radar.cli", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        cwd=cwd or REPO_ROOT,
        timeout=60,
        check=False,
    )


# -- unknown keys ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[radar]\nbucket_secs = 60\n", "f.toml: radar.bucket_secs: unknown setting (check the spelling)"),
        ("[radr]\nbucket_seconds = 60\n", "f.toml: radr: unknown setting (check the spelling)"),
        ("verbose = true\n", "f.toml: verbose: unknown setting (check the spelling)"),
        ("[http]\nprot = 80\n", "f.toml: http.prot: unknown setting (check the spelling)"),
        ("[detection]\nsurprize = 4\n", "f.toml: detection.surprize: unknown setting (check the spelling)"),
        (
            "[escalation]\nquiet_minutes = 5\n",
            "f.toml: escalation.quiet_minutes: unknown setting (check the spelling)",
        ),
        (
            '[streams.acme]\nkeyword = ["acme"]\n',
            "f.toml: streams.acme.keyword: unknown setting (check the spelling)",
        ),
        (
            "[streams.acme]\ndetection = { crisis_ration = 5.0, warmup = 1 }\n",
            "f.toml: streams.acme.detection: unknown detection setting(s): crisis_ration, warmup",
        ),
    ],
)
def test_unknown_keys_are_errors_naming_the_key(toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(toml, "f.toml")
    assert str(info.value) == message


def test_every_problem_is_listed_one_per_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("[radar]\nbucket_secs = 60\nmax_streams = 0\n[http]\nprot = 1\n", "f.toml")
    assert sorted(str(info.value).splitlines()) == [
        "f.toml: http.prot: unknown setting (check the spelling)",
        "f.toml: radar.bucket_secs: unknown setting (check the spelling)",
        "f.toml: radar.max_streams: Input should be greater than or equal to 1",
    ]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("x = \n", "f.toml: not valid TOML: Invalid value (at line 1, column 5)"),
        (
            "[radar]\nbucket_seconds = 70\n",
            "f.toml: radar: bucket_seconds: 70 must divide a day (86400) evenly",
        ),
        (
            '[http]\nport = "x"\n',
            "f.toml: http.port: Input should be a valid integer, unable to parse string as an integer",
        ),
        (
            "[detection]\nwatch_ratio = 3\n",
            "f.toml: detection: need watch_ratio < warning_ratio < crisis_ratio, got 3.0 / 2.0 / 4.0",
        ),
        (
            "[streams.Acme]\n",
            "f.toml: streams: stream name 'Acme': use 1-64 lower-case letters, digits, '-' or '_', starting "
            "with a letter or digit",
        ),
        (
            '[streams.acme]\nkeywords = ["!!"]\n',
            "f.toml: streams.acme.keywords: keywords: '!!' has no letters or digits",
        ),
        (
            "[radar]\nmax_streams = 1\n[streams.a]\n[streams.b]\n",
            "f.toml: 2 streams configured but radar.max_streams is 1",
        ),
    ],
)
def test_invalid_values_are_explained(toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(toml, "f.toml")
    assert str(info.value) == message


def test_empty_file_gives_the_defaults() -> None:
    assert parse_config("") == RadarConfig()
    assert RadarConfig().streams == {}


def test_match_rules_are_normalised() -> None:
    config = parse_config(
        '[streams.acme]\nkeywords = ["Acme Air", "acme air"]\nhashtags = ["AcmeAir", "#ACMEAIR"]\n'
        'handles = ["AcmeAir", "@AcmeAirHelp"]\nexclude = ["Acme Air Fryer"]\n'
    )
    acme = config.streams["acme"]
    assert acme.keywords == ("acme air",)
    assert acme.hashtags == ("#acmeair",)
    assert acme.handles == ("@acmeair", "@acmeairhelp")
    assert acme.exclude == ("acme air fryer",)


# -- per-stream overrides ----------------------------------------------------------------------------
OVERRIDES = """
[detection]
warmup_hours = 12
surprise = 6.0

[streams.acme]
keywords = ["acme"]
detection = { warmup_hours = 48, crisis_ratio = 5.0, negative_threshold = -0.3 }

[streams.nimbus]
keywords = ["nimbus"]
"""


def test_per_stream_overrides_apply_on_top_of_the_detection_section() -> None:
    config = parse_config(OVERRIDES)
    acme, nimbus = config.detection_for("acme"), config.detection_for("nimbus")
    assert (acme.warmup_hours, acme.surprise, acme.crisis_ratio, acme.negative_threshold) == (
        48.0,
        6.0,
        5.0,
        -0.3,
    )
    assert (nimbus.warmup_hours, nimbus.surprise, nimbus.crisis_ratio, nimbus.negative_threshold) == (
        12.0,
        6.0,
        4.0,
        -0.05,
    )
    assert config.detection_for("not-configured") == config.detection


def test_overrides_reach_the_streams_detector() -> None:
    config = parse_config(OVERRIDES)
    pipeline = Pipeline(config, VaderScorer())
    for i, text in enumerate(["acme is down", "nimbus is down"]):
        mention = parse_mention({"id": str(i), "created_at": "2026-03-04T09:00:00Z", "text": text}, None)
        assert pipeline.ingest(mention) == "accepted"
    acme, nimbus = pipeline.streams["acme"], pipeline.streams["nimbus"]
    assert (acme.detector.warmup, acme.detector.crisis_ratio, acme.detector.surprise) == (
        48 * 3600.0,
        5.0,
        6.0,
    )
    assert (nimbus.detector.warmup, nimbus.detector.crisis_ratio) == (12 * 3600.0, 4.0)
    assert (acme.negative_threshold, nimbus.negative_threshold) == (-0.3, -0.05)


def test_an_override_that_breaks_the_ordering_names_the_stream() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("[streams.acme]\ndetection = { crisis_ratio = 1.5 }\n", "f.toml")
    assert str(info.value) == (
        "f.toml: streams.acme.detection: need watch_ratio < warning_ratio < crisis_ratio, got 1.5 / 2.0 / 1.5"
    )
    with pytest.raises(
        ConfigError, match=r"^f\.toml: streams\.acme\.detection: warmup_hours: Input should be"
    ):
        parse_config('[streams.acme]\ndetection = { warmup_hours = "x" }\n', "f.toml")


# -- where the file comes from: a path, $RADAR_CONFIG, or nothing ------------------------------------
def test_load_config_reads_radar_config_when_no_path_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_env = tmp_path / "env.toml"
    from_env.write_text("[radar]\nbucket_seconds = 300\n", encoding="utf-8")
    explicit = tmp_path / "explicit.toml"
    explicit.write_text("[radar]\nbucket_seconds = 120\n", encoding="utf-8")
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    assert load_config() == RadarConfig()
    monkeypatch.setenv(CONFIG_ENV, str(from_env))
    assert load_config().radar.bucket_seconds == 300
    assert load_config(explicit).radar.bucket_seconds == 120  # an explicit path wins
    monkeypatch.setenv(CONFIG_ENV, "")
    assert load_config() == RadarConfig()  # set but empty: as if unset
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError) as info:
        load_config()
    assert str(info.value) == f"{tmp_path / 'missing.toml'}: no such configuration file"


def test_the_command_line_uses_radar_config(tmp_path: Path) -> None:
    mentions = tmp_path / "m.jsonl"
    mentions.write_text(
        json.dumps({"id": "1", "created_at": "2026-03-04T09:00:00Z", "text": "ACME's outage again"}) + "\n",
        encoding="utf-8",
    )
    good = tmp_path / "good.toml"
    good.write_text('[streams.acme]\nkeywords = ["acme"]\n', encoding="utf-8")
    out = tmp_path / "incidents.json"
    args = ["backtest", str(mentions), "--out", str(out), "--workers", "0"]

    without = radar_cli(*args)
    assert without.returncode == 0, without.stderr
    assert json.loads(out.read_text())["summary"]["mentions"] == {"unmatched": 1}  # no rules

    with_env = radar_cli(*args, env={CONFIG_ENV: str(good)})
    assert with_env.returncode == 0, with_env.stderr
    doc = json.loads(out.read_text())
    assert doc["summary"]["mentions"] == {"accepted": 1}
    assert list(doc["streams"]) == ["acme"]

    bad = tmp_path / "bad.toml"
    bad.write_text("[radar]\nbucket_secs = 60\n", encoding="utf-8")
    broken = radar_cli(*args, env={CONFIG_ENV: str(bad)})
    assert broken.returncode == 2
    assert broken.stderr == (
        f"radar: configuration error\n{bad}: radar.bucket_secs: unknown setting (check the spelling)\n"
    )


# -- radar check-config ----------------------------------------------------------------------------
def test_check_config_accepts_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "radar.toml"
    path.write_text(OVERRIDES, encoding="utf-8")
    proc = radar_cli("check-config", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == [
        f"{path}: OK",
        "  buckets of 60 s, lateness 120 s, max 1000 streams (auto-created)",
        "  slack: no channel configured (alerts go to the console)",
        "  stream acme: acme; overrides crisis_ratio, negative_threshold, warmup_hours",
        "  stream nimbus: nimbus",
        "  incident store: STATE_DIR/incidents.sqlite3",
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"[radar]\nbucket_secs = 60\n", "radar.bucket_secs: unknown setting (check the spelling)"),
        (b"[radar\n", "not valid TOML"),
        (b'[streams.acme]\nkeywords = ["caf\xe9"]\n', "not UTF-8 text"),
    ],
)
def test_check_config_rejects_an_invalid_file(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "radar.toml"
    path.write_bytes(content)
    proc = radar_cli("check-config", str(path))
    assert proc.returncode == 1 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines[0] == f"{path}: INVALID"
    assert lines[1].startswith(f"{path}: ")
    assert expected in lines[1]
    assert "Traceback" not in proc.stderr


def test_check_config_on_a_missing_file(tmp_path: Path) -> None:
    proc = radar_cli("check-config", str(tmp_path / "nope.toml"))
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"{tmp_path / 'nope.toml'}: INVALID",
        f"{tmp_path / 'nope.toml'}: no such configuration file",
    ]


# -- the example ------------------------------------------------------------------------------------
def test_the_example_configuration_is_valid() -> None:
    proc = radar_cli("check-config", "examples/radar.toml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == [
        "examples/radar.toml: OK",
        "  buckets of 60 s, lateness 120 s, max 1000 streams (auto-created)",
        "  slack: no channel configured (alerts go to the console)",
        "  stream acme: acme air, acmeair, #acmeair, @acmeair, @acmeairhelp; excluding acme air fryer",
        "  stream nimbus: nimbus mobile, @nimbusmobile; overrides crisis_ratio, warmup_hours",
        "  incident store: STATE_DIR/incidents.sqlite3",
    ]


def test_the_example_shows_the_defaults() -> None:
    """Its header says the values shown are the defaults unless a comment says otherwise."""
    config = load_config(EXAMPLE)
    assert config.radar == RadarSettings()
    assert config.http == HttpSettings()
    assert config.detection == DetectionSettings()
    assert config.escalation == EscalationSettings()
    assert list(config.streams) == ["acme", "nimbus"]
    assert config.streams["acme"].display_name == "Acme Air"
    nimbus = config.detection_for("nimbus")
    assert (nimbus.warmup_hours, nimbus.crisis_ratio, nimbus.warning_ratio) == (48.0, 5.0, 2.0)


def test_slack_settings_are_checked_and_routed_per_stream() -> None:
    config = parse_config(
        """
[slack]
channel = "C0ALL"
oncall_group = "S0ONCALL"
quiet_hours = "22:00-07:00"
timezone = "Europe/Paris"
[streams.acme]
keywords = ["acme"]
slack = { channel = "C0ACME" }
[streams.nimbus]
keywords = ["nimbus"]
"""
    )
    assert (config.slack_route("acme").channel, config.slack_route("acme").oncall_group) == (
        "C0ACME",
        "S0ONCALL",
    )
    assert config.slack_route("nimbus").channel == "C0ALL"
    with pytest.raises(ConfigError) as bad:
        parse_config('[slack]\nquiet_hours = "22-7"\ntimezone = "Mars/Olympus"\nincident_url = "{oops}"\n')
    message = str(bad.value)
    assert "slack.quiet_hours: '22-7' is not HH:MM-HH:MM" in message
    assert "slack.timezone: unknown time zone 'Mars/Olympus'" in message
    assert "slack.incident_url: '{oops}' may use only {id} and {stream}" in message


def test_the_store_url_from_the_environment_is_checked_as_the_config_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "radar.toml"
    path.write_text("[radar]\nbucket_seconds = 60\n")
    monkeypatch.setenv("RADAR_STORE_URL", "mysql://x")
    ok, report = check_config_report(path)
    assert not ok and "$RADAR_STORE_URL: 'mysql://x': use sqlite:///PATH" in report
    with pytest.raises(ConfigError, match=r"\$RADAR_STORE_URL"):
        store_url(load_config(path))
    monkeypatch.setenv("RADAR_STORE_URL", "postgresql+psycopg://radar:secret@db/radar")
    ok, report = check_config_report(path)
    assert ok and "incident store: postgresql+psycopg://radar:***@db/radar ($RADAR_STORE_URL)" in report
    monkeypatch.delenv("RADAR_STORE_URL")
    assert "incident store: STATE_DIR/incidents.sqlite3" in check_config_report(path)[1]
