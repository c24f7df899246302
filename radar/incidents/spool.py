"""The store spool: writes the incident store could not take, kept on disk until it can.

When the incident store is down (PostgreSQL restarting, a full disk), the radar goes on detecting
and alerting; what it would have written goes into the spool instead: one JSON line per write,
flushed and fsynced before the call returns, so a restart in the middle of the outage loses
nothing. Once the store answers again, :meth:`StoreSpool.drain` hands the writes back in the order
they were made (every store write is idempotent by key, so one applied twice changes nothing) and
the file is emptied.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "store-spool.jsonl"
>>> spool = StoreSpool(path)
>>> spool.add("add_entry", ["acme:crisis:1", {"key": "k1"}])
>>> len(StoreSpool(path))  # what a restart finds
1
>>> spool.drain(lambda op, args: print(op, args[0]))
add_entry acme:crisis:1
1
>>> len(spool), path.read_text()
(0, '')
"""

from __future__ import annotations

import json
import logging
import os
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Write = tuple[str, list[Any]]  # the store method's name, and its arguments as JSON values


class StoreSpool:
    """Pending store writes, in order, in memory and (with ``path``) in a JSON-lines file.

    Parameters
    ----------
    path
        The spool file (created when first needed); None keeps the writes in memory only.
    fsync
        Sync the file after every write (what makes it survive a power loss).
    """

    def __init__(self, path: Path | None = None, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        self._pending: deque[Write] = deque()
        if path is not None and path.exists():
            self._pending.extend(self._read(path))

    def __len__(self) -> int:
        return len(self._pending)

    @staticmethod
    def _read(path: Path) -> list[Write]:
        writes: list[Write] = []
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    writes.append((str(record["op"]), list(record["args"])))
                except (ValueError, KeyError, TypeError):  # a torn last line: never acknowledged
                    log.warning("store spool %s: line %d is not a write, skipped", path, number)
        return writes

    def add(self, op: str, args: list[Any]) -> None:
        """Keep one write (``op``: the store method, ``args``: JSON values) until the store takes it."""
        line = json.dumps({"op": op, "args": args}, ensure_ascii=False, separators=(",", ":"))
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
                fh.flush()
                if self.fsync:
                    os.fsync(fh.fileno())
        self._pending.append((op, json.loads(line)["args"]))  # as a restart would read it back

    def drain(self, apply: Callable[[str, list[Any]], Any]) -> int:
        """Apply the pending writes in order; returns how many were applied.

        Stops at the first write ``apply`` raises on, and re-raises: that write and those after it
        stay pending (the file is rewritten to hold just them).
        """
        done = 0
        try:
            while self._pending:
                op, args = self._pending[0]
                apply(op, args)
                self._pending.popleft()
                done += 1
        finally:
            if done:
                self._rewrite()
        return done

    def _rewrite(self) -> None:
        """The file holds exactly the pending writes (replaced atomically)."""
        if self.path is None:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            for op, args in self._pending:
                fh.write(
                    json.dumps({"op": op, "args": args}, ensure_ascii=False, separators=(",", ":")) + "\n"
                )
            fh.flush()
            if self.fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, self.path)
