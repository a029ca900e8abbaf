"""vLLM as a pool loader, with its sleep mode as the pool's cooling tier. One vLLM server
serves one model; it must run with `--enable-sleep-mode` and `VLLM_SERVER_DEV_MODE=1`
(vllm-project/vllm, docs/features/sleep_mode.md, "Online Serving" and "HTTP endpoints"):

- `GET /health`: 200 while the server is up;
- `GET /is_sleeping`: `{"is_sleeping": bool}`;
- `POST /sleep?level=1`: "offload the model weights and discard the KV cache ... The model
  weights are backed up in CPU memory": the cooling tier (accelerator memory freed, host
  memory held, waking "without full model reload");
- `POST /wake_up`: wake everything that sleeps;
- `POST /sleep?level=2`: "discard both the model weights and the KV cache": unloading;
- waking from level 2 is the documented three steps: `POST /wake_up?tags=weights`,
  `POST /collective_rpc` with `{"method": "reload_weights"}`, `POST /wake_up?tags=kv_cache`.

vLLM reports no memory figure on these endpoints: the models file's `memory_bytes` (the
accelerator) and `loader.host_memory_bytes` (the host, asleep) are what the pool accounts.
"""

from __future__ import annotations

from pit.common.errors import WorkFailedError
from pit.infra.model_runtimes._http import RuntimeClient, RuntimeHandle, loader_spec
from pit.pool.runtime_specs import VllmLoaderSpec
from pit.pool.spec import ModelSpec


def _spec(model: ModelSpec) -> VllmLoaderSpec:
    return loader_spec(model, VllmLoaderSpec)


def _client(spec: VllmLoaderSpec) -> RuntimeClient:
    return RuntimeClient("vllm", spec.url)


class VllmLoader:
    """Loads by waking from level-2 sleep (or finding the server awake), unloads by level-2
    sleep, cools by level-1 sleep."""

    async def load(self, model: ModelSpec) -> object:
        spec = _spec(model)
        client = _client(spec)
        timeout = spec.timeout.total_seconds()
        await client.ok("GET", "/health", timeout=spec.health_timeout.total_seconds())
        answer = await client.ok("GET", "/is_sleeping", timeout=timeout)
        if not isinstance(answer, dict) or not isinstance(answer.get("is_sleeping"), bool):
            raise WorkFailedError(f"vllm at {spec.url}: /is_sleeping has no is_sleeping")
        if answer["is_sleeping"]:
            await client.ok("POST", "/wake_up", timeout=timeout, params={"tags": "weights"})
            body = {"method": "reload_weights"}
            await client.ok("POST", "/collective_rpc", timeout=timeout, body=body)
            await client.ok("POST", "/wake_up", timeout=timeout, params={"tags": "kv_cache"})
        return RuntimeHandle(spec.url, model.id)

    async def unload(self, model: ModelSpec, handle: object) -> None:
        spec = _spec(model)
        await _client(spec).ok(
            "POST", "/sleep", timeout=spec.timeout.total_seconds(), params={"level": "2"}
        )

    async def sleep(self, model: ModelSpec, handle: object) -> None:
        spec = _spec(model)
        await _client(spec).ok(
            "POST", "/sleep", timeout=spec.timeout.total_seconds(), params={"level": "1"}
        )

    async def wake(self, model: ModelSpec, handle: object) -> None:
        spec = _spec(model)
        await _client(spec).ok("POST", "/wake_up", timeout=spec.timeout.total_seconds())

    def host_memory(self, model: ModelSpec) -> int:
        return _spec(model).host_memory_bytes or model.memory_bytes

    async def health_check(self, model: ModelSpec, handle: object) -> bool:
        spec = _spec(model)
        status, _ = await _client(spec).call(
            "GET", "/health", timeout=spec.health_timeout.total_seconds()
        )
        return 200 <= status < 300

    def memory_footprint(self, model: ModelSpec, handle: object | None) -> int:
        return model.memory_bytes
