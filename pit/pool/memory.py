"""The pool's memory: two budgets, the eviction that keeps within them, and the cooling tier.

The accelerator budget (`budget`) holds warming, hot and cooling models. A model whose
runtime can sleep (`SleepingLoader`, e.g. vLLM's sleep mode) may be cooled into the host
budget (`host_budget`) instead of unloaded: it then holds host memory only and wakes far
faster than it loads. Memory is reserved before a load, a wake or a sleep starts and released
only once the runtime call finished, so neither budget is exceeded, not even for a moment.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any

from pit.common.clock import Clock
from pit.common.errors import CapacityError
from pit.common.logging import get_logger
from pit.pool.entry import PoolEntry
from pit.pool.eviction import EvictionPolicy
from pit.pool.loader import describe_error
from pit.pool.states import RESIDENT, ModelState
from pit.pool.stats import PoolStats

log = get_logger("pit.pool")

MayEvict = Callable[[str], bool]
"""Whether a prewarm may unload this model to make room."""
Admit = Callable[[list[str]], bool]
"""Whether a prewarm may go ahead when it must unload these models (least worth first)."""
TransitionListener = Callable[[str, ModelState, ModelState], None]
"""Called on every state change with (model id, from, to)."""
PrewarmListener = Callable[[str, bool], None]
"""Called when a prewarm is settled with (model id, used)."""

_HOT = ModelState.HOT


class PoolMemory:
    """Accounting and eviction; `ModelPool` builds on it."""

    clock: Clock
    budget: int
    host_budget: int
    eviction: EvictionPolicy
    stats: PoolStats
    _entries: dict[str, PoolEntry]

    def _init_memory(self) -> None:
        self.reserved = 0
        """Accelerator bytes held by warming, hot and cooling models (not sleeping ones)."""
        self.host_reserved = 0
        """Host bytes held by models in the cooling tier, and by those going to sleep."""
        self.inflation = 0.0
        """GDSF's L: rises to the priority of every model evicted."""
        self._lru: OrderedDict[str, None] = OrderedDict()
        self._transition_listeners: list[TransitionListener] = []
        self._prewarm_listeners: list[PrewarmListener] = []
        self._capacity_waiters = 0
        self._change = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()

    # --- state and accounting ------------------------------------------------------------

    def _move(self, entry: PoolEntry, target: ModelState, *, asleep: bool = False) -> None:
        record = entry.record
        was_on = record.state in RESIDENT and not entry.asleep
        now_on = target in RESIDENT and not asleep
        size = entry.memory
        if now_on and not was_on and self.reserved + size > self.budget:
            raise CapacityError(  # a guard: _make_room makes sure this never happens
                f"model {entry.model_id}: reserving {size} bytes would exceed the budget"
            )
        previous = record.move(target, self.clock.monotonic())
        entry.asleep = asleep
        if now_on and not was_on:
            self.reserved += size
            self.stats.peak_memory_bytes = max(self.stats.peak_memory_bytes, self.reserved)
        elif was_on and not now_on:
            self.reserved -= size
        for listener in self._transition_listeners:
            listener(entry.model_id, previous, target)

    def _changed(self) -> None:
        self._change.set()
        self._change = asyncio.Event()

    def _background_task(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- choosing what to unload ---------------------------------------------------------

    def _releasing(self) -> int:
        """Accelerator bytes already on their way out (cooling, not yet asleep or cold)."""
        return sum(e.memory for e in self._entries.values() if e.cooling and not e.asleep)

    def _victims(
        self, size: int, may_evict: MayEvict | None, exclude: PoolEntry
    ) -> list[PoolEntry] | None:
        """Idle hot models, least worth keeping first, whose eviction makes `size` fit
        (counting memory already being released); None when that is impossible."""
        need = self.reserved + size - self.budget - self._releasing()
        if need <= 0:
            return []
        candidates = [
            entry
            for model_id in self._lru
            for entry in (self._entries[model_id],)
            if entry is not exclude and entry.idle
            if may_evict is None or may_evict(model_id)
        ]
        victims: list[PoolEntry] = []
        for candidate in self.eviction.rank(candidates, self.clock.monotonic()):
            if need <= 0:
                break
            victims.append(candidate)
            need -= candidate.memory
        return victims if need <= 0 else None

    def eviction_plan(self, model_id: str) -> list[str] | None:
        """The models a load of `model_id` would unload now; None when it cannot fit."""
        entry = self._entries[model_id]
        victims = self._victims(entry.memory, None, entry)
        return None if victims is None else [victim.model_id for victim in victims]

    async def _make_room(
        self,
        entry: PoolEntry,
        size: int,
        deadline: float | None,
        may_evict: MayEvict | None = None,
        admit: Admit | None = None,
    ) -> bool:
        """Unload idle models until `size` more bytes fit. Without a `deadline` (a prewarm)
        it never waits for a lease: False when the room cannot be made now."""
        if size > self.budget:
            raise CapacityError(
                f"model {entry.model_id} needs {size} bytes; the budget is {self.budget}",
                model=entry.model_id,
                memory_bytes=size,
                budget_bytes=self.budget,
            )
        while self.reserved + size > self.budget:
            victims = self._victims(size, may_evict, entry)
            if victims and (admit is None or admit([v.model_id for v in victims])):
                await asyncio.gather(*(self._start_cooling(victim) for victim in victims))
                continue
            if victims and admit is not None:
                return False  # the prewarm is not worth what it would unload
            cooling = [e.cooling for e in self._entries.values() if e.cooling and not e.asleep]
            if victims is not None and cooling:
                await asyncio.gather(*(asyncio.shield(c) for c in cooling))
                continue
            if deadline is None:
                return False  # a prewarm never waits for someone else's lease
            await self._wait_for_change(entry, size, deadline)
        return True

    async def _wait_for_change(self, entry: PoolEntry, size: int, deadline: float) -> None:
        remaining = deadline - self.clock.monotonic()
        if remaining <= 0:
            raise CapacityError(
                f"model {entry.model_id}: {size} bytes do not fit in "
                f"{self.budget - self.reserved} free bytes and every resident model is in use",
                model=entry.model_id,
                memory_bytes=size,
                free_bytes=self.budget - self.reserved,
            )
        self._capacity_waiters += 1
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._change.wait(), remaining)
        finally:
            self._capacity_waiters -= 1

    # --- cooling: to the host tier or to cold --------------------------------------------

    def _start_cooling(self, entry: PoolEntry) -> asyncio.Task[None]:
        self._move(entry, ModelState.COOLING)
        self._lru.pop(entry.model_id, None)
        self.stats.evictions += 1
        self.eviction.evicted(self, entry)
        self._prewarm_wasted(entry)
        task = asyncio.get_running_loop().create_task(self._finish_cooling(entry))
        entry.cooling = task
        return task

    def _host_size(self, entry: PoolEntry) -> int:
        return 0 if entry.sleeper is None else entry.sleeper.host_memory(entry.spec)

    async def _finish_cooling(self, entry: PoolEntry) -> None:
        """Put the model to sleep when its runtime can and the host tier has (or can make)
        room, else unload it; its accelerator memory stays counted until either is done."""
        asleep, host = False, 0
        try:
            sleeper = entry.sleeper
            if sleeper is not None and entry.handle is not None:
                host = await self._make_host_room(entry)
            if host:
                assert sleeper is not None and entry.handle is not None
                try:
                    await sleeper.sleep(entry.spec, entry.handle)
                    asleep = True
                except Exception as error:  # the model still goes cold: unload it
                    reason = describe_error(error)
                    log.warning("model %s: sleep failed, unloading: %s", entry.model_id, reason)
            if not asleep and entry.handle is not None:
                await self._unload_quietly(entry, entry.handle)
        finally:
            entry.cooling = None
            if asleep:
                self.reserved -= entry.memory  # off the accelerator, held on the host
                entry.asleep = True
            else:
                self.host_reserved -= host
                entry.handle = None
                self._move(entry, ModelState.COLD)
            self._changed()

    async def _make_host_room(self, entry: PoolEntry) -> int:
        """Reserve host memory for `entry` to sleep in, unloading sleeping models (least
        worth keeping first, never one being woken) until it fits; the bytes reserved, 0
        when it cannot sleep."""
        size = self._host_size(entry)
        if not 0 < size <= self.host_budget:
            return 0
        while self.host_reserved + size > self.host_budget:
            sleepers = [e for e in self._entries.values() if e.asleep]
            idle = [e for e in sleepers if e.cooling is None and e.loading is None]
            if idle:
                victim = self.eviction.rank(idle, self.clock.monotonic())[0]
                await self._drop_sleeper(victim)
                continue
            dropping = [e.cooling for e in sleepers if e.cooling is not None]
            if not dropping:
                return 0  # the rest is waking up: unload this one instead
            await asyncio.gather(*(asyncio.shield(task) for task in dropping))
        self.host_reserved += size
        return size

    def _drop_sleeper(self, entry: PoolEntry) -> asyncio.Task[None]:
        """A sleeping model leaves the host tier: it stays cooling until the runtime
        unloaded it, then goes cold and its host memory is free."""
        task = asyncio.get_running_loop().create_task(self._finish_drop(entry))
        entry.cooling = task
        return task

    async def _finish_drop(self, entry: PoolEntry) -> None:
        try:
            if entry.handle is not None:
                await self._unload_quietly(entry, entry.handle)
        finally:
            entry.cooling = None
            entry.handle = None
            self._move(entry, ModelState.COLD)
            self.host_reserved -= self._host_size(entry)
            self._changed()

    async def _unload_quietly(self, entry: PoolEntry, handle: object) -> None:
        try:
            await entry.loader.unload(entry.spec, handle)
        except Exception as error:  # an unload that fails still frees our accounting
            log.warning("model %s: unload failed: %s", entry.model_id, describe_error(error))

    # --- the runtime's own figure --------------------------------------------------------

    async def _settle_footprint(self, entry: PoolEntry) -> None:
        """Take the memory the runtime reports for a freshly loaded model as its size; a
        model that turns out larger gets room by eviction or fails its load."""
        reported = entry.loader.memory_footprint(entry.spec, entry.handle)
        delta = reported - entry.memory
        if delta == 0 or reported <= 0:
            return
        if delta > 0 and not await self._make_room(entry, delta, None):
            raise CapacityError(
                f"model {entry.model_id}: the runtime reports {reported} bytes, more than the "
                f"{entry.memory} reserved and the {self.budget - self.reserved} free",
                model=entry.model_id,
                memory_bytes=reported,
            )
        self.reserved += delta
        entry.memory = reported
        self.stats.peak_memory_bytes = max(self.stats.peak_memory_bytes, self.reserved)
        if delta < 0:
            self._changed()

    # --- prewarm accounting --------------------------------------------------------------

    def _prewarm_used(self, entry: PoolEntry) -> None:
        entry.prewarmed_at = None
        self.stats.prewarms_used += 1
        for listener in self._prewarm_listeners:
            listener(entry.model_id, True)

    def _prewarm_wasted(self, entry: PoolEntry) -> None:
        if entry.prewarmed_at is None:
            return
        seconds = self.clock.monotonic() - entry.prewarmed_at
        self.stats.wasted_prewarm_memory_seconds += entry.memory * seconds
        entry.prewarmed_at = None
        for listener in self._prewarm_listeners:
            listener(entry.model_id, False)
