"""Access statistics off the read path: reads are counted in memory and written to the shared
store in batches, one record per flush, `accesses/<hour>/<µs>-<writer>-<seq>.json`.

A read appends to a list and returns; a flush runs in the background at most `interval`
seconds after the first read it carries, or as soon as `max_reads` reads wait, and on
`close`. A process killed in between loses the reads it had not flushed: at most one
interval's worth (or `max_reads`). Batches are append-only and never rewritten; every index
counts them by following the store (`pit.artifacts.follow`), so every machine counts the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pit.artifacts.index_port import Access
from pit.artifacts.index_query import from_micros, to_micros
from pit.artifacts.records import RecordStore, StampedKeys
from pit.common.errors import IntegrityError, PitError
from pit.common.logging import get_logger

log = get_logger("pit.artifacts")
ACCESSES_PREFIX = "accesses/"
FLUSH_INTERVAL = 1.0
"""Seconds a read waits in memory at most before its batch is written."""
FLUSH_READS = 1000
"""Reads that make a flush start at once."""
BATCH_LIMIT = 10_000
"""Reads per record at most (a backlog is written as several records)."""
MAX_PENDING = 100_000
"""Reads kept in memory while the store cannot be written; beyond this the oldest are
dropped (and a warning says how many)."""
_SCHEMA = 1

Written = Callable[[str, Sequence[Access]], Any]
"""Called after a batch is in the store, with its key and reads (the store counts it in its
own index then)."""


def batch_bytes(accesses: Sequence[Access]) -> bytes:
    rows = [[access.name, access.version, to_micros(access.at)] for access in accesses]
    return json.dumps({"schema": _SCHEMA, "accesses": rows}, separators=(",", ":")).encode()


def parse_batch(data: bytes, key: str) -> list[Access]:
    """The reads of a stored batch; IntegrityError when the bytes are not one."""
    try:
        body = json.loads(data)
        return [
            Access(str(name), int(version), from_micros(int(at_us)))
            for name, version, at_us in body["accesses"]
        ]
    except (ValueError, TypeError, KeyError) as error:
        raise IntegrityError(f"access batch {key} is corrupt: {error}", key=key) from None


class AccessRecorder:
    """Counts reads in memory and writes them to `records` in batches, off the read path."""

    def __init__(
        self,
        records: RecordStore,
        *,
        interval: float = FLUSH_INTERVAL,
        max_reads: int = FLUSH_READS,
        written: Written | None = None,
    ) -> None:
        self.records = records
        self.keys = StampedKeys(ACCESSES_PREFIX)
        self.interval = interval
        self.max_reads = max_reads
        self._written = written
        self._pending: list[Access] = []
        self.flushed = 0
        """Reads written to the store so far by this recorder."""
        self._timer: asyncio.TimerHandle | None = None
        self._due: float | None = None
        self._failing = False
        """The last write failed: the next waits an interval, however many reads wait."""
        """When (monotonic) the reads waiting now must be on their way to the store."""
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def pending(self) -> int:
        """Reads counted in memory and not yet in the store."""
        return len(self._pending)

    def record(self, name: str, version: int, at: datetime) -> bool:
        """Count one read now; the write happens later, in the background. True when a
        flush is due: the caller lets the event loop run once (`await asyncio.sleep(0)`), so
        a reader that never waits for anything else still lets the flush happen."""
        self._pending.append(Access(name, version, at if at.tzinfo else at.replace(tzinfo=UTC)))
        now = time.monotonic()
        if self._due is None:
            self._due = now + self.interval
        full = len(self._pending) >= self.max_reads and not self._failing
        if full or now >= self._due:
            self._start_flush()
            return True
        if self._timer is None and self._task is None:  # for a process that goes idle
            self._timer = asyncio.get_running_loop().call_later(self.interval, self._start_flush)
        return False

    def _start_flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is None:  # a running flush takes what came meanwhile before it ends
            self._due = None
            self._task = asyncio.get_running_loop().create_task(self._background())

    async def _background(self) -> None:
        try:
            await self.flush()
        except Exception:  # a bug: said, never silently dropped with the task
            log.exception("writing access statistics failed")
        finally:
            self._task = None
            if self._pending:  # failed, or more came: not before another interval
                self._due = time.monotonic() + self.interval
                if self._timer is None:
                    loop = asyncio.get_running_loop()
                    self._timer = loop.call_later(self.interval, self._start_flush)

    async def flush(self) -> None:
        """Write every read counted so far, in order; a store that cannot be written keeps
        them in memory for the next try (and says so)."""
        async with self._lock:
            while self._pending:
                batch = self._pending[:BATCH_LIMIT]
                del self._pending[: len(batch)]
                key = self.keys.next_key()
                try:
                    await self.records.create_record(key, batch_bytes(batch), durable=False)
                except PitError as error:
                    self._failing = True
                    self._pending[:0] = batch
                    self._shed()
                    log.warning("%d reads not yet counted in the store: %s", self.pending, error)
                    return
                self.flushed += len(batch)
                self._failing = False
                if self._written is not None:
                    await self._written(key, batch)

    def _shed(self) -> None:
        excess = len(self._pending) - MAX_PENDING
        if excess > 0:
            del self._pending[:excess]
            log.warning("%d reads dropped from the access statistics: the store is away", excess)

    async def close(self) -> None:
        """Write what is left (the end of a process that closes its store)."""
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        await self.flush()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
