"""llama.cpp's `llama-server` in router mode as a pool loader (ggml-org/llama.cpp,
tools/server/README.md, "Using multiple models"; started without a model, ideally with
`--no-models-autoload` so that only the pool loads):

- `POST /models/load` with `{"model": id}` answers `{"success": true}` and starts the load;
- `GET /models` lists `{"data": [{"id", "status": {"value": ...}}]}`, `value` one of
  `unloaded`, `loading`, `loaded`, `sleeping`, `downloading`; a failed load is `unloaded`
  with `"failed": true` and the instance's `exit_code`. A load is done when it is `loaded`;
- `POST /models/unload` with `{"model": id}`.

A model is healthy while the router answers `GET /models` and lists it `loaded` (the
router's own `GET /health` says only that the router is up, not this model). The router
reports no memory figure: the models file's `memory_bytes` is what the pool accounts.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pit.common.errors import WorkFailedError
from pit.infra.model_runtimes._http import RuntimeClient, RuntimeHandle, loader_spec
from pit.pool.runtime_specs import LlamaCppLoaderSpec
from pit.pool.spec import ModelSpec


def _spec(model: ModelSpec) -> LlamaCppLoaderSpec:
    return loader_spec(model, LlamaCppLoaderSpec)


def model_status(listing: Any, name: str) -> dict[str, Any] | None:
    """The `status` object `GET /models` gives `name`; None when it is not listed."""
    if not isinstance(listing, dict) or not isinstance(listing.get("data"), list):
        raise WorkFailedError("llama-server: GET /models did not answer {'data': [...]}")
    for entry in listing["data"]:
        if isinstance(entry, dict) and entry.get("id") == name:
            status = entry.get("status")
            return status if isinstance(status, dict) else {}
    return None


class LlamaCppLoader:
    async def load(self, model: ModelSpec) -> object:
        spec = _spec(model)
        client = RuntimeClient("llama-server", spec.url)
        name = spec.model or model.id
        timeout = spec.timeout.total_seconds()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        status = await self._status(client, spec, name)
        if status.get("value") != "loaded":
            await client.ok("POST", "/models/load", timeout=timeout, body={"model": name})
        while True:
            value = status.get("value")
            if value == "loaded":
                return RuntimeHandle(spec.url, name)
            if status.get("failed") is True:
                code = status.get("exit_code")
                raise WorkFailedError(
                    f"llama-server at {spec.url}: loading {name} failed (exit code {code})"
                )
            if loop.time() >= deadline:
                raise WorkFailedError(
                    f"llama-server at {spec.url}: {name} is still {value} after {timeout:g} s"
                )
            await asyncio.sleep(spec.poll_interval.total_seconds())
            status = await self._status(client, spec, name)

    async def _status(
        self, client: RuntimeClient, spec: LlamaCppLoaderSpec, name: str
    ) -> dict[str, Any]:
        listing = await client.ok("GET", "/models", timeout=spec.health_timeout.total_seconds())
        status = model_status(listing, name)
        if status is None:
            raise WorkFailedError(f"llama-server at {spec.url} does not list a model {name!r}")
        return status

    async def unload(self, model: ModelSpec, handle: object) -> None:
        spec = _spec(model)
        body = {"model": spec.model or model.id}
        await RuntimeClient("llama-server", spec.url).ok(
            "POST", "/models/unload", timeout=spec.timeout.total_seconds(), body=body
        )

    async def health_check(self, model: ModelSpec, handle: object) -> bool:
        spec = _spec(model)
        client = RuntimeClient("llama-server", spec.url)
        timeout = spec.health_timeout.total_seconds()
        status, listing = await client.call("GET", "/models", timeout=timeout)
        if not 200 <= status < 300:
            return False
        found = model_status(listing, spec.model or model.id)
        return found is not None and found.get("value") == "loaded"

    def memory_footprint(self, model: ModelSpec, handle: object | None) -> int:
        return model.memory_bytes
