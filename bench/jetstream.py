"""Jetstream source throughput: firehose events through the real source, matched against 50 streams.

    python bench/jetstream.py [--posts 100000] [--seed 7] [--mode both] [--profile]
        [--out bench/results/jetstream.json]

Generates Jetstream traffic shaped like the real unfiltered firehose (per 100 events: ~55 likes,
15 posts, 10 reposts, 12 follows, 5 deletes, 2 other records such as blocks and list items, 1 identity
or account event; TIDs, CIDs, DIDs, facets, replies, quotes and languages as the network writes them;
post texts in English, Japanese, Portuguese, German and Spanish, 1.5 % of them naming one of the
brands) and serves it from ``tests.jetstream_server.JetstreamServer``, with the authors' profiles
from ``tests.jetstream_server.ProfileServer``, **in a separate process** so that the server's CPU
does not count (and with ``fast=True``: pre-framed messages written in chunks, so that the server
outpaces the client). The client is the real :class:`~radar.sources.jetstream.JetstreamSource` with a
:class:`~radar.matcher.Matcher` over 50 configured streams (keywords, two-word phrases, hashtags,
handles, exclusions), consuming ``batches()`` in this process's main thread; it resumes from the first
event's cursor, so the server replays the whole traffic as fast as the client takes it.

Two modes (``--mode``):

``filtered``
    What production sees: the server honours ``wantedCollections=app.bsky.feed.post`` as Jetstream
    does, so the client receives the posts (creations and deletions) plus identity and account events.
``unfiltered``
    The server ignores the filter and the client receives the whole firehose (the worst case).

Reported per mode: events and post events received; for the whole run (connection to the last event,
imports, handshake and profile lookups included) and **sustained** (from the first batch to the last
one taken while events were still arriving): wall seconds, events/s and post events/s, the client
process's CPU time (``time.process_time()``: every thread of this process, nothing of the server's),
CPU microseconds per event and per post event, post events per CPU second; and the mentions found
against the expected ones (every post run through :func:`~radar.sources.jetstream.event_to_mention`
in the server process). Target: >= 3,000 post events/s on one core, judged on the sustained post
events per CPU second (wall rates also depend on what else the machine runs: its load average is
recorded). ``--profile`` prints the client's hottest functions (cProfile).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import itertools
import json
import multiprocessing
import os
import platform
import pstats
import random
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import emit  # noqa: E402
from radar.config import JetstreamSettings, RadarConfig  # noqa: E402
from radar.matcher import Matcher  # noqa: E402
from radar.sources.jetstream import POST, JetstreamSource, event_to_mention  # noqa: E402
from tests.jetstream_server import (  # noqa: E402
    FOLLOW,
    LIKE,
    REPOST,
    JetstreamServer,
    ProfileServer,
    account_event,
    delete_event,
    follow_event,
    identity_event,
    iso,
    like_event,
    post_event,
    post_uri,
    random_cid,
    random_did,
    repost_event,
    tid,
)

START_US = 1_772_614_800_000_000  # 2026-03-04T09:00:00Z
BRAND_SHARE = 0.015


# -- the streams -----------------------------------------------------------------------------------
def _split(words: str) -> list[str]:
    return words.split()


_SYLLABLES = tuple(
    _split("ka vo ren tix lu mor zen qua bri sol dar nex pli vor sta fen gal hol ix tra mel cor pen")
)
_SUFFIXES = ["Air", "Bank", "Mobile", "Energy", "Foods", "Rail", "Cloud", "Pay", "Telecom", "Motors"]
# common-word brands: their first word appears in ordinary posts, so the matcher must check phrases
_COMMON = [
    ("delta", "Delta Air Lines"),
    ("target", "Target"),
    ("orange", "Orange Telecom"),
    ("apple", "Apple"),
]


def streams(seed: int, count: int = 50) -> dict[str, dict[str, Any]]:
    """``count`` brand streams: keywords, a two-word phrase, hashtags, handles, an exclusion."""
    rng = random.Random(seed)
    out: dict[str, dict[str, Any]] = {}
    for word, name in _COMMON:
        out[word] = {
            "display_name": name,
            "keywords": [name] if " " in name else [f"{name} store", f"{name} support"],
            "hashtags": [f"#{word}fail", f"#{word}outage"],
            "handles": [f"@{word}.com"],
            "exclude": [f"{word} variant"] if word == "delta" else [],
        }
    while len(out) < count:
        base = "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 3))))
        if base in out or len(base) < 5:
            continue
        suffix = rng.choice(_SUFFIXES)
        out[base] = {
            "display_name": f"{base.title()} {suffix}",
            "keywords": [base, f"{base} {suffix.lower()}"],
            "hashtags": [f"#{base}fail", f"#{base}down"],
            "handles": [f"@{base}.com", f"@{base}{suffix.lower()}.bsky.social"],
            "exclude": [f"{base} fryer"],
        }
    return out


# -- the traffic -----------------------------------------------------------------------------------
_EN = tuple(
    _split(
        "the a to and of i you it is that in for this on my with be have just so but not are at like was "
        "all get me do what can if your we one up out about more now time people day good think know "
        "really go how love when see want been going still much back today new make need right work "
        "thing them some even only over great year first way night little feel better morning coffee dog "
        "cat weekend book movie game music art friends happy tired weather rain sun city home phone news "
        "election vote coffee pizza lunch dinner train bus late again finally thanks please sorry "
        "honestly literally absolutely lol omg wow nice cool beautiful every never always why because "
        "who where which their there here would could should very much too also post thread reply follow "
        "feed timeline bluesky skeet photo drawing painting garden walk run gym sleep apple orange target "
        "delta"
    )
)
_JA = tuple(
    _split(
        "今日は 本当に 疲れた ありがとう 猫 かわいい ラーメン 食べたい 明日 "
        "仕事 雨 電車 遅延 最高 です ね 描いた 絵 推し"
    )
)
_PT = tuple(
    _split(
        "hoje eu não que muito bom dia gente amo isso vai ser tá demais obrigado galera trabalho casa futebol"
    )
)
_DE = tuple(
    _split("heute ich nicht das sehr gut Tag Leute liebe wird sein danke Arbeit Hause Bahn wieder Verspätung")
)
_ES = tuple(_split("hoy yo no que muy buen día gente amo esto va ser gracias trabajo casa fútbol otra vez"))
_LANGS = [("en", _EN, 0.70), ("ja", _JA, 0.10), ("pt", _PT, 0.10), ("de", _DE, 0.05), ("es", _ES, 0.05)]
_EMOJI = ["😭", "🙏", "❤️", "😂", "🔥", "✨", "🦋", "👀", "🥲", "💀"]
_TAGS = ["#art", "#bluesky", "#photography", "#nowplaying", "#caturday", "#booksky", "#gamedev", "#news"]
_COMPLAINTS = [
    "{kw} lost my bag again. third time this year",
    "anyone else having trouble with the {kw} app today?",
    "shoutout to {handle} for fixing it so fast 🙏",
    "this is why I stopped using {kw} {tag}",
    "{kw} customer service put me on hold for two hours and then hung up",
    "{handle} my order never arrived and nobody answers",
    "honestly {kw} has been great lately, no complaints",
    "is {kw} down for everyone or just me",
]


def _noise_text(rng: random.Random, handles: list[str]) -> tuple[str, str]:
    roll, acc = rng.random(), 0.0
    lang, words = "en", _EN
    for code, vocab, share in _LANGS:
        acc += share
        if roll < acc:
            lang, words = code, vocab
            break
    n = min(60, max(1, int(rng.lognormvariate(2.6, 0.7))))
    sep = "" if lang == "ja" else " "
    text = sep.join(rng.choice(words) for _ in range(n))
    if rng.random() < 0.25:
        text += " " + rng.choice(_EMOJI)
    if rng.random() < 0.10:
        text = f"@{rng.choice(handles)} " + text
    if rng.random() < 0.08:
        text += " " + rng.choice(_TAGS)
    if rng.random() < 0.10:
        text += f" https://example.com/{rng.randrange(10**6)}"
    return text[:300], lang


def _brand_text(rng: random.Random, stream: dict[str, Any]) -> str:
    keyword = rng.choice(stream["keywords"])
    keyword = rng.choice([keyword, keyword.title(), keyword.upper()])
    template = rng.choice(_COMPLAINTS)
    return template.format(
        kw=keyword, handle=rng.choice(stream["handles"]), tag=rng.choice(stream["hashtags"])
    )


def authors(seed: int) -> dict[str, tuple[str, int]]:
    """30,000 accounts: DID -> (handle, followers)."""
    rng = random.Random(seed + 1)
    dids = [random_did(rng) for _ in range(30_000)]
    return {did: (f"user{i}.bsky.social", int(rng.lognormvariate(4.5, 1.8))) for i, did in enumerate(dids)}


def traffic(
    seed: int, posts: int, brands: dict[str, dict[str, Any]], profiles: dict[str, tuple[str, int]]
) -> Iterator[dict[str, Any]]:
    """The events, made as they are consumed (about ``posts / 0.15`` of them)."""
    rng = random.Random(seed)
    authors = list(profiles)
    handles = {did: handle for did, (handle, _) in profiles.items()}
    handle_list = list(handles.values())
    dids = {h: d for d, h in handles.items()}
    for spec in brands.values():  # the brands' own accounts, for mention facets
        for h in spec["handles"]:
            dids[h[1:]] = random_did(rng)
    cumulative = list(itertools.accumulate(1.0 / (i + 1) ** 0.8 for i in range(len(authors))))  # Zipf-like
    recent_posts: list[str] = [post_uri(authors[0], tid(START_US - 10**6))]
    brand_list = list(brands.values())
    now = START_US
    made = 0
    while made < posts:
        now += 200 + rng.randrange(1600)
        did = rng.choices(authors, cum_weights=cumulative)[0] if rng.random() < 0.5 else rng.choice(authors)
        roll = rng.random()
        if roll < 0.15:
            brand = rng.random() < BRAND_SHARE
            text, lang = (
                (_brand_text(rng, rng.choice(brand_list)), "en") if brand else _noise_text(rng, handle_list)
            )
            kind = rng.random()
            event = post_event(
                did,
                now,
                text,
                langs=(lang,),
                reply_to=rng.choice(recent_posts) if kind < 0.45 else None,
                quote=rng.choice(recent_posts) if 0.45 <= kind < 0.53 else None,
                with_media=rng.random() < 0.3,
                dids=dids,
                rng=rng,
            )
            recent_posts.append(post_uri(did, event["commit"]["rkey"]))
            if len(recent_posts) > 500:
                recent_posts.pop(0)
            made += 1
        elif roll < 0.70:
            event = like_event(did, now, rng.choice(recent_posts), rng)
        elif roll < 0.80:
            event = repost_event(did, now, rng.choice(recent_posts), rng)
        elif roll < 0.92:
            event = follow_event(did, now, rng.choice(authors), rng)
        elif roll < 0.97:
            collection = rng.choice([LIKE, LIKE, POST, FOLLOW, REPOST])
            event = delete_event(did, now, collection, tid(now - rng.randrange(10**10), rng.randrange(1024)))
        elif roll < 0.99:
            collection = rng.choice(
                ["app.bsky.graph.block", "app.bsky.graph.listitem", "app.bsky.feed.threadgate"]
            )
            record = {"$type": collection, "createdAt": iso(now), "subject": rng.choice(authors)}
            event = {
                "did": did,
                "time_us": now,
                "kind": "commit",
                "commit": {
                    "rev": tid(now, 7),
                    "operation": "create",
                    "collection": collection,
                    "rkey": tid(now, 3),
                    "record": record,
                    "cid": random_cid(rng),
                },
            }
        elif roll < 0.995:
            event = identity_event(did, now, handles[did])
        else:
            event = account_event(did, now, active=rng.random() < 0.8, status=None)
        yield event


class Tally:
    """Counts what passes through, as the server will send it, and the mentions expected."""

    def __init__(self, config: RadarConfig) -> None:
        self.matcher, self.settings = Matcher(config), JetstreamSettings()
        self.counts = dict.fromkeys(["events_unfiltered", "events_filtered", "post_events", "posts"], 0)
        self.counts["expected_mentions"] = 0
        self.first: int | None = None
        self.last = {"filtered": 0, "unfiltered": 0}

    def __call__(self, events: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        counts = self.counts
        for event in events:
            time_us = event["time_us"]
            self.first = self.first or time_us
            counts["events_unfiltered"] += 1
            self.last["unfiltered"] = time_us
            commit = event.get("commit")
            if commit is None or commit["collection"] == POST:
                counts["events_filtered"] += 1
                self.last["filtered"] = time_us
            if commit is not None and commit["collection"] == POST:
                counts["post_events"] += 1
                counts["posts"] += "record" in commit
                counts["expected_mentions"] += (
                    event_to_mention(event, self.matcher, self.settings) is not None
                )
            yield event


def serve(conn: Connection, seed: int, posts: int) -> None:
    """The server process: generate, serve, report, obey ``("filter", bool)`` and ``("stop",)``."""
    brands = streams(seed)
    profiles = authors(seed)
    tally = Tally(RadarConfig.model_validate({"streams": brands}))
    server = JetstreamServer(tally(traffic(seed, posts, brands, profiles)), fast=True)
    with server, ProfileServer(profiles) as api:
        conn.send(
            {
                "url": server.url,
                "profile_api": api.base_url,
                "first_time_us": tally.first,
                "last_time_us_filtered": tally.last["filtered"],
                "last_time_us_unfiltered": tally.last["unfiltered"],
                **tally.counts,
            }
        )
        while True:
            message = conn.recv()
            if message[0] == "filter":
                server.filter_collections = bool(message[1])
                conn.send("ok")
            else:
                break


# -- the client ------------------------------------------------------------------------------------
async def _consume(source: JetstreamSource, expect: int, last: int, timeout: float) -> dict[str, Any]:
    """Take batches until the one with the last event; samples (wall, CPU, events) at each batch."""
    mentions, ids = 0, set[str]()
    end = time.monotonic() + timeout
    samples: list[tuple[float, float, int]] = []
    async for batch in source.batches():
        samples.append((time.perf_counter(), time.process_time(), source.health.events))
        mentions += len(batch)
        ids.update(m.id for m in batch)
        if source.position().get("cursor") == last or time.monotonic() > end:
            break
    return {"mentions": mentions, "unique_mentions": len(ids), "samples": samples}


def run(mode: str, info: dict[str, Any], brands: dict[str, dict[str, Any]], profile: bool) -> dict[str, Any]:
    config = RadarConfig.model_validate({"streams": brands})
    settings = JetstreamSettings(url=info["url"], profile_api=info["profile_api"], resume_overlap_seconds=0)
    source = JetstreamSource(settings, Matcher(config), name="bluesky", clock=time.perf_counter)
    source.resume({"cursor": info["first_time_us"]})
    expect = info["events_filtered"] if mode == "filtered" else info["events_unfiltered"]
    profiler = cProfile.Profile() if profile else None

    async def main() -> dict[str, Any]:
        try:
            return await _consume(source, expect, info[f"last_time_us_{mode}"], timeout=600)
        finally:
            await source.close()

    cpu0, wall0 = time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    got = asyncio.run(main())
    if profiler is not None:
        profiler.disable()
    cpu = time.process_time() - cpu0
    health = source.health
    wall = (health.last_event_at or time.perf_counter()) - wall0
    post_events = info["post_events"]
    # sustained: from the first batch to the last one taken while events were still flowing
    flowing = [s for s in got["samples"] if s[2] < expect] or got["samples"]
    (w0, c0, e0), (w1, c1, e1) = got["samples"][0], flowing[-1]
    share = post_events / expect  # of the events received, the posts' share
    window = max(e1 - e0, 1)
    result = {
        "mode": mode,
        "events": health.events,
        "post_events": post_events,
        "whole_run": {
            "wall_seconds": round(wall, 2),
            "events_per_second": round(health.events / wall),
            "post_events_per_second": round(post_events / wall),
            "cpu_seconds": round(cpu, 2),
            "cpu_us_per_event": round(cpu / health.events * 1e6, 1),
            "cpu_us_per_post_event": round(cpu / post_events * 1e6, 1),
            "post_events_per_cpu_second": round(post_events / cpu),
        },
        "sustained": {
            "events": window,
            "wall_seconds": round(w1 - w0, 2),
            "events_per_second": round(window / (w1 - w0)),
            "post_events_per_second": round(window * share / (w1 - w0)),
            "cpu_share_of_one_core": round((c1 - c0) / (w1 - w0), 2),
            "cpu_us_per_event": round((c1 - c0) / window * 1e6, 1),
            "cpu_us_per_post_event": round((c1 - c0) / (window * share) * 1e6, 1),
            "post_events_per_cpu_second": round(window * share / (c1 - c0)),
        },
        "mentions": got["mentions"],
        "expected_mentions": info["expected_mentions"],
        "malformed": health.malformed,
        "profile_requests": source.profiles.requests,
        "profile_failures": source.profiles.failures,
    }
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        print(out.getvalue(), file=sys.stderr)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=100_000, help="post creations in the traffic")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mode", choices=["filtered", "unfiltered", "both"], default="both")
    parser.add_argument("--profile", action="store_true", help="print the client's hottest functions")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    brands = streams(args.seed)
    load = os.getloadavg()
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    server = ctx.Process(target=serve, args=(theirs, args.seed, args.posts), daemon=True)
    server.start()
    try:
        info = ours.recv()
        results = []
        for mode in ["filtered", "unfiltered"] if args.mode == "both" else [args.mode]:
            ours.send(("filter", mode == "filtered"))
            ours.recv()
            results.append(run(mode, info, brands, args.profile))
            print(json.dumps(results[-1]), file=sys.stderr)
    finally:
        ours.send(("stop",))
        server.join(10)
    report = {
        "command": "python bench/jetstream.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}",
        "commit": commit.stdout.strip(),
        "target": ">= 3,000 post events/s on one core",
        "load_average_before": [round(x, 2) for x in load],
        "streams": len(brands),
        "traffic": {k: info[k] for k in ("events_unfiltered", "events_filtered", "post_events", "posts")},
        "brand_share_of_posts": BRAND_SHARE,
        "results": results,
        "target_met": all(r["sustained"]["post_events_per_cpu_second"] >= 3000 for r in results),
    }
    emit(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
