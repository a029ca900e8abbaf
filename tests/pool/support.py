"""Helpers for pool tests: small model sets and a pool on the simulated loader."""

from __future__ import annotations

from pit.common.clock import ManualClock
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
