"""The ``radar`` command line.

radar run --config FILE            the service: ingest API, /metrics, /healthz, detection, alerts
radar replay FILE [--speed X | --fast] [--url URL]   send a mention file to a running radar
radar backtest FILE --out incidents.json [--config FILE]   event-time replay, as fast as it can
radar warmup FILE [--config FILE]  pre-train streams from a history export (state dir)
radar demo                         a generated multi-day scenario through the real pipeline
radar generate --out FILE          write a generated scenario (mentions JSONL + truth JSON)
radar check-config FILE            validate a configuration file
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from radar import garbage
from radar.config import ConfigError, RadarConfig, check_config_report, load_config, store_url

if TYPE_CHECKING:
    from radar.batch import Rejection


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``radar`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    garbage.tune()  # a bucket's short-lived objects die young: full collections become rare
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns the alerts
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # its set-up, line by line
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"radar: configuration error\n{exc}", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"radar {args.command}: {exc}", file=sys.stderr)
        return 2
    except (OSError, EOFError) as exc:  # a missing file, a directory given for a file, a damaged .gz ...
        print(f"radar {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


class UsageError(Exception):
    """An argument the command cannot work with (the message names it)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="radar", description="Crisis Radar: early warning for brand crises.")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the service")
    run.add_argument("--config", type=Path, help="TOML configuration file")
    run.add_argument("--host", help="listen address (default from config)")
    run.add_argument("--port", type=int, help="listen port (default from config)")
    run.add_argument("--state-dir", type=Path, help="journal and checkpoints (default from config)")
    run.set_defaults(func=_run)

    rp = sub.add_parser("replay", help="send a mention file to a running radar")
    rp.add_argument("file", help="JSONL/CSV file, or - for stdin")
    speed = rp.add_mutually_exclusive_group()
    speed.add_argument("--speed", type=float, default=None, help="replay at X times event-time speed")
    speed.add_argument("--fast", action="store_true", help="as fast as the radar takes it (default)")
    rp.add_argument("--url", default="http://127.0.0.1:8462", help="radar base URL")
    rp.add_argument("--batch", type=int, default=500, help="mentions per request")
    rp.add_argument("--csv-preset", choices=["airline"], help="column mapping for CSV input")
    rp.set_defaults(func=_replay)

    bt = sub.add_parser("backtest", help="replay a file in event time and write the incidents")
    bt.add_argument("file", help="JSONL/CSV file, or - for stdin")
    bt.add_argument("--out", type=Path, required=True, help="incidents JSON to write")
    bt.add_argument("--config", type=Path, help="TOML configuration file")
    bt.add_argument("--csv-preset", choices=["airline"], help="column mapping for CSV input")
    bt.add_argument("--order", choices=["arrival", "time"], help=_ORDER_HELP)
    bt.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes scoring sentiment beside the pipeline (default: CPUs - 1, at most 4; 0: none)",
    )
    bt.set_defaults(func=_backtest)

    wu = sub.add_parser("warmup", help="pre-train streams from a history export")
    wu.add_argument("file", help="JSONL/CSV history, or - for stdin")
    wu.add_argument("--config", type=Path, help="TOML configuration file")
    wu.add_argument("--state-dir", type=Path, help="where to write the checkpoint (default from config)")
    wu.add_argument("--csv-preset", choices=["airline"], help="column mapping for CSV input")
    wu.add_argument("--order", choices=["arrival", "time"], help=_ORDER_HELP)
    wu.add_argument("--workers", type=int, default=None, help="as for backtest")
    wu.add_argument(
        "--replace",
        action="store_true",
        help="replace the state the radar has already learned in the state directory (its checkpoint)",
    )
    wu.set_defaults(func=_warmup)

    demo = sub.add_parser("demo", help="replay a generated scenario through the real pipeline")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--port", type=int, default=8462, help="port for /metrics and the ingest API (0: any)")
    demo.add_argument("--linger", type=float, default=0.0, help="keep serving this many seconds at the end")
    demo.add_argument(
        "--duration",
        type=float,
        default=60.0,
        help="wall-clock seconds the replay is paced over (0: as fast as it can)",
    )
    demo.set_defaults(func=_demo)

    gen = sub.add_parser("generate", help="write a generated scenario")
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--days", type=int, default=21)
    gen.add_argument("--out", type=Path, required=True, help="mentions JSONL")
    gen.add_argument("--truth", type=Path, help="truth JSON of the injected events")
    gen.add_argument("--config-out", type=Path, help="also write a radar config matching the streams")
    gen.set_defaults(func=_generate)

    cc = sub.add_parser("check-config", help="validate a configuration file")
    cc.add_argument("file", type=Path)
    cc.set_defaults(func=_check_config)

    pm = sub.add_parser("postmortem", help="write an incident's post-mortem draft (Markdown + chart PNG)")
    pm.add_argument("incident", help="incident id, e.g. acme:crisis:20260305T1853Z")
    pm.add_argument("--out", type=Path, default=Path("."), help="directory to write into")
    pm.add_argument("--config", type=Path, help="TOML configuration file (for [store] and state_dir)")
    pm.add_argument("--state-dir", type=Path, help="where the radar keeps its state")
    pm.set_defaults(func=_postmortem)
    return p


# -- commands ---------------------------------------------------------------------------------------
def _postmortem(args: argparse.Namespace) -> int:
    from radar.incidents.export import iso, postmortem
    from radar.incidents.figures import figures
    from radar.incidents.store import IncidentStore, default_url
    from radar.incidents.timeline_chart import png

    config = load_config(args.config)
    state_dir = args.state_dir or Path(config.radar.state_dir)
    url = store_url(config) or default_url(state_dir)
    store = IncidentStore.open(url)
    try:
        row = store.incident(args.incident)
        if row is None:
            print(f"no incident {args.incident!r} in {url}", file=sys.stderr)
            return 1
        samples = store.samples(row.id)
        f = figures(row, samples)
        stem = args.incident.replace(":", "-")
        args.out.mkdir(parents=True, exist_ok=True)
        chart = args.out / f"{stem}-chart.png"
        markers = {
            "onset": f.onset,
            "detected": f.detected,
            "acknowledged": f.acknowledged,
            "resolved": f.resolved,
        }
        chart.write_bytes(
            png(samples, markers, f"{row.stream_name or row.stream}: {row.kind}, {iso(row.opened_at)}")
        )
        text = postmortem(row, f, store.timeline(row.id), chart.name)
        (args.out / f"{stem}-postmortem.md").write_text(text, encoding="utf-8")
        print(f"wrote {args.out / (stem + '-postmortem.md')} and {chart}")
        return 0
    finally:
        store.close()


def _check_config(args: argparse.Namespace) -> int:
    ok, report = check_config_report(args.file)
    print(report, file=sys.stdout if ok else sys.stderr)  # a broken file is an error: scripts see it there
    return 0 if ok else 1


#: File order is arrival order (what a backtest replays), except for exports known not to be.
_ORDER_HELP = (
    "arrival: file order is the order mentions arrived in (collector delays and backlogs replay "
    "as they happened); time: sort by created_at first (default for --csv-preset airline)"
)


def _records(path: str, preset: str | None, order: str | None = None):  # type: ignore[no-untyped-def]
    from radar.sources.files import in_time_order, read_mentions

    if path != "-" and not Path(path).exists():
        raise FileNotFoundError(f"no such file: {path}")
    records = read_mentions(path, preset=preset) if preset else read_mentions(path)
    if (order or ("time" if preset == "airline" else "arrival")) == "time":
        return in_time_order(records)
    return records


def _workers(requested: int | None) -> int:
    from radar.scorepool import default_workers

    if requested is not None and requested < 0:
        raise UsageError(f"--workers: {requested} must be >= 0")
    return default_workers() if requested is None else requested


def _count_lines(path: str) -> int | None:
    if path == "-" or not path.endswith((".jsonl", ".ndjson")):
        return None
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


def _show_rejections(examples: list[Rejection], total: int) -> None:
    for r in examples:
        print(f"rejected ({r.reason}): {r.error}", file=sys.stderr)
    if total > len(examples):
        print(f"... and {total - len(examples):,} more rejected", file=sys.stderr)


def _backtest(args: argparse.Namespace) -> int:
    from radar.backtest import run_backtest
    from radar.progress import Progress
    from radar.sentiment import VaderScorer
    from radar.windows import GAP_TAIL_SECONDS, MAX_GAP_SECONDS

    config = load_config(args.config)
    out = Path(args.out)
    if out.is_dir() or not out.parent.is_dir():
        raise UsageError(f"--out {out}: not a file in an existing directory")
    progress = Progress(_count_lines(args.file), label="backtest")
    started = time.perf_counter()
    result = run_backtest(
        _records(args.file, args.csv_preset, args.order),
        config,
        VaderScorer(),
        progress=progress,
        workers=_workers(args.workers),
    )
    result.write(args.out)
    elapsed = time.perf_counter() - started
    doc = result.to_json()
    n = sum(result.outcomes.values())
    _show_rejections(result.examples, sum(result.rejected.values()))
    late = result.outcomes.get("late", 0)
    print(
        f"{n:,} mentions ({sum(result.rejected.values()):,} rejected, {late:,} too late for their "
        f"bucket) in {elapsed:.1f} s; {len(doc['incidents'])} incidents written to {args.out}",
        file=sys.stderr,
    )
    if late > 0.05 * max(n, 1):
        print(
            f"warning: {late / n:.0%} of the mentions came after their bucket had closed; if the file "
            "is not in the order mentions arrived in, run with --order time",
            file=sys.stderr,
        )
    if n == 0 and result.rejected:
        print(
            f"error: no record of {args.file} could be read as a mention: is it JSONL mentions, or a CSV"
            " with id, created_at and text columns (--csv-preset airline for that export)?",
            file=sys.stderr,
        )
        return 1
    gaps = {name: s["skipped_buckets"] for name, s in doc["streams"].items() if s["skipped_buckets"]}
    if gaps:
        days = ", ".join(
            f"{name} {skipped * config.radar.bucket_seconds / 86_400:,.0f} d"
            for name, skipped in gaps.items()
        )
        print(
            f"warning: gaps of more than {MAX_GAP_SECONDS // 86_400} days without a mention ({days}): only "
            f"their last {GAP_TAIL_SECONDS // 3600} hours were closed bucket by bucket; a timestamp far from"
            " the others makes such gaps",
            file=sys.stderr,
        )
    return 0


def _warmup(args: argparse.Namespace) -> int:
    from radar.backtest import run_backtest
    from radar.checkpoint import Checkpointer
    from radar.journal import Journal
    from radar.progress import Progress
    from radar.sentiment import VaderScorer

    config = load_config(args.config)
    state_dir = Path(args.state_dir or config.radar.state_dir)
    directory = state_dir / "checkpoints"
    existing = Checkpointer(directory).paths() if directory.is_dir() else []
    if existing and not args.replace:
        print(
            f"error: {state_dir} already holds the radar's learned state ({existing[-1].name});"
            " a warm-up would replace it: pass --replace to do so, or give another --state-dir",
            file=sys.stderr,
        )
        return 1
    result = run_backtest(
        _records(args.file, args.csv_preset, args.order),
        config,
        VaderScorer(),
        progress=Progress(label="warmup"),
        workers=_workers(args.workers),
    )
    rejected = sum(result.rejected.values())
    _show_rejections(result.examples, rejected)
    accepted = result.outcomes.get("accepted", 0)
    print(f"{accepted:,} mentions learned from, {rejected:,} rejected", file=sys.stderr)
    if not accepted:
        print(
            f"error: {args.file}: no mention to learn from; nothing written to {state_dir}", file=sys.stderr
        )
        return 1
    pipeline = result.pipeline
    pipeline.clear_incidents()
    journal = Journal(state_dir / "journal")
    seq = journal.last_seq
    journal.close()
    Checkpointer(directory).save(pipeline, seq)
    for name, state in sorted(pipeline.streams.items()):
        status = "learning" if state.learning else "ready"
        print(f"{name}: {status}")
    print(f"checkpoint written to {state_dir / 'checkpoints'}; `radar run` starts from it", file=sys.stderr)
    return 0


class _Stopped(Exception):
    """SIGTERM or SIGINT asked the service to stop."""


def _stop_on_signal(signum: int, _frame: object) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)  # a second signal ends the process at once
    raise _Stopped(signal.Signals(signum).name)


def _run(args: argparse.Namespace) -> int:
    import uvicorn

    from radar.app import create_app
    from radar.service import RadarService, slack_client_from_env

    config = load_config(args.config)
    log = logging.getLogger(__name__)
    # uvicorn re-raises the signal that stopped it once it has drained requests: ours turns that
    # (or a signal during start-up) into a clean stop with a final checkpoint and exit status 0
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stop_on_signal)
    service = None
    try:
        slack = slack_client_from_env(config)
        if (
            slack is not None
            and not config.slack.channel
            and not any(s.slack and s.slack.channel for s in config.streams.values())
        ):
            log.warning("SLACK_BOT_TOKEN is set but no [slack] channel is configured: nothing will be posted")
        service = RadarService(config, state_dir=args.state_dir, slack=slack)
        service.start()
        app = create_app(service)
        host = args.host or config.http.host
        port = args.port or config.http.port
        log.info("radar listening on http://%s:%d", host, port)
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=10)
    except _Stopped as stopped:
        log.info("%s: stopping", stopped)
    finally:
        if service is not None:
            service.stop()
            log.info("checkpoint written at journal seq %d; stopped", service.journal.last_seq)
    return 0


def _replay(args: argparse.Namespace) -> int:
    from radar.replay import replay

    token = os.environ.get("RADAR_INGEST_TOKEN", "")
    stats = replay(
        _records(args.file, args.csv_preset),
        args.url,
        speed=None if args.fast else args.speed,
        batch=args.batch,
        token=token,
        total=_count_lines(args.file),
    )
    print(json.dumps(stats), file=sys.stderr)
    return 0 if stats["failed_batches"] == 0 else 1


def _demo(args: argparse.Namespace) -> int:
    from radar.demo import run_demo

    logging.getLogger("alembic").setLevel(logging.WARNING)  # the demo's throw-away store: no news

    return run_demo(seed=args.seed, port=args.port, linger=args.linger, duration=args.duration)


def _generate(args: argparse.Namespace) -> int:
    from radar.scenario import default_scenario, stream_rules, write_scenario

    try:
        scenario = default_scenario(seed=args.seed, days=args.days)
    except ValueError as exc:  # e.g. too few days for the scenario's events
        raise UsageError(f"--{exc}") from None
    n = write_scenario(scenario, args.out, args.truth)
    if args.config_out:
        args.config_out.write_text(config_toml(stream_rules(scenario)), encoding="utf-8")
    print(f"{n:,} mentions written to {args.out}", file=sys.stderr)
    return 0


def config_toml(rules: dict[str, dict[str, list[str]]], extra: str = "") -> str:
    """A configuration file text with ``rules`` as the streams."""
    lines = [extra.rstrip(), ""] if extra else []
    for name, r in rules.items():
        lines.append(f"[streams.{name}]")
        for key in ("keywords", "hashtags", "handles", "exclude"):
            if r.get(key):
                lines.append(f"{key} = {json.dumps(list(r[key]))}")
        lines.append("")
    return "\n".join(lines)


def config_from_rules(rules: dict[str, dict[str, list[str]]], **radar: object) -> RadarConfig:
    """A configuration object with ``rules`` as the streams (for the demo and tests)."""
    return RadarConfig.model_validate({"radar": dict(radar), "streams": rules})


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
