"""The journal: an append-only, segmented on-disk log of accepted mentions.

Every accepted batch is appended (and, by default, fsync'ed) before the ingest API answers, so a
``kill -9`` loses nothing that was acknowledged. On start the radar restores its newest checkpoint
and replays the journal after the checkpoint's sequence number; once a checkpoint covers whole
segments they are deleted with :meth:`Journal.truncate_before`.

Layout: one directory of segment files named after the sequence number of their first record,
``00000000000000000001.jsonl``, ``00000000000000052817.jsonl``, ... Each mention gets the next
sequence number (1, 2, 3, ...) and is one line, itself a JSON object::

    {"seq":7,"crc":2254105013,"m":{"id":"tw-1","created_at":"2026-03-04T09:15:02Z","text":"..."}}

``m`` is :meth:`Mention.to_json` (compact, UTF-8) and ``crc`` the CRC-32 of the bytes of ``m`` followed
by the decimal ``seq``. A line counts only when it is complete (ends with a newline), has this exact
shape, its checksum matches and its ``seq`` is above the one before it. A segment is rolled (a new
file started) before a batch when the current one holds ``segment_bytes`` or more; a batch is never
split across segments.

Damage: a torn write (the process or machine died in the middle of an append) leaves an incomplete
tail in the last segment; it is cut off when the journal is opened, so new appends start on a clean
line. Damaged lines elsewhere are skipped when read, logged and counted in
:attr:`Journal.corrupt_records`; the records around them are still read.

>>> import tempfile
>>> from radar.mention import parse_mention
>>> m = parse_mention({"id": "tw-1", "created_at": "2026-03-04T09:15:02Z", "text": "hi"}, now=None)
>>> with tempfile.TemporaryDirectory() as tmp:
...     with Journal(Path(tmp), fsync=False) as journal:
...         journal.append([m, m.model_copy(update={"id": "tw-2"})])
...     with Journal(Path(tmp)) as journal:
...         journal.last_seq, [(seq, m.id) for seq, m in journal.replay(after_seq=1)]
2
(2, [(2, 'tw-2')])
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

from radar.mention import Mention, parse_mention

__all__ = ["Journal", "JournalError"]

log = logging.getLogger(__name__)

_SEGMENT_NAME = re.compile(r"^(\d{20})\.jsonl$")
_RECORD = re.compile(rb'^\{"seq":([0-9]{1,20}),"crc":([0-9]{1,10}),"m":(\{.*\})\}\n\Z')


class JournalError(OSError):
    """The journal cannot take appends (closed, or broken by an earlier I/O error: restart)."""


def _payload(mention: Mention) -> tuple[bytes, int]:
    """A mention's JSON bytes and their running CRC-32 (the ``seq`` is added under the lock)."""
    # surrogatepass: a lone surrogate from a JSON escape survives; json.loads(bytes) reads it back.
    data = json.dumps(mention.to_json(), ensure_ascii=False, separators=(",", ":"))
    raw = data.encode("utf-8", "surrogatepass")
    return raw, zlib.crc32(raw)


def _line(seq: int, payload: bytes, payload_crc: int) -> bytes:
    digits = b"%d" % seq
    crc = zlib.crc32(digits, payload_crc)
    return b'{"seq":' + digits + b',"crc":%d,"m":' % crc + payload + b"}\n"


def _check(line: bytes) -> tuple[int, bytes] | None:
    """``(seq, payload)`` of a complete, intact record line; None for anything else."""
    match = _RECORD.match(line)
    if match is None:
        return None
    digits, crc, payload = match.groups()
    if zlib.crc32(digits, zlib.crc32(payload)) != int(crc):
        return None
    return int(digits), payload


class Journal:
    """Append-only, segmented log of accepted mentions in ``directory``, with sequence numbers.

    Parameters
    ----------
    directory
        Where the segments live (created if missing). One journal per directory, one process.
    segment_bytes
        Size after which the next batch starts a new segment (at least 1).
    fsync
        ``os.fsync`` every append before it returns (the default). Without it an append still
        reaches the operating system before returning, so it survives ``kill -9`` of the radar,
        but not a power cut or kernel crash.

    Thread-safe: appends, truncation and the start of a replay take one lock.
    """

    def __init__(self, directory: Path, *, segment_bytes: int = 64 * 2**20, fsync: bool = True) -> None:
        if isinstance(segment_bytes, bool) or not isinstance(segment_bytes, int):
            raise ValueError(f"segment_bytes: expected an integer, got {type(segment_bytes).__name__}")
        if segment_bytes < 1:
            raise ValueError(f"segment_bytes: must be at least 1, got {segment_bytes}")
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        #: Damaged lines skipped so far (each counted once per process).
        self.corrupt_records = 0
        #: Bytes of torn tail cut off the last segment when the journal was opened.
        self.truncated_bytes = 0
        self._lock = threading.Lock()
        self._corrupt_at: set[tuple[int, int]] = set()
        self._fd: int | None = None
        self._closed = False
        self._broken: str | None = None
        self._last_seq = 0
        self.directory.mkdir(parents=True, exist_ok=True)
        self._segments = sorted(
            int(match.group(1)) for p in self.directory.iterdir() if (match := _SEGMENT_NAME.match(p.name))
        )
        self._sizes = {first: self._path(first).stat().st_size for first in self._segments}
        if self._segments:
            self._recover(self._segments[-1])

    # -- reading -------------------------------------------------------------------------------
    @property
    def last_seq(self) -> int:
        """Sequence number of the last record appended (0 for an empty journal)."""
        return self._last_seq

    @property
    def size_bytes(self) -> int:
        """Bytes on disk over all segments."""
        with self._lock:
            return sum(self._sizes.values())

    @property
    def segment_count(self) -> int:
        """Segment files on disk."""
        return len(self._segments)

    def replay(self, after_seq: int) -> Iterator[tuple[int, Mention]]:
        """Every ``(seq, mention)`` with ``seq > after_seq``, in order, across segments.

        The records read are those appended before this call; damaged lines are skipped (and
        counted). Appends may go on meanwhile.
        """
        if isinstance(after_seq, bool) or not isinstance(after_seq, int):
            raise ValueError(f"after_seq: expected an integer, got {type(after_seq).__name__}")
        with self._lock:
            segments = list(self._segments)
            last_seq = self._last_seq
            active_size = self._sizes[segments[-1]] if segments else 0
        return self._read(segments, after_seq, last_seq, active_size)

    def _read(
        self, segments: list[int], after_seq: int, last_seq: int, active_size: int
    ) -> Iterator[tuple[int, Mention]]:
        previous = 0
        for i, first in enumerate(segments):
            if i + 1 < len(segments) and segments[i + 1] - 1 <= after_seq:
                continue  # every record in it is <= after_seq
            limit = active_size if i == len(segments) - 1 else None
            try:
                segment = self._path(first).open("rb")
            except FileNotFoundError:
                log.warning("journal segment %s was removed during a replay", self._path(first).name)
                continue
            with segment:
                offset = 0
                for line in segment:
                    at, offset = offset, offset + len(line)
                    if limit is not None and offset > limit:
                        break  # appended after the replay began
                    record = _check(line)
                    if record is None or record[0] <= previous:
                        self._corrupt(first, at, "damaged or out of order")
                        continue
                    seq, payload = record
                    previous = seq
                    if seq <= after_seq:
                        continue
                    if seq > last_seq:
                        return
                    try:
                        mention = parse_mention(json.loads(payload), now=None, accepted=True)
                    except ValueError as exc:  # JSON, encoding or validation error
                        self._corrupt(first, at, f"unreadable mention: {exc}")
                        continue
                    yield seq, mention

    # -- writing -------------------------------------------------------------------------------
    def append(self, mentions: Sequence[Mention]) -> int:
        """Write a batch durably; returns the sequence number of its last record.

        The batch goes out in one ``write()`` and, with ``fsync``, is on disk when this returns.
        An empty batch writes nothing and returns :attr:`last_seq`. On an I/O error nothing of
        the batch is kept and the error is raised; after a failed fsync the journal refuses
        further appends (:class:`JournalError`), since what reached the disk is then unknown.
        """
        payloads = [_payload(m) for m in mentions]  # serialise outside the lock
        with self._lock:
            if self._closed:
                raise JournalError("journal is closed")
            if self._broken is not None:
                raise JournalError(f"journal refuses appends after an I/O error ({self._broken}); restart")
            if not payloads:
                return self._last_seq
            first_seq = self._last_seq + 1
            data = b"".join(_line(first_seq + i, raw, crc) for i, (raw, crc) in enumerate(payloads))
            if self._fd is None or self._sizes[self._segments[-1]] >= self.segment_bytes:
                self._roll(first_seq)
            fd = self._fd
            assert fd is not None
            active = self._segments[-1]
            start = self._sizes[active]
            syncing = False
            try:
                view = memoryview(data)
                while view:  # one write() unless the kernel takes less (disk full, signal)
                    view = view[os.write(fd, view) :]
                if self.fsync:
                    syncing = True
                    os.fsync(fd)
            except OSError as exc:
                self._undo(fd, start, exc, after_fsync=syncing)
                raise
            self._sizes[active] = start + len(data)
            self._last_seq = first_seq + len(payloads) - 1
            return self._last_seq

    def truncate_before(self, seq: int) -> int:
        """Delete whole segments whose records are all ``<= seq``; returns how many were removed.

        Call it with the journal sequence number of a checkpoint that covers them. The segment
        being appended to is never removed (it carries :attr:`last_seq` over a restart).
        """
        if isinstance(seq, bool) or not isinstance(seq, int):
            raise ValueError(f"seq: expected an integer, got {type(seq).__name__}")
        removed = 0
        with self._lock:
            while len(self._segments) > 1 and self._segments[1] - 1 <= seq:
                first = self._segments[0]
                try:
                    self._path(first).unlink(missing_ok=True)
                except OSError as exc:
                    log.warning("cannot remove journal segment %s: %s", self._path(first).name, exc)
                    break
                del self._segments[0]
                del self._sizes[first]
                removed += 1
            if removed and self.fsync:
                self._sync_directory()
        return removed

    def close(self) -> None:
        """Sync and close the segment being appended to; appends are refused afterwards."""
        with self._lock:
            self._closed = True
            if self._fd is not None:
                fd, self._fd = self._fd, None
                try:
                    os.fsync(fd)
                except OSError as exc:
                    log.error("journal: fsync on close failed: %s", exc)
                finally:
                    os.close(fd)

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Journal({str(self.directory)!r}, last_seq={self._last_seq}, segments={len(self._segments)})"

    # -- internals -----------------------------------------------------------------------------
    def _path(self, first: int) -> Path:
        return self.directory / f"{first:020d}.jsonl"

    def _recover(self, first: int) -> None:
        """Find the last intact record of the last segment, cut off a torn tail, open for appends."""
        path = self._path(first)
        last = first - 1  # an empty segment named N follows record N - 1
        good_end = offset = 0
        damaged: list[int] = []
        with path.open("rb") as segment:
            for line in segment:
                at, offset = offset, offset + len(line)
                record = _check(line)
                if record is not None and record[0] > last:
                    last, good_end = record[0], offset
                else:
                    damaged.append(at)
        for at in damaged:
            if at < good_end:
                self._corrupt(first, at, "damaged or out of order")
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        if offset > good_end:
            log.warning(
                "journal: cut %d bytes of torn tail off %s (an append interrupted by a crash)",
                offset - good_end,
                path.name,
            )
            os.ftruncate(fd, good_end)
            if self.fsync:
                os.fsync(fd)
            self.truncated_bytes = offset - good_end
        self._fd = fd
        self._sizes[first] = good_end
        self._last_seq = last

    def _roll(self, first: int) -> None:
        """Start a new segment whose first record will be ``first``."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
        self._fd = os.open(self._path(first), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        self._segments.append(first)
        self._sizes[first] = 0
        if self.fsync:
            self._sync_directory()  # the new file's name must survive a crash too

    def _undo(self, fd: int, size: int, exc: OSError, *, after_fsync: bool) -> None:
        """Remove a failed batch's bytes so the next append starts on a clean line."""
        log.error("journal: append failed: %s", exc)
        try:
            os.ftruncate(fd, size)
        except OSError as again:
            self._broken = f"cannot cut off a failed write: {again}"
            return
        if after_fsync:
            self._broken = f"fsync failed: {exc}"

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _corrupt(self, first: int, at: int, why: str) -> None:
        with self._lock:
            if (first, at) in self._corrupt_at:
                return
            self._corrupt_at.add((first, at))
            self.corrupt_records += 1
        log.warning("journal: skipped a record in %s at byte %d: %s", self._path(first).name, at, why)
