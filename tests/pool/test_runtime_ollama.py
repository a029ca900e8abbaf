"""The Ollama loader against a fake Ollama that implements its documented API."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from pit.common.errors import BackendUnavailableError, CapacityError
from pit.infra.model_runtimes import runtime_loaders
from pit.pool.pool import ModelPool
from pit.pool.spec import ModelSpec
from pit.pool.states import ModelState

from .runtime_fakes import FakeOllama

GIB = 1024**3


@pytest.fixture
async def ollama() -> AsyncIterator[FakeOllama]:
    fake = FakeOllama({"llama3.2:3b": (3 * GIB, 2 * GIB), "qwen3:8b": (6 * GIB, 6 * GIB)})
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def _model(url: str, model_id: str = "chat", name: str = "llama3.2:3b", memory: str = "4GiB"):  # type: ignore[no-untyped-def]
    loader = {"kind": "ollama", "url": url, "model": name, "health_timeout": "1s"}
    return ModelSpec.model_validate({"id": model_id, "memory_bytes": memory, "loader": loader})


def _pool(*models: ModelSpec, budget: int = 8 * GIB) -> ModelPool:
    return ModelPool(models, budget=budget, loaders=runtime_loaders())


async def test_load_is_a_generate_request_with_keep_alive_and_no_prompt(
    ollama: FakeOllama,
) -> None:
    pool = _pool(_model(ollama.url))
    await pool.warm("chat")
    assert pool.state("chat") is ModelState.HOT
    method, path, _, body = ollama.calls[0]
    assert (method, path) == ("POST", "/api/generate")
    assert body == {"model": "llama3.2:3b", "keep_alive": -1, "stream": False}
    assert ollama.loaded == {"llama3.2:3b": -1}
    assert await pool.health_check("chat") is True


async def test_memory_is_what_api_ps_reports_not_the_models_file(ollama: FakeOllama) -> None:
    pool = _pool(_model(ollama.url, memory="4GiB"))
    await pool.warm("chat")
    assert "GET /api/ps" in ollama.paths()
    assert pool.memory("chat") == 2 * GIB == pool.reserved  # size_vram, not the file's 4 GiB
    assert pool.status()[0].memory_bytes == 2 * GIB


async def test_a_model_larger_than_reported_room_is_unloaded_and_failed(
    ollama: FakeOllama,
) -> None:
    small, big = (
        _model(ollama.url, "small", memory="3GiB"),
        _model(ollama.url, "big", name="qwen3:8b", memory="4GiB"),
    )
    pool = _pool(small, big, budget=7 * GIB)
    async with pool.acquire("small"):  # leased: it cannot be evicted for big's real 6 GiB
        with pytest.raises(CapacityError, match="the runtime reports 6442450944 bytes"):
            await pool.warm("big")
        assert pool.state("big") is ModelState.FAILED
        assert pool.reserved == 2 * GIB <= pool.budget
    await pool.aclose()
    assert "qwen3:8b" not in ollama.loaded  # unloaded again: keep_alive 0


async def test_unload_is_a_generate_request_with_keep_alive_zero(ollama: FakeOllama) -> None:
    pool = _pool(_model(ollama.url))
    await pool.warm("chat")
    assert await pool.cool("chat") is True
    await pool.aclose()
    assert ollama.calls[-1][3] == {"model": "llama3.2:3b", "keep_alive": 0, "stream": False}
    assert ollama.loaded == {}
    assert pool.state("chat") is ModelState.COLD and pool.reserved == 0


async def test_health_fails_when_ollama_unloaded_the_model_or_errors(ollama: FakeOllama) -> None:
    pool = _pool(_model(ollama.url))
    await pool.warm("chat")
    ollama.loaded.clear()  # expired or unloaded behind the pool's back
    assert await pool.health_check("chat") is False
    ollama.loaded["llama3.2:3b"] = -1
    assert await pool.health_check("chat") is True
    ollama.broken = True
    assert await pool.health_check("chat") is False


async def test_unreachable_ollama_fails_the_model_clearly_and_it_recovers(
    ollama: FakeOllama, caplog: pytest.LogCaptureFixture
) -> None:
    await ollama.stop()
    pool = _pool(_model(ollama.url))
    unreachable = f"ollama at {ollama.url} cannot be"
    with (
        caplog.at_level(logging.WARNING, logger="pit.pool"),
        pytest.raises(BackendUnavailableError, match=unreachable),
    ):
        await pool.warm("chat")
    assert pool.state("chat") is ModelState.FAILED
    assert f"model chat failed to load: ollama at {ollama.url} cannot be reached" in caplog.text
    await ollama.start()
    await pool.recover("chat")  # as after any failed load: failed -> warming -> hot
    assert pool.state("chat") is ModelState.HOT
    assert ollama.loaded == {"llama3.2:3b": -1}


async def test_an_unknown_model_name_fails_with_ollamas_own_message(ollama: FakeOllama) -> None:
    pool = _pool(_model(ollama.url, name="nope:1b"))
    with pytest.raises(Exception, match="answered 404: model 'nope:1b' not found"):
        await pool.warm("chat")
    assert pool.state("chat") is ModelState.FAILED


async def test_version_is_read_from_api_version(ollama: FakeOllama) -> None:
    loader = runtime_loaders()["ollama"]
    assert await loader.version(_model(ollama.url)) == "0.12.6"  # type: ignore[attr-defined]
