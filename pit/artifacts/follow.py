"""Following a stream of store records: how an index catches up with what every machine did.

A stream is the records under one prefix (`log/`, `accesses/`), keyed by the time they were
made (`StampedKeys`). The index remembers which keys it has applied; a catch-up lists the keys
from a little before the greatest one it applied (`SETTLE` earlier: a record may appear that
much behind its key's time, from clock skew between machines and slow writes), applies those
it has not, and remembers them. Applying a record twice changes nothing, so two processes
catching up at once, or a crash between applying and remembering, cost time, never counts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from pit.artifacts.index_port import SearchIndex
from pit.artifacts.records import RecordStore, StampedKeys, stamp_of
from pit.common.clock import Clock, SystemClock

SETTLE = timedelta(minutes=5)
"""How far behind its key's time a record may appear and still be read: the clock skew between
machines plus the longest write. A machine whose clock runs further behind than this can write
records other machines never read (`pit artifact reindex` catches those up)."""
_READ_PARALLEL = 16

OWN_LIMIT = 10_000
"""Own keys kept in memory at most; the oldest half goes beyond that (read again later)."""

Fetched = tuple[str, bytes | None]
"""A record's key and bytes (None: it was removed after it was listed)."""
Apply = Callable[[Sequence[Fetched]], Awaitable[None]]


class OwnKeys:
    """Keys of records this process wrote and applied to its own index already."""

    def __init__(self, limit: int = OWN_LIMIT) -> None:
        self._keys: set[str] = set()
        self._limit = limit

    def add(self, key: str) -> None:
        self._keys.add(key)
        if len(self._keys) > self._limit:
            for old in sorted(self._keys)[: self._limit // 2]:
                self._keys.discard(old)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def forget_before(self, micros: int) -> None:
        for key in [key for key in self._keys if (stamp_of(key) or 0) < micros]:
            self._keys.discard(key)


class Follower:
    """Catches `index` up with the records under `prefix`, at most once per `min_interval`
    seconds unless forced.

    `own` holds keys this process wrote and applied itself (they are remembered, not read
    again). `bootstrap`, when given, is what a never-followed index runs instead of reading
    the whole stream (the change log rebuilds from manifests); `max_age` makes an index whose
    greatest key is older than that bootstrap again (the stream may have been compacted).
    """

    def __init__(
        self,
        records: RecordStore,
        index: SearchIndex,
        prefix: str,
        apply: Apply,
        *,
        own: OwnKeys,
        bootstrap: Callable[[], Awaitable[object]] | None = None,
        max_age: timedelta | None = None,
        min_interval: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        self.records = records
        self.index = index
        self.keys = StampedKeys(prefix)
        self.stream = f"{records.url}#{prefix.rstrip('/')}"
        self._apply = apply
        self._own = own
        self._bootstrap = bootstrap
        self._max_age = max_age
        self._min_interval = min_interval
        self._clock = clock or SystemClock()
        self._last: float | None = None
        self._lock = asyncio.Lock()

    async def catch_up(self, *, force: bool = False) -> int:
        """Apply what the index has not read yet; how many records that was."""
        if not force and self._recently():
            return 0
        async with self._lock:
            if not force and self._recently():
                return 0  # another task caught up while this one waited
            self._last = self._clock.monotonic()
            return await self._catch_up()

    def _recently(self) -> bool:
        return self._last is not None and self._clock.monotonic() - self._last < self._min_interval

    async def _catch_up(self) -> int:
        seen = await self.index.followed(self.stream)
        now_us = time.time_ns() // 1000
        latest = stamp_of(max(seen)) if seen else None
        too_old = self._max_age is not None and now_us - _micros(self._max_age)
        if latest is not None and too_old and latest < too_old:
            seen, latest = frozenset(), None
        marks: list[str] = []
        if latest is not None:
            after = self.keys.key_at(latest - _micros(SETTLE))
        elif self._bootstrap is not None:
            after = self.keys.key_at(now_us - _micros(SETTLE))
            marks.append(after)  # where a later catch-up starts, even if nothing comes
            await self._bootstrap()
        else:
            after = ""
        listed = [key async for key in self.records.list_records(self.keys.prefix, after=after)]
        todo = [key for key in listed if key not in seen and key not in self._own]
        await self._apply(await self._read(todo))
        marks += todo + [key for key in listed if key in self._own]
        if marks:
            newest = max([*marks, *seen])
            forget = self.keys.key_at((stamp_of(newest) or 0) - _micros(SETTLE))
            await self.index.mark_followed(self.stream, marks, forget_before=forget)
        # older own keys are marked by now, or read again (harmlessly)
        self._own.forget_before(now_us - 2 * _micros(SETTLE))
        return len(todo)

    async def _read(self, keys: list[str]) -> list[Fetched]:
        limit = asyncio.Semaphore(_READ_PARALLEL)

        async def one(key: str) -> Fetched:
            async with limit:
                return key, await self.records.read_record(key)

        return list(await asyncio.gather(*(one(key) for key in keys)))


def _micros(span: timedelta) -> int:
    return int(span.total_seconds() * 1_000_000)
