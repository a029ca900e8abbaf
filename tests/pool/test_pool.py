"""Leases, the hit fast path, single flight, LRU eviction and capacity under the budget."""

from __future__ import annotations

import asyncio

import pytest

from pit.common.errors import CapacityError, InvalidTransitionError, NotFoundError
from pit.pool.states import ModelState

from .support import make_pool, models


async def test_a_cold_model_goes_through_warming_to_hot_on_first_acquire() -> None:
    pool, loader, _ = make_pool(models(10), budget=10)
    seen: list[tuple[str, str]] = []
    pool.add_transition_listener(lambda _m, a, b: seen.append((str(a), str(b))))
    async with pool.acquire("m0") as lease:
        assert lease.handle is pool.handle("m0")
        assert pool.state("m0") is ModelState.HOT
    assert seen == [("cold", "warming"), ("warming", "hot")]
    assert pool.stats.cold_starts == 1 and loader.loads == {"m0": 1}


async def test_a_hit_never_yields_to_the_event_loop() -> None:
    pool, _, _ = make_pool(models(10), budget=10)
    await pool.warm("m0")
    ran = False

    async def other() -> None:
        nonlocal ran
        ran = True

    task = asyncio.get_running_loop().create_task(other())
    async with pool.acquire("m0"):
        assert not ran  # nothing else got the loop: the hit awaited no I/O
    await task
    assert pool.stats.hits == 1


async def test_concurrent_acquires_of_a_cold_model_load_it_once() -> None:
    pool, loader, _ = make_pool(models(10, load_seconds=0.01), budget=10)

    async def use() -> object:
        async with pool.acquire("m0") as lease:
            return lease.handle

    handles = await asyncio.gather(*(use() for _ in range(25)))
    assert loader.loads == {"m0": 1}
    assert len({id(handle) for handle in handles}) == 1


async def test_a_miss_evicts_the_least_recently_used_idle_model() -> None:
    pool, _, _ = make_pool(models(4, 4, 4), budget=8)
    await pool.warm("m0")
    await pool.warm("m1")
    async with pool.acquire("m0"):
        pass  # m0 is now the most recently used
    await pool.warm("m2")
    assert pool.state("m1") is ModelState.COLD
    assert pool.lru_order() == ["m0", "m2"]
    assert pool.reserved == 8


async def test_a_leased_model_is_never_evicted_and_the_caller_gets_a_capacity_error() -> None:
    pool, _, _ = make_pool(models(6, 6), budget=8)
    async with pool.acquire("m0"):
        with pytest.raises(CapacityError, match="every resident model is in use"):
            async with pool.acquire("m1"):
                pass
        assert pool.state("m0") is ModelState.HOT
    assert pool.state("m1") is ModelState.COLD


async def test_a_bounded_wait_succeeds_once_the_lease_is_released() -> None:
    pool, _, _ = make_pool(models(6, 6), budget=8)
    holding = await pool.acquire("m0").__aenter__()

    async def later() -> None:
        await asyncio.sleep(0.01)
        holding.release()

    release = asyncio.get_running_loop().create_task(later())
    async with pool.acquire("m1", timeout=5.0):
        assert pool.state("m0") is ModelState.COLD
    await release


async def test_a_model_larger_than_the_budget_is_a_capacity_error() -> None:
    pool, _, _ = make_pool(models(9), budget=8)
    with pytest.raises(CapacityError, match="needs 9 bytes"):
        await pool.warm("m0")
    assert pool.reserved == 0


async def test_an_unknown_model_is_not_found() -> None:
    pool, _, _ = make_pool(models(1), budget=8)
    with pytest.raises(NotFoundError):
        async with pool.acquire("nope"):
            pass


async def test_a_failed_load_leaves_the_model_failed_and_a_retry_recovers_it() -> None:
    pool, loader, _ = make_pool(models(4), budget=8)
    loader.fail_next.add("m0")
    with pytest.raises(Exception, match="simulated load failure"):
        await pool.warm("m0")
    assert pool.state("m0") is ModelState.FAILED and pool.reserved == 0
    await pool.recover("m0")
    assert pool.state("m0") is ModelState.HOT


async def test_fail_releases_memory_and_give_up_makes_the_model_cold() -> None:
    pool, _, _ = make_pool(models(4), budget=8)
    await pool.warm("m0")
    pool.fail("m0", "health check")
    assert pool.state("m0") is ModelState.FAILED and pool.reserved == 0
    pool.give_up("m0")
    assert pool.state("m0") is ModelState.COLD
    with pytest.raises(InvalidTransitionError):
        pool.give_up("m0")  # cold -> cold is not in the table
    await pool.aclose()


async def test_cool_refuses_a_leased_model() -> None:
    pool, _, _ = make_pool(models(4), budget=8)
    async with pool.acquire("m0"):
        assert await pool.cool("m0") is False
    assert await pool.cool("m0") is True
    assert pool.state("m0") is ModelState.COLD


async def test_prewarm_never_evicts_a_model_the_filter_protects() -> None:
    pool, _, _ = make_pool(models(4, 4, 4), budget=8)
    await pool.warm("m0")
    await pool.warm("m1")
    assert pool.prewarm("m2", may_evict=lambda victim: victim == "nothing") is None
    task = pool.prewarm("m2", may_evict=lambda victim: victim == "m1")
    assert task is not None
    await task
    assert pool.state("m1") is ModelState.COLD and pool.state("m0") is ModelState.HOT
    async with pool.acquire("m2"):
        pass
    assert pool.stats.prewarms == 1 and pool.stats.prewarms_used == 1


async def test_status_reports_state_memory_since_and_hits() -> None:
    pool, _, clock = make_pool(models(4), budget=8)
    clock.advance(1.5)
    await pool.warm("m0")
    async with pool.acquire("m0"):
        pass
    (status,) = pool.status()
    assert status.to_dict() == {
        "id": "m0",
        "state": "hot",
        "memory_bytes": 4,
        "since_ms": 1500,
        "hits": 1,
        "leases": 0,
        "cold_starts": 1,  # the warm waited for the load
        "asleep": False,
    }


async def test_status_counts_cold_starts_per_model() -> None:
    pool, _, _ = make_pool(models(4, 4), budget=8)
    async with pool.acquire("m0"):  # cold: waits for the load
        pass
    async with pool.acquire("m0"):  # hot: a hit
        pass
    await pool.warm("m1")  # a warm is an acquisition that waits for the load too
    by_id = {status.id: status for status in pool.status()}
    assert (by_id["m0"].cold_starts, by_id["m0"].hits) == (1, 1)
    assert (by_id["m1"].cold_starts, by_id["m1"].hits) == (1, 0)
    assert pool.stats.cold_starts == 2  # the pool's totals are the models' sums
