"""The model pool: leases on hot models, single-flight loads, LRU eviction under a budget.

Memory is reserved before a load starts and released only when an unload has finished, so
the bytes of warming, hot and cooling models never exceed the budget, not even for a moment.
A hit touches a dict and an `OrderedDict` and awaits nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping

from pit.common.clock import Clock, SystemClock
from pit.common.errors import CapacityError, InvalidTransitionError, NotFoundError
from pit.common.logging import get_logger
from pit.pool.lease import Acquisition, Lease
from pit.pool.loader import ModelLoader
from pit.pool.spec import ModelSpec
from pit.pool.states import RESIDENT, ModelState, StateRecord
from pit.pool.stats import ModelStatus, PoolStats

log = get_logger("pit.pool")

AcquireListener = Callable[[str, str | None, bool], None]
"""Called on every acquisition with (model id, session, hit)."""
TransitionListener = Callable[[str, ModelState, ModelState], None]
"""Called on every state change with (model id, from, to)."""

_HOT = ModelState.HOT


class _Entry:
    __slots__ = (
        "cooling",
        "handle",
        "hits",
        "leases",
        "loader",
        "loading",
        "prewarmed_at",
        "record",
        "spec",
        "waiters",
    )

    def __init__(self, spec: ModelSpec, loader: ModelLoader, now: float) -> None:
        self.spec = spec
        self.loader = loader
        self.record = StateRecord(spec.id, now)
        self.handle: object | None = None
        self.leases = 0
        self.waiters = 0
        self.hits = 0
        self.loading: asyncio.Task[None] | None = None
        self.cooling: asyncio.Task[None] | None = None
        self.prewarmed_at: float | None = None


class ModelPool:
    """Models from `models`, each loaded by `loaders[model.loader.kind]`, within `budget`."""

    def __init__(
        self,
        models: Iterable[ModelSpec],
        *,
        budget: int,
        loaders: Mapping[str, ModelLoader],
        clock: Clock | None = None,
        capacity_wait: float = 0.0,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.budget = budget
        self.capacity_wait = capacity_wait
        self.stats = PoolStats()
        self.reserved = 0
        now = self.clock.monotonic()
        self._entries: dict[str, _Entry] = {}
        for spec in models:
            loader = loaders.get(spec.loader.kind)
            if loader is None:
                raise NotFoundError(f"model {spec.id}: no loader for kind {spec.loader.kind!r}")
            self._entries[spec.id] = _Entry(spec, loader, now)
        self._lru: OrderedDict[str, None] = OrderedDict()
        self._acquire_listeners: list[AcquireListener] = []
        self._transition_listeners: list[TransitionListener] = []
        self._capacity_waiters = 0
        self._change = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()

    # --- public API -----------------------------------------------------------------------

    def acquire(
        self, model_id: str, *, session: str | None = None, timeout: float | None = None
    ) -> Acquisition:
        """`async with pool.acquire(id) as lease:` use `lease.handle`. `timeout` bounds the
        wait for memory when nothing can be evicted (default: the pool's `capacity_wait`)."""
        return Acquisition(self, model_id, session, timeout)

    def add_acquire_listener(self, listener: AcquireListener) -> None:
        self._acquire_listeners.append(listener)

    def add_transition_listener(self, listener: TransitionListener) -> None:
        self._transition_listeners.append(listener)

    def spec(self, model_id: str) -> ModelSpec:
        return self._entry(model_id).spec

    @property
    def model_ids(self) -> list[str]:
        return list(self._entries)

    def state(self, model_id: str) -> ModelState:
        return self._entry(model_id).record.state

    def record(self, model_id: str) -> StateRecord:
        return self._entry(model_id).record

    def is_idle(self, model_id: str) -> bool:
        entry = self._entry(model_id)
        return entry.leases == 0 and entry.waiters == 0

    def handle(self, model_id: str) -> object | None:
        return self._entry(model_id).handle

    def lru_order(self) -> list[str]:
        """Hot models, least recently used first."""
        return list(self._lru)

    def status(self) -> list[ModelStatus]:
        return [
            ModelStatus(
                id=entry.spec.id,
                state=str(entry.record.state),
                memory_bytes=entry.spec.memory_bytes,
                since_ms=entry.record.entered_ms(),
                hits=entry.hits,
                leases=entry.leases,
            )
            for entry in self._entries.values()
        ]

    def hot_models(self) -> list[str]:
        return list(self._lru)

    async def health_check(self, model_id: str) -> bool:
        """Ask the model's loader whether its handle still answers."""
        entry = self._entry(model_id)
        if entry.handle is None:
            return False
        return await entry.loader.health_check(entry.spec, entry.handle)

    async def warm(self, model_id: str, *, timeout: float | None = None) -> None:
        """Load `model_id` now (single flight with any acquire); no lease is kept."""
        async with self.acquire(model_id, timeout=timeout):
            pass

    def prewarm(
        self, model_id: str, may_evict: Callable[[str], bool] | None = None
    ) -> asyncio.Task[None] | None:
        """Start loading a model nobody asked for yet, if it fits by evicting only idle models
        `may_evict` allows (all idle ones if None). None when it is resident or would not fit."""
        entry = self._entry(model_id)
        if entry.loading is not None or entry.record.state not in (
            ModelState.COLD,
            ModelState.FAILED,
        ):
            return None
        if self._victims(entry.spec.memory_bytes, may_evict, entry) is None:
            return None
        task = asyncio.get_running_loop().create_task(
            self._load(entry, deadline=None, may_evict=may_evict, prewarm=True)
        )
        entry.loading = task
        return task

    async def cool(self, model_id: str) -> bool:
        """Unload a hot, idle model; False (and nothing changes) when it is not both."""
        entry = self._entry(model_id)
        if entry.record.state is not _HOT or entry.leases or entry.waiters:
            return False
        await self._start_cooling(entry)
        return True

    def fail(self, model_id: str, reason: str) -> None:
        """A hot model stopped working: hot -> failed; its memory is released."""
        entry = self._entry(model_id)
        if entry.record.state is ModelState.WARMING:
            raise InvalidTransitionError(
                f"model {model_id}: a warming model fails through its load, not fail()",
                model=model_id,
            )
        handle = entry.handle
        self._move(entry, ModelState.FAILED)
        self._lru.pop(model_id, None)
        self.stats.failures += 1
        entry.handle = None
        log.warning("model %s failed: %s", model_id, reason)
        if handle is not None:
            loop = asyncio.get_running_loop()
            task = loop.create_task(self._unload_quietly(entry, handle))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def recover(self, model_id: str) -> None:
        """Reload a failed model (failed -> warming -> hot)."""
        await self.warm(model_id)

    def give_up(self, model_id: str) -> None:
        """A failed model stays down: failed -> cold."""
        self._move(self._entry(model_id), ModelState.COLD)

    def settle_prewarm_accounting(self) -> None:
        """Count still-unused prewarms as wasted up to now (end of a simulation)."""
        for entry in self._entries.values():
            if entry.prewarmed_at is not None:
                self._prewarm_wasted(entry)

    async def aclose(self) -> None:
        """Wait for background unloads; cancel loads still running."""
        for entry in self._entries.values():
            if entry.loading is not None:
                entry.loading.cancel()
        pending = [t for t in self._background if not t.done()]
        pending += [e.loading for e in self._entries.values() if e.loading is not None]
        pending += [e.cooling for e in self._entries.values() if e.cooling is not None]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    # --- slow path --------------------------------------------------------------------------

    def _entry(self, model_id: str) -> _Entry:
        entry = self._entries.get(model_id)
        if entry is None:
            raise NotFoundError(f"model {model_id!r} is not declared in the pool", model=model_id)
        return entry

    async def _acquire_slow(
        self, model_id: str, session: str | None, timeout: float | None
    ) -> Lease:
        entry = self._entry(model_id)
        self.stats.requests += 1
        self.stats.cold_starts += 1
        for listener in self._acquire_listeners:
            listener(model_id, session, False)
        wait = self.capacity_wait if timeout is None else timeout
        deadline = self.clock.monotonic() + wait
        entry.waiters += 1
        try:
            while entry.record.state is not _HOT:
                if entry.loading is None:
                    entry.loading = asyncio.get_running_loop().create_task(
                        self._load(entry, deadline=deadline, may_evict=None, prewarm=False)
                    )
                await asyncio.shield(entry.loading)
        finally:
            entry.waiters -= 1
        self._lru.move_to_end(model_id)
        if entry.prewarmed_at is not None:
            self._prewarm_used(entry)
        entry.leases += 1
        return Lease(self, entry)

    async def _load(
        self,
        entry: _Entry,
        *,
        deadline: float | None,
        may_evict: Callable[[str], bool] | None,
        prewarm: bool,
    ) -> None:
        try:
            if entry.cooling is not None:
                await asyncio.shield(entry.cooling)
            if not await self._make_room(entry, deadline, may_evict):
                return
            self._move(entry, ModelState.WARMING)
            if prewarm:
                entry.prewarmed_at = self.clock.monotonic()
                self.stats.prewarms += 1
            try:
                entry.handle = await entry.loader.load(entry.spec)
            except BaseException as error:
                self.stats.load_failures += 1
                self._prewarm_wasted(entry)
                self._move(entry, ModelState.FAILED)
                log.warning("model %s failed to load: %s", entry.spec.id, error)
                raise
            self.stats.loads += 1
            self._move(entry, ModelState.HOT)
            self._lru[entry.spec.id] = None
        finally:
            entry.loading = None
            self._changed()

    def _victims(
        self, size: int, may_evict: Callable[[str], bool] | None, exclude: _Entry
    ) -> list[_Entry] | None:
        """Idle hot models, least recently used first, whose eviction makes `size` fit
        (counting memory already being released); None when that is impossible."""
        need = self.reserved + size - self.budget
        need -= sum(e.spec.memory_bytes for e in self._entries.values() if e.cooling is not None)
        victims: list[_Entry] = []
        for model_id in self._lru:
            if need <= 0:
                break
            candidate = self._entries[model_id]
            if candidate is exclude or candidate.leases or candidate.waiters:
                continue
            if may_evict is not None and not may_evict(model_id):
                continue
            victims.append(candidate)
            need -= candidate.spec.memory_bytes
        return victims if need <= 0 else None

    async def _make_room(
        self, entry: _Entry, deadline: float | None, may_evict: Callable[[str], bool] | None
    ) -> bool:
        size = entry.spec.memory_bytes
        if size > self.budget:
            raise CapacityError(
                f"model {entry.spec.id} needs {size} bytes; the budget is {self.budget}",
                model=entry.spec.id,
                memory_bytes=size,
                budget_bytes=self.budget,
            )
        while self.reserved + size > self.budget:
            victims = self._victims(size, may_evict, entry)
            if victims:
                await asyncio.gather(*(self._start_cooling(victim) for victim in victims))
                continue
            cooling = [e.cooling for e in self._entries.values() if e.cooling is not None]
            if victims is not None and cooling:
                await asyncio.gather(*(asyncio.shield(c) for c in cooling))
                continue
            if deadline is None:
                return False  # a prewarm never waits for someone else's lease
            await self._wait_for_change(entry, deadline)
        return True

    async def _wait_for_change(self, entry: _Entry, deadline: float) -> None:
        remaining = deadline - self.clock.monotonic()
        if remaining <= 0:
            raise CapacityError(
                f"model {entry.spec.id}: {entry.spec.memory_bytes} bytes do not fit in "
                f"{self.budget - self.reserved} free bytes and every resident model is in use",
                model=entry.spec.id,
                memory_bytes=entry.spec.memory_bytes,
                free_bytes=self.budget - self.reserved,
            )
        self._capacity_waiters += 1
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._change.wait(), remaining)
        finally:
            self._capacity_waiters -= 1

    def _changed(self) -> None:
        self._change.set()
        self._change = asyncio.Event()

    def _start_cooling(self, entry: _Entry) -> asyncio.Task[None]:
        self._move(entry, ModelState.COOLING)
        self._lru.pop(entry.spec.id, None)
        self.stats.evictions += 1
        self._prewarm_wasted(entry)
        task = asyncio.get_running_loop().create_task(self._finish_cooling(entry))
        entry.cooling = task
        return task

    async def _finish_cooling(self, entry: _Entry) -> None:
        try:
            if entry.handle is not None:
                await self._unload_quietly(entry, entry.handle)
        finally:
            entry.handle = None
            entry.cooling = None
            self._move(entry, ModelState.COLD)
            self._changed()

    async def _unload_quietly(self, entry: _Entry, handle: object) -> None:
        try:
            await entry.loader.unload(entry.spec, handle)
        except Exception as error:  # an unload that fails still frees our accounting
            log.warning("model %s: unload failed: %s", entry.spec.id, error)

    # --- accounting --------------------------------------------------------------------------

    def _move(self, entry: _Entry, target: ModelState) -> None:
        record = entry.record
        was_resident = record.state in RESIDENT
        now_resident = target in RESIDENT
        size = entry.spec.memory_bytes
        if now_resident and not was_resident and self.reserved + size > self.budget:
            raise CapacityError(  # a guard: _make_room makes sure this never happens
                f"model {entry.spec.id}: reserving {size} bytes would exceed the budget"
            )
        previous = record.move(target, self.clock.monotonic())
        if now_resident and not was_resident:
            self.reserved += size
            self.stats.peak_memory_bytes = max(self.stats.peak_memory_bytes, self.reserved)
        elif was_resident and not now_resident:
            self.reserved -= size
        for listener in self._transition_listeners:
            listener(entry.spec.id, previous, target)

    def _prewarm_used(self, entry: _Entry) -> None:
        entry.prewarmed_at = None
        self.stats.prewarms_used += 1

    def _prewarm_wasted(self, entry: _Entry) -> None:
        if entry.prewarmed_at is None:
            return
        seconds = self.clock.monotonic() - entry.prewarmed_at
        self.stats.wasted_prewarm_memory_seconds += entry.spec.memory_bytes * seconds
        entry.prewarmed_at = None
