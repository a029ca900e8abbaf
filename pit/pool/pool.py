"""The model pool: leases on hot models, single-flight loads, eviction under a budget.

A hit touches two dicts and an `OrderedDict` and awaits nothing. What to unload when memory
is needed is the eviction policy's call (`pit.pool.eviction`: GDSF by default, LRU on
request); memory accounting and the cooling tier live in `pit.pool.memory`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping

from pit.common.clock import Clock, SystemClock
from pit.common.errors import InvalidTransitionError, NotFoundError
from pit.pool.entry import PoolEntry
from pit.pool.eviction import POLICIES, EvictionPolicy
from pit.pool.lease import Acquisition, Lease
from pit.pool.loader import ModelLoader, describe_error
from pit.pool.memory import (
    Admit,
    MayEvict,
    PoolMemory,
    PrewarmListener,
    TransitionListener,
    log,
)
from pit.pool.spec import ModelSpec
from pit.pool.states import ModelState, StateRecord
from pit.pool.stats import ModelStatus, PoolStats

AcquireListener = Callable[[str, str | None, bool], None]
"""Called on every acquisition with (model id, session, hit)."""

__all__ = ["AcquireListener", "ModelPool", "TransitionListener"]

_HOT = ModelState.HOT
_LOADABLE = (ModelState.COLD, ModelState.FAILED)


class ModelPool(PoolMemory):
    """Models from `models`, each loaded by `loaders[model.loader.kind]`, within `budget`
    accelerator bytes (and `host_budget` host bytes for models cooled to sleep)."""

    def __init__(
        self,
        models: Iterable[ModelSpec],
        *,
        budget: int,
        loaders: Mapping[str, ModelLoader],
        clock: Clock | None = None,
        capacity_wait: float = 0.0,
        eviction: str | EvictionPolicy = "gdsf",
        host_budget: int = 0,
    ) -> None:
        self.clock = clock or SystemClock()
        self.budget = budget
        self.host_budget = host_budget
        self.capacity_wait = capacity_wait
        self.eviction = POLICIES[eviction]() if isinstance(eviction, str) else eviction
        self.stats = PoolStats()
        now = self.clock.monotonic()
        self._entries = {}
        for spec in models:
            loader = loaders.get(spec.loader.kind)
            if loader is None:
                raise NotFoundError(f"model {spec.id}: no loader for kind {spec.loader.kind!r}")
            self._entries[spec.id] = PoolEntry(spec, loader, now)
        self._init_memory()
        self._acquire_listeners: list[AcquireListener] = []

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

    def add_prewarm_listener(self, listener: PrewarmListener) -> None:
        self._prewarm_listeners.append(listener)

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
        return self._entry(model_id).idle

    def is_prewarmed(self, model_id: str) -> bool:
        """Loaded by a prewarm and not acquired since."""
        return self._entry(model_id).prewarmed_at is not None

    def is_asleep(self, model_id: str) -> bool:
        """In the cooling tier: held in host memory, woken on its next acquire."""
        return self._entry(model_id).asleep

    def memory(self, model_id: str) -> int:
        """The accelerator bytes the model takes when resident."""
        return self._entry(model_id).memory

    def handle(self, model_id: str) -> object | None:
        return self._entry(model_id).handle

    def lru_order(self) -> list[str]:
        """Hot models, least recently used first."""
        return list(self._lru)

    def status(self) -> list[ModelStatus]:
        return [
            ModelStatus(
                id=entry.model_id,
                state=str(entry.record.state),
                memory_bytes=entry.memory,
                since_ms=entry.record.entered_ms(),
                hits=entry.hits,
                leases=entry.leases,
                cold_starts=entry.cold_starts,
                asleep=entry.asleep,
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
        self,
        model_id: str,
        may_evict: MayEvict | None = None,
        admit: Admit | None = None,
    ) -> asyncio.Task[None] | None:
        """Start loading (or waking) a model nobody asked for yet, if it fits by evicting
        only idle models `may_evict` allows (all idle ones if None) and `admit` accepts
        (the whole set, least worth keeping first). None when it is resident, loading, or
        would not fit now; a prewarm never waits for memory."""
        entry = self._entry(model_id)
        if entry.loading is not None or not (
            entry.record.state in _LOADABLE or (entry.asleep and entry.cooling is None)
        ):
            return None
        victims = self._victims(entry.memory, may_evict, entry)
        if victims is None or (
            victims and admit is not None and not admit([victim.model_id for victim in victims])
        ):
            return None
        task = asyncio.get_running_loop().create_task(
            self._load(entry, deadline=None, may_evict=may_evict, admit=admit, prewarm=True)
        )
        entry.loading = task
        return task

    async def cool(self, model_id: str) -> bool:
        """Unload a hot, idle model (to the cooling tier when its runtime can sleep and the
        host budget has room); False (and nothing changes) when it is not hot and idle."""
        entry = self._entry(model_id)
        if entry.record.state is not _HOT or not entry.idle:
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
        log.warning("model %s failed: %s", model_id, reason or "no reason given")
        if handle is not None:
            self._background_task(self._unload_quietly(entry, handle))

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

    def _entry(self, model_id: str) -> PoolEntry:
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
        entry.cold_starts += 1
        for listener in self._acquire_listeners:
            listener(model_id, session, False)
        wait = self.capacity_wait if timeout is None else timeout
        deadline = self.clock.monotonic() + wait
        entry.waiters += 1
        try:
            while entry.record.state is not _HOT:
                if entry.loading is None:
                    entry.loading = asyncio.get_running_loop().create_task(
                        self._load(entry, deadline=deadline, may_evict=None, admit=None)
                    )
                await asyncio.shield(entry.loading)
        finally:
            entry.waiters -= 1
        self._lru.move_to_end(model_id)
        if entry.prewarmed_at is not None:
            self._prewarm_used(entry)
        entry.uses += 1
        entry.credit = self.inflation
        entry.leases += 1
        return Lease(self, entry)

    async def _load(
        self,
        entry: PoolEntry,
        *,
        deadline: float | None,
        may_evict: MayEvict | None,
        admit: Admit | None,
        prewarm: bool = False,
    ) -> None:
        try:
            if entry.cooling is not None:
                await asyncio.shield(entry.cooling)
            if entry.record.state is _HOT:
                return
            if not await self._make_room(entry, entry.memory, deadline, may_evict, admit):
                return
            waking = entry.asleep
            self._move(entry, ModelState.WARMING)
            if prewarm:
                entry.prewarmed_at = self.clock.monotonic()
                self.stats.prewarms += 1
            try:
                if waking:
                    await self._wake(entry)
                else:
                    entry.handle = await entry.loader.load(entry.spec)
                    await self._settle_footprint(entry)
            except BaseException as error:
                self._load_failed(entry, error, waking)
                raise
            if not waking:
                self.stats.loads += 1
            entry.uses = 0
            entry.credit = self.inflation
            self._move(entry, _HOT)
            self._lru[entry.model_id] = None
        finally:
            entry.loading = None
            self._changed()

    async def _wake(self, entry: PoolEntry) -> None:
        sleeper = entry.sleeper
        assert sleeper is not None and entry.handle is not None
        await sleeper.wake(entry.spec, entry.handle)
        self.host_reserved -= sleeper.host_memory(entry.spec)
        self.stats.wakes += 1

    def _load_failed(self, entry: PoolEntry, error: BaseException, waking: bool) -> None:
        # a load cancelled by aclose() (a prewarm still running when a replay ends) is not
        # the model's fault: named, logged at info, not counted as a failure
        cancelled = isinstance(error, asyncio.CancelledError)
        if not cancelled:
            self.stats.load_failures += 1
        self._prewarm_wasted(entry)
        handle, entry.handle = entry.handle, None
        if waking:  # a model that cannot wake leaves the host tier too
            self.host_reserved -= self._host_size(entry)
        self._move(entry, ModelState.FAILED)
        action = "wake" if waking else "load"
        level = logging.INFO if cancelled else logging.WARNING
        log.log(level, "model %s failed to %s: %s", entry.model_id, action, describe_error(error))
        if handle is not None:
            self._background_task(self._unload_quietly(entry, handle))
