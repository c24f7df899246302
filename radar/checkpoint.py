"""Checkpoints: the pipeline state (detectors, windows, incidents, de-duplication) on disk.

:class:`Checkpointer` writes a state object together with the journal sequence number it covers, so
that a restart restores the state and replays only the journal after that number. Each save is a
new file, written atomically (temporary file in the same directory, fsync, ``os.replace``, fsync of
the directory): a crash leaves either the old set of checkpoints or the new one, never a partial
file under a checkpoint name. The newest ``keep`` files are kept; loading falls back to an older
one when the newest cannot be read.

File format: the magic ``RADARCKPT``, a format byte, the payload length (8 bytes, big-endian) and
its CRC-32 (4 bytes), then the payload: a pickle (protocol 5) of ``{"version": 4,
"journal_seq": int, "saved_at": ISO 8601 UTC str, "state": object}``. Files are named
``checkpoint-<generation>-<journal_seq>.pickle``, the generation counting up with every save.

**Checkpoints are trusted local files.** Loading one unpickles it, which can run arbitrary code:
the directory must be writable only by the radar's own user, and checkpoints must never be taken
from anywhere else.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     checkpoints = Checkpointer(Path(tmp), keep=2)
...     for seq in (10, 20, 30):
...         _ = checkpoints.save({"count": seq}, journal_seq=seq)
...     latest = checkpoints.load_latest()
...     latest.journal_seq, latest.state, checkpoints.oldest_journal_seq()
(30, {'count': 30}, 20)
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import struct
import threading
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["Checkpoint", "CheckpointError", "Checkpointer"]

log = logging.getLogger(__name__)

#: Bumped whenever the pickled state changes shape (2: the detectors' per-bucket readings became named
#: tuples, the weekly baseline keeps bits for finished weeks, and the streams keep compact recent
#: activity instead of buckets; 3: the recent activity keeps its buckets as columns, author activity
#: and the weekly baseline's counters moved to arrays; 4: the recent activity keeps its terms as
#: numbers into a table shared by the streams, its counts in the narrowest integers and its candidate
#: posts packed, author activity keeps its authors' names in one bytearray; 5: the detectors keep their
#: rings of recent buckets in single precision and the weekly memory as one-byte codes, derive what
#: follows from their other attributes, and a stream keeps its last bucket's figures instead of the
#: whole assessment). Versions 3 and 4 are still read: the classes whose state changed since convert
#: an older state when unpickled (``__setstate__``).
#: Other versions are refused with a CheckpointError naming both versions, never half-read.
VERSION = 5
#: Versions read, and migrated to the current one on load.
READS = frozenset({3, 4, VERSION})
PICKLE_PROTOCOL = 5
_MAGIC = b"RADARCKPT\x01"
_HEADER = struct.Struct(">QI")  # payload length, CRC-32 of the payload
_NAME = re.compile(r"^checkpoint-(\d{12,})-(\d+)\.pickle$")
_TEMP_PREFIX = ".checkpoint-"
_TEMP_SUFFIX = ".tmp"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used (truncated, damaged, foreign or of another version)."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A checkpoint read back: the state and the journal sequence number it covers."""

    journal_seq: int
    saved_at: datetime  # aware, UTC
    state: Any
    path: Path

    def age_seconds(self, now: datetime) -> float:
        """Seconds between ``saved_at`` and ``now`` (an aware datetime), for metrics."""
        return (now - self.saved_at).total_seconds()


class Checkpointer:
    """Writes checkpoints to ``directory`` atomically and reads the newest usable one back.

    Parameters
    ----------
    directory
        Where checkpoint files live (created if missing). One writing process per directory.
    keep
        How many of the newest checkpoints to keep (at least 1). Keeping more than one lets
        :meth:`load_latest` fall back when the newest is damaged; to make that fallback lossless,
        delete journal segments only up to :meth:`oldest_journal_seq`.

    Thread-safe (saves are serialised by a lock).
    """

    def __init__(self, directory: Path, keep: int = 3) -> None:
        if isinstance(keep, bool) or not isinstance(keep, int):
            raise ValueError(f"keep: expected an integer, got {type(keep).__name__}")
        if keep < 1:
            raise ValueError(f"keep: must be at least 1, got {keep}")
        self.directory = Path(directory)
        self.keep = keep
        self._lock = threading.Lock()
        self.directory.mkdir(parents=True, exist_ok=True)
        for leftover in self.directory.glob(f"{_TEMP_PREFIX}*{_TEMP_SUFFIX}"):
            log.info("removing %s, left over from an interrupted checkpoint", leftover.name)
            leftover.unlink(missing_ok=True)
        self._generation = max((gen for gen, _seq, _path in self._files()), default=0)

    # -- writing -------------------------------------------------------------------------------
    def save(self, state: object, journal_seq: int, *, now: datetime | None = None) -> Path:
        """Write ``state`` as covering the journal up to ``journal_seq``; returns the new file.

        ``now`` (aware) is recorded as ``saved_at``; the system clock when omitted. Older files
        beyond ``keep`` are deleted afterwards.
        """
        if isinstance(journal_seq, bool) or not isinstance(journal_seq, int) or journal_seq < 0:
            raise ValueError(f"journal_seq: expected a non-negative integer, got {journal_seq!r}")
        if now is not None and now.utcoffset() is None:
            raise ValueError(f"now: expected an aware datetime, got {now!r}")
        saved_at = (now or datetime.now(UTC)).astimezone(UTC)
        content = {"version": VERSION, "journal_seq": journal_seq, "saved_at": saved_at.isoformat()}
        payload = pickle.dumps({**content, "state": state}, protocol=PICKLE_PROTOCOL)
        header = _MAGIC + _HEADER.pack(len(payload), zlib.crc32(payload))
        with self._lock:
            self._generation += 1
            final = self.directory / f"checkpoint-{self._generation:012d}-{journal_seq}.pickle"
            temp = self.directory / f"{_TEMP_PREFIX}{self._generation:012d}-{os.getpid()}{_TEMP_SUFFIX}"
            try:
                with temp.open("wb") as out:
                    out.write(header)
                    out.write(payload)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temp, final)
            except BaseException:
                temp.unlink(missing_ok=True)
                raise
            self._sync_directory()
            self._prune()
        return final

    def _prune(self) -> None:
        for _gen, _seq, path in self._files()[: -self.keep]:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("cannot remove old checkpoint %s: %s", path.name, exc)

    # -- reading -------------------------------------------------------------------------------
    def load_latest(self) -> Checkpoint | None:
        """The newest checkpoint that reads back intact; None when there is none.

        A damaged newest file is logged and skipped in favour of the next older one.
        """
        for _gen, _seq, path in reversed(self._files()):
            try:
                return self.load(path)
            except (OSError, CheckpointError) as exc:
                log.error("checkpoint %s is unusable, trying an older one: %s", path.name, exc)
        return None

    def load(self, path: Path) -> Checkpoint:
        """Read one checkpoint file; :class:`CheckpointError` if it is damaged or foreign."""
        data = Path(path).read_bytes()
        head = len(_MAGIC) + _HEADER.size
        if len(data) < head or not data.startswith(_MAGIC):
            raise CheckpointError("not a checkpoint file (bad header)")
        length, crc = _HEADER.unpack_from(data, len(_MAGIC))
        payload = memoryview(data)[head:]
        if len(payload) != length:
            raise CheckpointError(f"truncated or padded: {len(payload)} bytes of payload, expected {length}")
        if zlib.crc32(payload) != crc:
            raise CheckpointError("checksum mismatch (damaged file)")
        try:
            content = pickle.loads(payload)
        except Exception as exc:  # a class renamed or removed since the checkpoint was written
            raise CheckpointError(f"cannot unpickle: {type(exc).__name__}: {exc}") from exc
        if not isinstance(content, dict) or content.get("version") not in READS:
            version = content.get("version") if isinstance(content, dict) else None
            older = ", ".join(str(v) for v in sorted(READS - {VERSION}))
            raise CheckpointError(
                f"unsupported checkpoint version {version!r}: this radar reads version {VERSION}"
                f" (and {older}, migrated on load) only"
                " (a checkpoint of another release; its state cannot be restored)"
            )
        try:
            return Checkpoint(
                journal_seq=int(content["journal_seq"]),
                saved_at=datetime.fromisoformat(content["saved_at"]).astimezone(UTC),
                state=content["state"],
                path=Path(path),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"malformed checkpoint content: {exc!r}") from exc

    def oldest_journal_seq(self) -> int | None:
        """The smallest journal sequence number among the kept checkpoints (None if there are none).

        Journal segments up to this number are covered by every kept checkpoint, so deleting
        them keeps a fallback to an older checkpoint lossless.
        """
        seqs = [seq for _gen, seq, _path in self._files()]
        return min(seqs) if seqs else None

    def paths(self) -> list[Path]:
        """Checkpoint files, oldest first."""
        return [path for _gen, _seq, path in self._files()]

    # -- internals -----------------------------------------------------------------------------
    def _files(self) -> list[tuple[int, int, Path]]:
        found = []
        for path in self.directory.iterdir():
            match = _NAME.match(path.name)
            if match:
                found.append((int(match.group(1)), int(match.group(2)), path))
        found.sort()
        return found

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
