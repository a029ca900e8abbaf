"""The pool's metrics, sampled: hits and cold starts per model, memory per tier, models per
state. Read from the pool's own counters once a second, so its hit path (a microsecond or
two) carries no metric call at all."""

from __future__ import annotations

import asyncio
from collections import Counter as Tally

from pit.common.metrics import POOL_BUDGET, POOL_COLD_STARTS, POOL_HITS, POOL_MEMORY, POOL_MODELS
from pit.pool import ModelPool
from pit.pool.states import ModelState

SAMPLE_INTERVAL_SECONDS = 1.0


class PoolSampler:
    """Turns the pool's running totals into counter increments since the last sample."""

    def __init__(self, pool: ModelPool) -> None:
        self.pool = pool
        self._hits: dict[str, int] = {}
        self._cold_starts: dict[str, int] = {}

    def sample(self) -> None:
        pool = self.pool
        states: Tally[str] = Tally()
        for status in pool.status():
            model = {"model": status.id}
            POOL_HITS.add(status.hits - self._hits.get(status.id, 0), model)
            POOL_COLD_STARTS.add(status.cold_starts - self._cold_starts.get(status.id, 0), model)
            self._hits[status.id] = status.hits
            self._cold_starts[status.id] = status.cold_starts
            states[status.state] += 1
        for state in ModelState:
            POOL_MODELS.set(states[state], {"state": str(state)})
        POOL_MEMORY.set(pool.reserved, _ACCELERATOR)
        POOL_MEMORY.set(pool.host_reserved, _HOST)
        POOL_BUDGET.set(pool.budget, _ACCELERATOR)
        POOL_BUDGET.set(pool.host_budget, _HOST)

    async def run(self, interval: float = SAMPLE_INTERVAL_SECONDS) -> None:
        """Sample every `interval` seconds until cancelled (and once more then)."""
        try:
            while True:
                if POOL_HITS.bound:
                    self.sample()
                await asyncio.sleep(interval)
        finally:
            if POOL_HITS.bound:
                self.sample()


_ACCELERATOR, _HOST = {"tier": "accelerator"}, {"tier": "host"}
