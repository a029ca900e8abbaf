"""Ollama as a pool loader, over its documented HTTP API (github.com/ollama/ollama,
docs/api.md; docs.ollama.com/api):

- load: `POST /api/generate` with `model` and `keep_alive` and no prompt ("If an empty
  prompt is provided, the model will be loaded into memory"); `stream: false` gives one
  JSON object with `done: true`;
- unload: the same with `keep_alive: 0` ("a model will be unloaded from memory"; the answer
  has `done_reason: "unload"`);
- memory and health: `GET /api/ps` ("List models that are currently loaded into memory"):
  each entry's `name`/`model`, `size` and `size_vram`. Health asks `/api/ps` rather than
  `GET /api/version` because it also says whether this model is still loaded: one Ollama
  unloaded behind the pool's back fails its checks and the pool reloads it;
- `GET /api/version` (`{"version": "0.12.6"}`): `OllamaLoader.version`, to see who answers.
"""

from __future__ import annotations

from typing import Any

from pit.common.errors import WorkFailedError
from pit.infra.model_runtimes._http import RuntimeClient, RuntimeHandle, loader_spec
from pit.pool.runtime_specs import OllamaLoaderSpec
from pit.pool.spec import ModelSpec


def _spec(model: ModelSpec) -> OllamaLoaderSpec:
    return loader_spec(model, OllamaLoaderSpec)


def _name(model: ModelSpec, spec: OllamaLoaderSpec) -> str:
    return spec.model or model.id


def running_memory(listing: Any, name: str) -> int | None:
    """The bytes `/api/ps` reports for `name`: `size_vram` (what it holds on the GPU), or
    `size` when it runs on the CPU alone; None when it is not listed."""
    if not isinstance(listing, dict) or not isinstance(listing.get("models"), list):
        raise WorkFailedError("ollama: /api/ps did not answer {'models': [...]}")
    wanted = {name, name if ":" in name else f"{name}:latest"}
    for entry in listing["models"]:
        if isinstance(entry, dict) and ({entry.get("name"), entry.get("model")} & wanted):
            for key in ("size_vram", "size"):
                value = entry.get(key)
                if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                    return value
            return 0
    return None


class OllamaLoader:
    async def load(self, model: ModelSpec) -> object:
        spec = _spec(model)
        client = RuntimeClient("ollama", spec.url)
        name = _name(model, spec)
        timeout = spec.timeout.total_seconds()
        body = {"model": name, "keep_alive": spec.keep_alive, "stream": False}
        answer = await client.ok("POST", "/api/generate", timeout=timeout, body=body)
        if not isinstance(answer, dict) or answer.get("done") is not True:
            raise WorkFailedError(f"ollama at {spec.url}: loading {name} did not finish")
        listing = await client.ok("GET", "/api/ps", timeout=spec.health_timeout.total_seconds())
        memory = running_memory(listing, name)
        if memory is None:
            raise WorkFailedError(f"ollama at {spec.url}: {name} is not running after its load")
        return RuntimeHandle(spec.url, name, memory or model.memory_bytes)

    async def unload(self, model: ModelSpec, handle: object) -> None:
        spec = _spec(model)
        client = RuntimeClient("ollama", spec.url)
        body = {"model": _name(model, spec), "keep_alive": 0, "stream": False}
        await client.ok("POST", "/api/generate", timeout=spec.timeout.total_seconds(), body=body)

    async def health_check(self, model: ModelSpec, handle: object) -> bool:
        spec = _spec(model)
        client = RuntimeClient("ollama", spec.url)
        status, listing = await client.call(
            "GET", "/api/ps", timeout=spec.health_timeout.total_seconds()
        )
        return 200 <= status < 300 and running_memory(listing, _name(model, spec)) is not None

    def memory_footprint(self, model: ModelSpec, handle: object | None) -> int:
        if isinstance(handle, RuntimeHandle) and handle.memory_bytes:
            return handle.memory_bytes
        return model.memory_bytes

    async def version(self, model: ModelSpec) -> str:
        """The server's version (`GET /api/version`)."""
        spec = _spec(model)
        answer = await RuntimeClient("ollama", spec.url).ok(
            "GET", "/api/version", timeout=spec.health_timeout.total_seconds()
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("version"), str):
            raise WorkFailedError(f"ollama at {spec.url}: /api/version has no version")
        return str(answer["version"])
