"""The journal: durable appends, replay across segments, torn and damaged records, kill -9."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from radar.journal import Journal, JournalError
from radar.mention import Mention, parse_mention

REPO_ROOT = Path(__file__).resolve().parents[1]


def _mention(i: int, **fields: Any) -> Mention:
    raw: dict[str, Any] = {"id": f"tw-{i}", "created_at": "2026-03-04T09:15:02Z", "text": f"mention {i}"}
    raw.update(fields)
    return parse_mention(raw, now=None)


def _segments(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_append_replay_roundtrip_keeps_every_field(tmp_path: Path) -> None:
    mentions = [
        _mention(
            1,
            created_at="2026-03-04T09:15:02.123456Z",
            text='line one\nline two \u2028 ünïcödé 🚨 "quoted" \\ back',
            source="twitter",
            author="someone",
            author_followers=1200,
            reshares=3,
            likes=10,
            lang="en",
            url="https://example.org/1",
            stream=["acme", "beta"],
            sentiment=-0.62,
            vendor={"nested": [1, 2.5, None, True], "label": "x"},
        ),
        _mention(2, id=12345, created_at="2026-03-04T11:00:00+02:00", stream="acme", sentiment=0.0),
        _mention(3, id="  padded  ", text="tab\there, nul \u0000 and control \u001f characters"),
    ]
    with Journal(tmp_path) as journal:
        assert journal.last_seq == 0
        assert journal.append(mentions[:2]) == 2
        assert journal.append(mentions[2:]) == 3
        assert list(journal.replay(0)) == list(enumerate(mentions, start=1))
        assert [seq for seq, _ in journal.replay(2)] == [3]
        assert list(journal.replay(3)) == []
    lines = (tmp_path / "00000000000000000001.jsonl").read_bytes().splitlines()
    assert len(lines) == 3
    assert json.loads(lines[0])["m"] == mentions[0].to_json()  # each line is a JSON object


def test_a_stream_name_an_earlier_release_took_is_replayed_as_it_was(tmp_path: Path) -> None:
    # today "Acme Air" is refused at the door (bad_stream); a journal written before that still holds it
    with pytest.raises(ValueError, match="stream name 'acme air'"):
        _mention(1, stream="Acme Air")
    old = parse_mention(
        {"id": "tw-1", "created_at": "2026-03-04T09:15:02Z", "text": "hi", "stream": ["Acme Air", "beta"]},
        now=None,
        accepted=True,
    )
    with Journal(tmp_path) as journal:
        journal.append([old, _mention(2, stream="Beta")])
        replayed = [m.streams for _seq, m in journal.replay(0)]
    assert replayed == [("Acme Air", "beta"), ("beta",)]


def test_last_seq_survives_reopen_and_numbering_continues(tmp_path: Path) -> None:
    with Journal(tmp_path) as journal:
        journal.append([_mention(i) for i in range(4)])
        assert journal.append([]) == 4  # an empty batch writes nothing
    with Journal(tmp_path) as journal:
        assert journal.last_seq == 4
        assert journal.append([_mention(9)]) == 5
        assert [(seq, m.id) for seq, m in journal.replay(3)] == [(4, "tw-3"), (5, "tw-9")]


def test_segments_roll_and_truncate_before_removes_only_covered_ones(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=200, fsync=False)
    for start in (1, 4, 7, 10):  # batches of 3 records, each over 200 bytes
        journal.append([_mention(i) for i in range(start, start + 3)])
    assert _segments(tmp_path) == [f"{first:020d}.jsonl" for first in (1, 4, 7, 10)]
    assert journal.segment_count == 4
    assert journal.size_bytes == sum(p.stat().st_size for p in tmp_path.iterdir())
    assert [seq for seq, _ in journal.replay(5)] == list(range(6, 13))

    assert journal.truncate_before(5) == 1  # 1..3 covered; 4..6 is not
    assert journal.truncate_before(6) == 1
    assert _segments(tmp_path) == [f"{first:020d}.jsonl" for first in (7, 10)]
    assert [seq for seq, _ in journal.replay(0)] == list(range(7, 13))
    assert journal.truncate_before(10**9) == 1  # never the segment being appended to
    assert journal.segment_count == 1
    journal.close()

    with Journal(tmp_path, segment_bytes=200) as reopened:
        assert reopened.last_seq == 12
        assert reopened.append([_mention(13)]) == 13
        assert [seq for seq, _ in reopened.replay(0)] == [10, 11, 12, 13]


def test_torn_final_line_is_cut_off_and_next_append_is_readable(tmp_path: Path) -> None:
    with Journal(tmp_path) as journal:
        journal.append([_mention(i) for i in range(3)])
    segment = tmp_path / "00000000000000000001.jsonl"
    whole = segment.read_bytes()
    line = whole.splitlines(keepends=True)[0].replace(b'"seq":1', b'"seq":4')
    torn = line[: len(line) // 2]
    segment.write_bytes(whole + torn)  # a batch cut short by a crash

    with Journal(tmp_path) as journal:
        assert journal.last_seq == 3
        assert journal.truncated_bytes == len(torn)
        assert segment.read_bytes() == whole
        assert journal.append([_mention(7)]) == 4
        assert [(seq, m.id) for seq, m in journal.replay(0)] == [
            (1, "tw-0"),
            (2, "tw-1"),
            (3, "tw-2"),
            (4, "tw-7"),
        ]
        assert journal.corrupt_records == 0


def test_torn_first_write_of_a_new_segment(tmp_path: Path) -> None:
    with Journal(tmp_path, segment_bytes=10) as journal:
        journal.append([_mention(1), _mention(2)])
    (tmp_path / f"{3:020d}.jsonl").write_bytes(b'{"seq":3,"crc":12,"m":{"id":"tw-')
    with Journal(tmp_path, segment_bytes=10) as journal:
        assert journal.last_seq == 2
        assert journal.append([_mention(3)]) == 3
        assert [seq for seq, _ in journal.replay(0)] == [1, 2, 3]
    assert _segments(tmp_path) == [f"{1:020d}.jsonl", f"{3:020d}.jsonl"]


def test_damaged_lines_in_the_middle_are_skipped_and_counted(tmp_path: Path) -> None:
    with Journal(tmp_path) as journal:
        for i in range(1, 6):
            journal.append([_mention(i)])
    segment = tmp_path / "00000000000000000001.jsonl"
    lines = segment.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b"mention 2", b"mentiom 2")  # bit rot: still JSON, checksum fails
    lines[3] = b"garbage, not a record\n"
    segment.write_bytes(b"".join(lines))

    with Journal(tmp_path) as journal:
        assert journal.last_seq == 5  # the damage is not a torn tail: nothing is cut off
        assert journal.truncated_bytes == 0
        assert [seq for seq, _ in journal.replay(0)] == [1, 3, 5]
        assert journal.corrupt_records == 2
        list(journal.replay(0))
        assert journal.corrupt_records == 2  # each damaged line counts once
        assert journal.append([_mention(6)]) == 6
        assert [seq for seq, _ in journal.replay(4)] == [5, 6]


def test_concurrent_appends_get_unique_increasing_sequence_numbers(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=4096)
    results: dict[int, list[tuple[int, list[str]]]] = {}

    def worker(t: int) -> None:
        mine = results.setdefault(t, [])
        for b in range(40):
            batch = [_mention(0, id=f"t{t}-b{b}-{k}") for k in range(1 + (t + b) % 3)]
            mine.append((journal.append(batch), [m.id for m in batch]))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    expected: dict[int, str] = {}
    for mine in results.values():
        seqs = [seq for seq, _ in mine]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        for last, ids in mine:
            for offset, mention_id in enumerate(reversed(ids)):
                expected[last - offset] = mention_id
    total = sum(len(ids) for mine in results.values() for _, ids in mine)
    assert journal.last_seq == total
    assert sorted(expected) == list(range(1, total + 1))  # no seq given twice, none skipped
    assert {seq: m.id for seq, m in journal.replay(0)} == expected
    assert journal.segment_count > 1
    journal.close()


def test_replay_reads_what_was_appended_before_it_began(tmp_path: Path) -> None:
    with Journal(tmp_path) as journal:
        journal.append([_mention(1), _mention(2)])
        replay = journal.replay(0)
        journal.append([_mention(3)])
        assert [seq for seq, _ in replay] == [1, 2]


def test_a_failed_write_leaves_no_partial_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = Journal(tmp_path, fsync=False)
    journal.append([_mention(1)])
    real_write = os.write

    def disk_full(fd: int, data: Any) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full)
    with pytest.raises(OSError, match="No space"):
        journal.append([_mention(2), _mention(3)])
    monkeypatch.undo()
    assert journal.last_seq == 1
    assert journal.append([_mention(4)]) == 2
    assert [(seq, m.id) for seq, m in journal.replay(0)] == [(1, "tw-1"), (2, "tw-4")]
    assert journal.corrupt_records == 0
    journal.close()


def test_a_failed_fsync_stops_appends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = Journal(tmp_path)
    journal.append([_mention(1)])

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="Input/output"):
        journal.append([_mention(2)])
    monkeypatch.undo()
    with pytest.raises(JournalError, match="restart"):
        journal.append([_mention(3)])
    assert journal.last_seq == 1
    journal.close()
    with Journal(tmp_path) as reopened:
        assert [seq for seq, _ in reopened.replay(0)] == [1]


def test_arguments_are_validated_and_closed_journal_refuses_appends(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="segment_bytes"):
        Journal(tmp_path, segment_bytes=0)
    with pytest.raises(ValueError, match="after_seq"):
        Journal(tmp_path).replay("0")  # type: ignore[arg-type]
    journal = Journal(tmp_path)
    journal.close()
    journal.close()
    with pytest.raises(JournalError, match="closed"):
        journal.append([_mention(1)])


_CHILD = """
import sys
from pathlib import Path
from radar.journal import Journal
from radar.mention import parse_mention

journal = Journal(Path(sys.argv[1]), segment_bytes=16_384)
batch_no = 0
while True:
    batch = [
        parse_mention({"id": f"k{batch_no}-{i}", "created_at": "2026-03-04T09:15:02Z", "text": "x" * 300},
                      now=None)
        for i in range(20)
    ]
    seq = journal.append(batch)
    print(seq, batch_no, flush=True)
    batch_no += 1
"""


def test_kill_9_loses_nothing_acknowledged(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    watchdog = threading.Timer(20.0, child.kill)
    watchdog.start()
    try:
        assert child.stdout is not None
        acked: list[bytes] = []
        while len(acked) < 40:
            line = child.stdout.readline()
            if not line:
                stderr = child.stderr.read().decode() if child.stderr else ""
                pytest.fail(f"journal writer died early: {stderr}")
            acked.append(line)
        os.kill(child.pid, signal.SIGKILL)  # while it goes on appending
        rest, _ = child.communicate()
    finally:
        watchdog.cancel()
    assert child.returncode == -signal.SIGKILL
    acked += [line for line in rest.splitlines(keepends=True) if line.endswith(b"\n")]

    with Journal(tmp_path, segment_bytes=16_384) as journal:
        records = {seq: m.id for seq, m in journal.replay(0)}
        assert journal.corrupt_records == 0
        for line in acked:
            seq, batch_no = map(int, line.split())
            for i in range(20):
                assert records[seq - 19 + i] == f"k{batch_no}-{i}"
        assert journal.last_seq >= max(int(line.split()[0]) for line in acked)
        assert sorted(records) == list(range(1, journal.last_seq + 1))
        assert journal.segment_count > 1
        after = journal.append([_mention(1)])
        assert after == journal.last_seq and [seq for seq, _ in journal.replay(after - 1)] == [after]
