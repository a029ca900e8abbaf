"""The vLLM loader against a fake vLLM implementing its sleep-mode endpoints: level-1 sleep
is the pool's cooling tier, level-2 sleep its unload; both memories are accounted."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pit.common.errors import BackendUnavailableError
from pit.infra.model_runtimes import runtime_loaders
from pit.pool.pool import ModelPool
from pit.pool.spec import ModelSpec
from pit.pool.states import ModelState

from .runtime_fakes import FakeVllm

GIB = 1024**3


@pytest.fixture
async def servers() -> AsyncIterator[tuple[FakeVllm, FakeVllm]]:
    fakes = (FakeVllm(weights=5 * GIB, kv_cache=1 * GIB), FakeVllm(4 * GIB, 1 * GIB))
    for fake in fakes:
        await fake.start()
    try:
        yield fakes
    finally:
        for fake in fakes:
            await fake.stop()


def _model(model_id: str, fake: FakeVllm, memory: int, host: int) -> ModelSpec:
    loader = {"kind": "vllm", "url": fake.url, "host_memory_bytes": host, "health_timeout": "1s"}
    return ModelSpec.model_validate({"id": model_id, "memory_bytes": memory, "loader": loader})


def _pool(a: FakeVllm, b: FakeVllm, *, budget: int, host_budget: int) -> ModelPool:
    return ModelPool(
        [_model("a", a, 6 * GIB, 5 * GIB), _model("b", b, 5 * GIB, 4 * GIB)],
        budget=budget,
        host_budget=host_budget,
        loaders=runtime_loaders(),
    )


async def test_load_of_an_awake_server_only_checks_it(servers: tuple[FakeVllm, FakeVllm]) -> None:
    a, b = servers
    pool = _pool(a, b, budget=11 * GIB, host_budget=0)
    await pool.warm("a")
    assert a.paths() == ["GET /health", "GET /is_sleeping"]
    assert pool.state("a") is ModelState.HOT and await pool.health_check("a")


async def test_unload_is_level_2_sleep_and_load_is_the_documented_wake_sequence(
    servers: tuple[FakeVllm, FakeVllm],
) -> None:
    a, b = servers
    pool = _pool(a, b, budget=11 * GIB, host_budget=0)
    await pool.warm("a")
    await pool.cool("a")  # no host budget: no cooling tier, so a real unload
    await pool.aclose()
    assert a.calls[-1][:3] == ("POST", "/sleep", {"level": ["2"]})
    assert (a.level, a.weights_valid, a.gpu_bytes) == (2, False, 0)
    assert pool.state("a") is ModelState.COLD and pool.reserved == 0
    a.calls.clear()
    await pool.warm("a")
    assert [(m, p, q) for m, p, q, _ in a.calls[2:]] == [
        ("POST", "/wake_up", {"tags": ["weights"]}),
        ("POST", "/collective_rpc", {}),
        ("POST", "/wake_up", {"tags": ["kv_cache"]}),
    ]
    assert a.calls[3][3] == {"method": "reload_weights"}
    assert a.serving and pool.state("a") is ModelState.HOT


async def test_cooling_is_level_1_sleep_holding_host_memory_and_waking_is_wake_up(
    servers: tuple[FakeVllm, FakeVllm],
) -> None:
    a, b = servers
    pool = _pool(a, b, budget=11 * GIB, host_budget=8 * GIB)
    await pool.warm("a")
    assert await pool.cool("a")
    await pool.aclose()
    assert a.calls[-1][:3] == ("POST", "/sleep", {"level": ["1"]})
    assert (a.level, a.gpu_bytes, a.host_bytes) == (1, 0, 5 * GIB)
    assert pool.state("a") is ModelState.COOLING and pool.is_asleep("a")
    assert (pool.reserved, pool.host_reserved) == (0, 5 * GIB)
    async with pool.acquire("a"):  # a wake, not a load: no reload_weights
        assert a.calls[-1][:3] == ("POST", "/wake_up", {})
        assert a.serving and pool.state("a") is ModelState.HOT
    assert (pool.reserved, pool.host_reserved, pool.stats.wakes) == (6 * GIB, 0, 1)
    assert [path for _, path, _, _ in a.calls].count("/collective_rpc") == 0


async def test_eviction_sends_a_model_to_sleep_and_waking_it_sends_the_other(
    servers: tuple[FakeVllm, FakeVllm],
) -> None:
    a, b = servers
    pool = _pool(a, b, budget=6 * GIB, host_budget=9 * GIB)  # one awake at a time
    await pool.warm("a")
    await pool.warm("b")  # evicts a: it sleeps
    assert a.level == 1 and pool.is_asleep("a") and b.serving
    assert (pool.reserved, pool.host_reserved) == (5 * GIB, 5 * GIB)
    await pool.warm("a")  # wakes a, and b goes to sleep for it
    assert (a.serving, b.level) == (True, 1)
    assert pool.stats.wakes == 1 and pool.stats.loads == 2
    assert (pool.reserved, pool.host_reserved) == (6 * GIB, 4 * GIB)
    assert pool.stats.peak_memory_bytes <= pool.budget


async def test_a_full_host_tier_unloads_the_sleeper_least_worth_keeping(
    servers: tuple[FakeVllm, FakeVllm],
) -> None:
    a, b = servers
    pool = _pool(a, b, budget=11 * GIB, host_budget=5 * GIB)  # room for one sleeper
    await pool.warm("a")
    await pool.warm("b")
    await pool.cool("a")
    assert pool.is_asleep("a") and pool.host_reserved == 5 * GIB
    await pool.cool("b")  # a is unloaded (level 2) so that b can sleep
    assert (a.level, a.weights_valid, b.level) == (2, False, 1)
    assert pool.state("a") is ModelState.COLD and pool.is_asleep("b")
    assert (pool.reserved, pool.host_reserved) == (0, 4 * GIB)


async def test_health_fails_when_vllm_answers_unhealthy(servers: tuple[FakeVllm, FakeVllm]) -> None:
    a, b = servers
    pool = _pool(a, b, budget=11 * GIB, host_budget=0)
    await pool.warm("a")
    a.healthy = False
    assert await pool.health_check("a") is False


async def test_unreachable_vllm_fails_the_model_clearly_and_it_recovers(
    servers: tuple[FakeVllm, FakeVllm],
) -> None:
    a, b = servers
    await a.stop()
    pool = _pool(a, b, budget=11 * GIB, host_budget=8 * GIB)
    with pytest.raises(BackendUnavailableError, match=f"vllm at {a.url} cannot be reached"):
        await pool.warm("a")
    assert pool.state("a") is ModelState.FAILED and pool.reserved == 0
    await a.start()
    await pool.recover("a")
    assert pool.state("a") is ModelState.HOT


async def test_a_wake_that_fails_fails_the_model_and_frees_both_memories(
    servers: tuple[FakeVllm, FakeVllm],
) -> None:
    a, b = servers
    pool = _pool(a, b, budget=11 * GIB, host_budget=8 * GIB)
    await pool.warm("a")
    await pool.cool("a")
    await pool.aclose()
    a.broken = True
    with pytest.raises(Exception, match="wake_up answered 500"):
        await pool.warm("a")
    await pool.aclose()
    assert pool.state("a") is ModelState.FAILED
    assert (pool.reserved, pool.host_reserved) == (0, 0)
