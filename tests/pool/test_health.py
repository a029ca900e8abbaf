"""Health: a dead model is detected within a second, a noisy one is rarely flagged, the
configured recovery runs as state transitions, and a round of checks is cheap."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pit.common.clock import ManualClock
from pit.pool.health import HealthMonitor, KOfNDetector
from pit.pool.loader import SimulatedHandle, SimulatedLoader
from pit.pool.pool import ModelPool
from pit.pool.spec import HealthOptions, ModelSpec
from pit.pool.virtual_time import run_virtual


class HangingLoader(SimulatedLoader):
    """A simulated loader whose health checks can hang (a model that stops answering)."""

    def __init__(self) -> None:
        super().__init__()
        self.hanging: set[str] = set()

    async def health_check(self, model: ModelSpec, handle: object) -> bool:
        if model.id in self.hanging:
            await asyncio.sleep(3600)
        return await super().health_check(model, handle)


def _pool(loader: SimulatedLoader, clock: ManualClock, count: int = 1) -> ModelPool:
    specs = [ModelSpec(id=f"m{i}", memory_bytes=1, load_seconds=0.5) for i in range(count)]
    return ModelPool(specs, budget=count, loaders={"simulated": loader}, clock=clock)


def test_a_model_that_stops_answering_is_failed_within_one_second_and_reloaded() -> None:
    clock = ManualClock()
    loader = HangingLoader()
    transitions: list[tuple[float, str]] = []

    async def scenario() -> None:
        pool = _pool(loader, clock)
        pool.add_transition_listener(
            lambda _m, _a, b: transitions.append((clock.monotonic(), str(b)))
        )
        await pool.warm("m0")
        monitor = HealthMonitor(pool, HealthOptions(recovery="reload"))
        runner = asyncio.create_task(monitor.run())
        await asyncio.sleep(10.0)
        loader.hanging.add("m0")
        stopped_at = clock.monotonic()
        await asyncio.sleep(1.0)
        failed_at = next(t for t, state in transitions if state == "failed")
        assert failed_at - stopped_at <= 1.0
        loader.hanging.discard("m0")
        await asyncio.sleep(5.0)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await monitor.aclose()
        await pool.aclose()
        assert monitor.detected == ["m0"]

    run_virtual(scenario(), clock)
    states = [state for _, state in transitions]
    assert states == ["warming", "hot", "failed", "warming", "hot"]


def test_cool_recovery_leaves_a_dead_model_cold() -> None:
    clock = ManualClock()
    loader = SimulatedLoader()

    async def scenario() -> list[str]:
        pool = _pool(loader, clock)
        await pool.warm("m0")
        handle = pool.handle("m0")
        assert isinstance(handle, SimulatedHandle)
        handle.alive = False
        monitor = HealthMonitor(pool, HealthOptions(recovery="cool"))
        for _ in range(3):
            await monitor.check_once()
        await asyncio.sleep(0.1)
        await monitor.aclose()
        await pool.aclose()
        return [str(pool.state("m0")), *monitor.detected]

    assert run_virtual(scenario(), clock) == ["cold", "m0"]


@settings(max_examples=25, deadline=None)
@given(failure_rate=st.floats(min_value=0.0, max_value=0.2), seed=st.integers(0, 10_000))
def test_a_noisy_but_healthy_model_is_flagged_at_most_five_percent_of_the_time(
    failure_rate: float, seed: int
) -> None:
    rng = random.Random(seed)
    detector = KOfNDetector(window=4, threshold=3)
    flagged, checks = 0, 4000
    for _ in range(checks):
        if detector.record(rng.random() >= failure_rate):
            flagged += 1
            detector.reset()
    assert flagged / checks <= 0.05


def test_a_round_of_checks_costs_under_one_percent_of_a_core_per_interval() -> None:
    clock = ManualClock()
    options = HealthOptions(interval=timedelta(milliseconds=250))

    async def scenario() -> float:
        pool = _pool(SimulatedLoader(), clock, count=20)
        for index in range(20):
            await pool.warm(f"m{index}")
        monitor = HealthMonitor(pool, options)
        started = time.process_time()
        rounds = 200
        for _ in range(rounds):
            await monitor.check_once()
        cost = (time.process_time() - started) / rounds
        await pool.aclose()
        return cost

    per_round = run_virtual(scenario(), clock)
    assert per_round / options.interval.total_seconds() < 0.01
