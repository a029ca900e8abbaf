"""Helpers for pool tests: small model sets and a pool on the simulated loader."""

from __future__ import annotations

import asyncio

from pit.common.clock import ManualClock
from pit.common.errors import WorkFailedError
from pit.pool.loader import SimulatedLoader
from pit.pool.pool import ModelPool
from pit.pool.spec import ModelSpec


def models(*sizes: int, load_seconds: float = 0.0) -> list[ModelSpec]:
    return [
        ModelSpec(id=f"m{index}", memory_bytes=size, load_seconds=load_seconds)
        for index, size in enumerate(sizes)
    ]


def make_pool(
    specs: list[ModelSpec], budget: int, *, capacity_wait: float = 0.0
) -> tuple[ModelPool, SimulatedLoader, ManualClock]:
    loader = SimulatedLoader()
    clock = ManualClock()
    pool = ModelPool(
        specs,
        budget=budget,
        loaders={"simulated": loader},
        clock=clock,
        capacity_wait=capacity_wait,
    )
    return pool, loader, clock


class SleepingSimulatedLoader(SimulatedLoader):
    """The simulated loader with a cooling tier: sleeping takes 0.1 s, waking 0.2 s, and a
    sleeping model holds its `memory_bytes` on the host."""

    def __init__(self) -> None:
        super().__init__()
        self.asleep: set[str] = set()
        self.fail_next_wake: set[str] = set()

    async def sleep(self, model: ModelSpec, handle: object) -> None:
        await asyncio.sleep(0.1)
        self.asleep.add(model.id)

    async def wake(self, model: ModelSpec, handle: object) -> None:
        await asyncio.sleep(0.2)
        if model.id in self.fail_next_wake:
            self.fail_next_wake.discard(model.id)
            raise WorkFailedError(f"model {model.id}: simulated wake failure")
        self.asleep.discard(model.id)

    def host_memory(self, model: ModelSpec) -> int:
        return model.memory_bytes
