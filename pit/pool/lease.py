"""Leases on hot models, and the acquire context manager whose hit path awaits nothing."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from types import TracebackType
from typing import Protocol

from pit.pool.entry import PoolEntry
from pit.pool.states import ModelState
from pit.pool.stats import PoolStats


class LeasingPool(Protocol):
    """What leases and acquisitions use of `pit.pool.ModelPool`: its own bookkeeping (these
    two classes are the pool's hit path, kept apart only to keep the files small)."""

    inflation: float
    stats: PoolStats
    _entries: dict[str, PoolEntry]
    _lru: OrderedDict[str, None]
    _capacity_waiters: int
    _acquire_listeners: list[Callable[[str, str | None, bool], None]]

    def _changed(self) -> None: ...

    def _prewarm_used(self, entry: PoolEntry) -> None: ...

    async def _acquire_slow(
        self, model_id: str, session: str | None, timeout: float | None
    ) -> Lease: ...


_HOT = ModelState.HOT


class Lease:
    """The right to use a hot model's handle until released; a leased model is never evicted."""

    __slots__ = ("_entry", "_pool", "handle", "hit", "model_id", "released")

    def __init__(self, pool: LeasingPool, entry: PoolEntry, hit: bool = False) -> None:
        self._pool = pool
        self._entry = entry
        self.model_id = entry.spec.id
        self.handle = entry.handle
        self.hit = hit
        """The model was hot when asked for: the acquire awaited nothing."""
        self.released = False

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        entry = self._entry
        entry.leases -= 1
        if entry.leases == 0 and self._pool._capacity_waiters:
            self._pool._changed()


class Acquisition:
    """What `ModelPool.acquire` returns: enter it to get a `Lease`."""

    __slots__ = ("_lease", "_model_id", "_pool", "_session", "_timeout")

    def __init__(
        self, pool: LeasingPool, model_id: str, session: str | None, timeout: float | None
    ) -> None:
        self._pool = pool
        self._model_id = model_id
        self._session = session
        self._timeout = timeout
        self._lease: Lease | None = None

    async def __aenter__(self) -> Lease:
        pool = self._pool
        entry = pool._entries.get(self._model_id)
        if entry is not None and entry.record.state is _HOT:
            # the fast path: no await, O(1) recency and frequency updates
            pool._lru.move_to_end(self._model_id)
            entry.leases += 1
            entry.hits += 1
            entry.uses += 1
            entry.credit = pool.inflation
            stats = pool.stats
            stats.requests += 1
            stats.hits += 1
            if entry.prewarmed_at is not None:
                pool._prewarm_used(entry)
            for listener in pool._acquire_listeners:
                listener(self._model_id, self._session, True)
            self._lease = Lease(pool, entry, True)
            return self._lease
        self._lease = await pool._acquire_slow(self._model_id, self._session, self._timeout)
        return self._lease

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._lease is not None:
            self._lease.release()
