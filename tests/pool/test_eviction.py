"""Eviction (LRU, GDSF, predictive) and the rule that admits a prewarm."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from pit.common.clock import ManualClock
from pit.pool.admission import WINDOW, Expectation
from pit.pool.eviction import PredictiveGDSF
from pit.pool.loader import SimulatedLoader
from pit.pool.pool import ModelPool
from pit.pool.predictor import UsagePredictor
from pit.pool.prewarm import PrewarmEngine
from pit.pool.spec import ModelSpec, PrewarmOptions
from pit.pool.states import ModelState
from pit.pool.virtual_time import run_virtual


def virtual(test: Callable[[ManualClock], Awaitable[None]]) -> Callable[[], None]:
    """Run `test` on the virtual-time loop: loads take their `load_seconds` of virtual time."""

    def run() -> None:
        clock = ManualClock()
        run_virtual(test(clock), clock)  # type: ignore[arg-type]

    run.__name__, run.__doc__ = test.__name__, test.__doc__
    return run


def _pool(
    specs: list[ModelSpec], budget: int, eviction: str = "gdsf", clock: ManualClock | None = None
) -> ModelPool:
    return ModelPool(
        specs,
        budget=budget,
        loaders={"simulated": SimulatedLoader()},
        eviction=eviction,
        clock=clock or ManualClock(),
    )


def _spec(model_id: str, size: int = 4, load: float = 0.0) -> ModelSpec:
    return ModelSpec(id=model_id, memory_bytes=size, load_seconds=load)


async def _use(pool: ModelPool, model_id: str, times: int = 1) -> None:
    for _ in range(times):
        async with pool.acquire(model_id):
            pass


@virtual
async def test_gdsf_keeps_the_model_whose_reload_costs_more(clock: ManualClock) -> None:
    pool = _pool([_spec("slow", load=30), _spec("fast", load=1), _spec("new")], 8, clock=clock)
    await _use(pool, "slow")
    await _use(pool, "fast")  # the most recent: LRU would keep it
    await _use(pool, "new")
    assert pool.state("fast") is ModelState.COLD and pool.state("slow") is ModelState.HOT


@virtual
async def test_lru_is_recency_alone(clock: ManualClock) -> None:
    pool = _pool([_spec("slow", load=30), _spec("fast", load=1), _spec("new")], 8, "lru", clock)
    await _use(pool, "slow")
    await _use(pool, "fast")
    await _use(pool, "new")
    assert pool.state("slow") is ModelState.COLD and pool.state("fast") is ModelState.HOT


@virtual
async def test_gdsf_keeps_a_frequent_model_and_weighs_size(clock: ManualClock) -> None:
    pool = _pool([_spec("often"), _spec("once"), _spec("big", size=8)], budget=8)
    await _use(pool, "often", times=5)
    await _use(pool, "once")
    await _use(pool, "often")
    assert pool.eviction_plan("big") == ["once", "often"]  # least worth keeping first
    small = _pool([_spec("a", size=2), _spec("b", size=6), _spec("c", size=2)], budget=8)
    await _use(small, "a")
    await _use(small, "b")
    assert small.eviction_plan("c") == ["b"]  # per byte, the big one is worth less


@virtual
async def test_gdsf_ages_out_a_model_nobody_uses_any_more(clock: ManualClock) -> None:
    specs = [_spec("old")] + [_spec(f"m{i}") for i in range(6)]
    pool = _pool(specs, budget=8)
    await _use(pool, "old", times=3)
    for index in range(6):  # every miss evicts and raises the inflation value
        await _use(pool, f"m{index}", times=2)
    assert pool.state("old") is ModelState.COLD
    assert pool.inflation > 0


class _Forecast:
    def __init__(self, next_uses: dict[str, float | None]) -> None:
        self.next_uses = next_uses

    def next_use(self, model_id: str, now: float) -> float | None:
        return self.next_uses.get(model_id)

    def soon(self, model_id: str) -> float:
        return 10.0


@virtual
async def test_predictive_unloads_far_first_then_by_gdsf_and_soon_last(clock: ManualClock) -> None:
    names = ["soon", "far", "farther", "frequent", "rare"]
    pool = _pool([_spec(name, size=1) for name in names] + [_spec("big", size=5)], budget=5)
    for name in names:
        await _use(pool, name, times=3 if name == "frequent" else 1)
    pool.eviction = PredictiveGDSF(
        _Forecast({"soon": 5.0, "far": 100.0, "farther": 1000.0, "frequent": None})
    )
    assert pool.eviction_plan("big") == ["farther", "far", "rare", "frequent", "soon"]


def _engine(pool: ModelPool, clock: ManualClock) -> PrewarmEngine:
    return PrewarmEngine(pool, UsagePredictor(), PrewarmOptions(), clock)


@virtual
async def test_a_prewarm_takes_free_memory_but_never_an_expected_model(clock: ManualClock) -> None:
    specs = [_spec("a", 4, 1), _spec("b", 4, 1), _spec("c", 4, 1)]
    pool = ModelPool(specs, budget=8, loaders={"simulated": SimulatedLoader()}, clock=clock)
    engine = _engine(pool, clock)
    await _use(pool, "a")
    task = engine.admission.prewarm("b", Expectation(0.9, 5.0, 60.0))
    assert task is not None  # free memory: nothing to weigh
    await task
    engine._expected["a"] = Expectation(0.9, 5.0, 60.0)  # a is expected soon
    engine._expected["b"] = Expectation(0.9, 5.0, 60.0)
    assert engine.admission.prewarm("c", Expectation(0.99, 5.0, 60.0)) is None
    assert {pool.state(m) for m in "ab"} == {ModelState.HOT}


@virtual
async def test_a_prewarm_is_refused_when_what_it_unloads_is_worth_more(clock: ManualClock) -> None:
    specs = [_spec("busy", 8, 30), _spec("cheap", 8, 0.5)]
    pool = ModelPool(specs, budget=8, loaders={"simulated": SimulatedLoader()}, clock=clock)
    engine = _engine(pool, clock)
    for _ in range(20):  # busy is used every 10 s: it will be used within the horizon
        clock.advance(10)
        await _use(pool, "busy")
    assert engine.admission.prewarm("cheap", Expectation(0.6, clock.monotonic() + 5, 1e9)) is None
    assert engine.admission.refused == 1 and pool.state("busy") is ModelState.HOT


@virtual
async def test_after_mostly_wasted_prewarms_a_prewarm_may_only_take_free_memory(
    clock: ManualClock,
) -> None:
    specs = [_spec("a", 8), _spec("b", 8)]
    pool = ModelPool(specs, budget=8, loaders={"simulated": SimulatedLoader()}, clock=clock)
    engine = _engine(pool, clock)
    await _use(pool, "a")
    expected = Expectation(0.99, clock.monotonic() + 5, 1e9)
    assert engine.admission.trusted()
    engine.admission.outcomes.extend([False] * WINDOW)
    assert not engine.admission.trusted()
    assert engine.admission.prewarm("b", expected) is None  # a would have to go
    engine.admission.outcomes.extend([True] * WINDOW)
    task = engine.admission.prewarm("b", expected)
    assert task is not None
    await task
    assert pool.state("b") is ModelState.HOT


@virtual
async def test_nothing_is_unloaded_early_while_memory_is_free(clock: ManualClock) -> None:
    pool = ModelPool(
        [_spec("job", 4, 5)], budget=8, loaders={"simulated": SimulatedLoader()}, clock=clock
    )
    engine = _engine(pool, clock)
    for _ in range(12):  # a periodic job: a window is learned, nobody else needs memory
        await _use(pool, "job")
        clock.advance(600)
        await asyncio.sleep(0)
    assert engine.predictor.next_use_window("job") is not None
    assert pool.stats.loads == 1 and pool.stats.evictions == 0
    engine.close()
