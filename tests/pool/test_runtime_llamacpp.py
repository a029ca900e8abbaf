"""The llama.cpp loader against a fake `llama-server` in router mode."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pit.common.errors import BackendUnavailableError, WorkFailedError
from pit.infra.model_runtimes import runtime_loaders
from pit.pool.pool import ModelPool
from pit.pool.spec import ModelSpec
from pit.pool.states import ModelState

from .runtime_fakes import FakeLlamaServer

GIB = 1024**3
GEMMA = "ggml-org/gemma-3-4b-it-GGUF:Q4_K_M"


@pytest.fixture
async def router() -> AsyncIterator[FakeLlamaServer]:
    fake = FakeLlamaServer([GEMMA, "qwen3-8b"])
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def _pool(url: str, *, name: str = GEMMA, timeout: str = "10s") -> ModelPool:
    loader = {
        "kind": "llamacpp",
        "url": url,
        "model": name,
        "timeout": timeout,
        "poll_interval": "20ms",
        "health_timeout": "1s",
    }
    spec = ModelSpec.model_validate({"id": "gemma", "memory_bytes": "3GiB", "loader": loader})
    return ModelPool([spec], budget=8 * GIB, loaders=runtime_loaders())


async def test_load_posts_models_load_and_waits_until_the_router_lists_it_loaded(
    router: FakeLlamaServer,
) -> None:
    pool = _pool(router.url)
    await pool.warm("gemma")
    assert ("POST", "/models/load", {}, {"model": GEMMA}) in router.calls
    assert router.paths().count("GET /models") >= 2  # loading, then loaded
    assert router.status[GEMMA]["value"] == "loaded"
    assert pool.state("gemma") is ModelState.HOT and await pool.health_check("gemma")
    assert pool.memory("gemma") == 3 * GIB == pool.reserved  # the router reports no memory


async def test_unload_posts_models_unload(router: FakeLlamaServer) -> None:
    pool = _pool(router.url)
    await pool.warm("gemma")
    await pool.cool("gemma")
    await pool.aclose()
    assert router.calls[-1] == ("POST", "/models/unload", {}, {"model": GEMMA})
    assert router.status[GEMMA] == {"value": "unloaded"}
    assert pool.state("gemma") is ModelState.COLD and pool.reserved == 0


async def test_an_instance_that_exits_fails_the_load_with_its_exit_code(
    router: FakeLlamaServer,
) -> None:
    router.failing.add(GEMMA)
    pool = _pool(router.url)
    with pytest.raises(WorkFailedError, match=r"loading .* failed \(exit code 1\)"):
        await pool.warm("gemma")
    assert pool.state("gemma") is ModelState.FAILED and pool.reserved == 0


async def test_a_load_that_never_finishes_times_out(router: FakeLlamaServer) -> None:
    router.load_seconds = 60
    pool = _pool(router.url, timeout="200ms")
    with pytest.raises(WorkFailedError, match=r"is still loading after 0\.2 s"):
        await pool.warm("gemma")
    assert pool.state("gemma") is ModelState.FAILED


async def test_a_model_the_router_does_not_list_is_named(router: FakeLlamaServer) -> None:
    pool = _pool(router.url, name="llama-70b")
    with pytest.raises(WorkFailedError, match="does not list a model 'llama-70b'"):
        await pool.warm("gemma")


async def test_health_fails_when_the_router_unloaded_it_or_errors(
    router: FakeLlamaServer,
) -> None:
    pool = _pool(router.url)
    await pool.warm("gemma")
    router.status[GEMMA] = {"value": "unloaded"}  # e.g. its own LRU (--models-max)
    assert await pool.health_check("gemma") is False
    router.status[GEMMA] = {"value": "loaded"}
    router.broken = True
    assert await pool.health_check("gemma") is False


async def test_unreachable_router_fails_the_model_clearly_and_it_recovers(
    router: FakeLlamaServer,
) -> None:
    await router.stop()
    pool = _pool(router.url)
    with pytest.raises(BackendUnavailableError, match=f"llama-server at {router.url} cannot be"):
        await pool.warm("gemma")
    assert pool.state("gemma") is ModelState.FAILED
    await router.start()
    await pool.recover("gemma")
    assert pool.state("gemma") is ModelState.HOT
