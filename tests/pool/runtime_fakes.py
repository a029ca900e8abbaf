"""Fake model runtimes on loopback that implement each runtime's documented HTTP API, and
refuse what that documentation does not allow, so the loaders are held to the contract.

- Ollama: github.com/ollama/ollama docs/api.md ("Load a model", "Unload a model",
  "List Running Models") and docs.ollama.com/api-reference/get-version.
- vLLM: vllm-project/vllm docs/features/sleep_mode.md ("HTTP endpoints").
- llama.cpp: ggml-org/llama.cpp tools/server/README.md ("Using multiple models").
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

GENERATE_FIELDS = {
    "model", "prompt", "suffix", "images", "format", "options", "system", "template",
    "stream", "raw", "keep_alive", "context", "think",
}  # fmt: skip
"""The parameters docs/api.md lists for POST /api/generate."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class FakeRuntime:
    """Runs `app()` on 127.0.0.1; `stop()` makes it unreachable, `start()` brings it back on
    the same port. Every request is recorded as (method, path, query, body)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.calls: list[tuple[str, str, dict[str, list[str]], Any]] = []
        self.broken = False
        """Every request answers 500, as a runtime that crashed behind its proxy would."""
        self._server: TestServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    async def start(self) -> None:
        app = web.Application(middlewares=[self._record])
        app.add_routes(self.routes())
        self._server = TestServer(app, host="127.0.0.1", port=self.port)
        await self._server.start_server()

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.close()
            self._server = None

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.json() if request.can_read_body else None
        query: dict[str, list[str]] = {}
        for key, value in request.query.items():
            query.setdefault(key, []).append(value)
        self.calls.append((request.method, request.path, query, body))
        if self.broken:
            return web.json_response({"error": "internal error"}, status=500)
        return await handler(request)

    def paths(self) -> list[str]:
        return [f"{method} {path}" for method, path, _, _ in self.calls]


class FakeOllama(FakeRuntime):
    def __init__(self, models: dict[str, tuple[int, int]]) -> None:
        super().__init__()
        self.available = models
        """name -> (size, size_vram) it takes once loaded."""
        self.loaded: dict[str, Any] = {}
        """name -> the keep_alive it was loaded with."""

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/generate", self.generate),
            web.get("/api/ps", self.ps),
            web.get("/api/version", self.version),
        ]

    async def generate(self, request: web.Request) -> web.Response:
        body = await request.json()
        unknown = set(body) - GENERATE_FIELDS
        if unknown or not isinstance(body.get("model"), str):
            return web.json_response({"error": f"invalid request: {sorted(unknown)}"}, status=400)
        name = body["model"]
        if name not in self.available:
            return web.json_response({"error": f"model '{name}' not found"}, status=404)
        if body.get("prompt"):
            return web.json_response({"error": "this fake only loads and unloads"}, status=400)
        answer = {"model": name, "created_at": "2024-09-12T03:54:03Z", "response": ""}
        if body.get("keep_alive") in (0, "0", "0s"):
            self.loaded.pop(name, None)
            return web.json_response({**answer, "done": True, "done_reason": "unload"})
        self.loaded[name] = body.get("keep_alive", "5m")
        return web.json_response({**answer, "done": True})

    async def ps(self, request: web.Request) -> web.Response:
        models = [
            {
                "name": name,
                "model": name,
                "size": self.available[name][0],
                "digest": "2ae6f6dd7a3dd734790bbbf58b8909a606e0e7e97e94b7604e0aa7ae4490e6d8",
                "details": {"format": "gguf", "family": "llama", "parameter_size": "7.2B"},
                "expires_at": "2024-06-04T14:38:31.83753-07:00",
                "size_vram": self.available[name][1],
            }
            for name in self.loaded
        ]
        return web.json_response({"models": models})

    async def version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": "0.12.6"})


class FakeVllm(FakeRuntime):
    """One model; `level` 0 awake, 1 weights in CPU memory, 2 weights discarded."""

    def __init__(self, weights: int, kv_cache: int) -> None:
        super().__init__()
        self.weights, self.kv_cache = weights, kv_cache
        self.level = 0
        self.sleeping_tags: set[str] = set()
        self.weights_valid = True
        self.healthy = True

    @property
    def serving(self) -> bool:
        return not self.sleeping_tags and self.weights_valid

    @property
    def gpu_bytes(self) -> int:
        return self.weights * ("weights" not in self.sleeping_tags) + self.kv_cache * (
            "kv_cache" not in self.sleeping_tags
        )

    @property
    def host_bytes(self) -> int:
        return self.weights if self.level == 1 and "weights" in self.sleeping_tags else 0

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/health", self.health),
            web.get("/is_sleeping", self.is_sleeping),
            web.post("/sleep", self.sleep),
            web.post("/wake_up", self.wake_up),
            web.post("/collective_rpc", self.collective_rpc),
        ]

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(status=200 if self.healthy else 503)

    async def is_sleeping(self, request: web.Request) -> web.Response:
        return web.json_response({"is_sleeping": bool(self.sleeping_tags)})

    async def sleep(self, request: web.Request) -> web.Response:
        level = request.query.get("level", "1")
        if level not in ("1", "2"):
            return web.json_response({"detail": f"unknown level {level}"}, status=400)
        self.level = int(level)
        self.sleeping_tags = {"weights", "kv_cache"}
        if self.level == 2:
            self.weights_valid = False  # "the content of ... the model weights is forgotten"
        return web.Response(status=200)

    async def wake_up(self, request: web.Request) -> web.Response:
        tags = set(request.query.getall("tags", [])) or {"weights", "kv_cache"}
        if tags - {"weights", "kv_cache"}:
            return web.json_response({"detail": f"unknown tags {sorted(tags)}"}, status=400)
        self.sleeping_tags -= tags
        if not self.sleeping_tags:
            self.level = 0
        return web.Response(status=200)

    async def collective_rpc(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("method") != "reload_weights" or "weights" in self.sleeping_tags:
            return web.json_response({"detail": "cannot reload weights now"}, status=400)
        self.weights_valid = True
        return web.json_response({"results": [None]})


class FakeLlamaServer(FakeRuntime):
    """A router: `models` are listed; a load takes `load_seconds`; ids in `failing` exit 1."""

    def __init__(self, models: list[str], load_seconds: float = 0.05) -> None:
        super().__init__()
        self.status: dict[str, dict[str, Any]] = {name: {"value": "unloaded"} for name in models}
        self.load_seconds = load_seconds
        self.failing: set[str] = set()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/health", self.health),
            web.get("/models", self.models),
            web.post("/models/load", self.load),
            web.post("/models/unload", self.unload),
        ]

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def models(self, request: web.Request) -> web.Response:
        data = [
            {"id": name, "path": f"/models/{name}.gguf", "status": dict(status)}
            for name, status in self.status.items()
        ]
        return web.json_response({"data": data})

    def _unknown(self, name: object) -> web.Response | None:
        if name in self.status:
            return None
        error = {
            "code": 400,
            "message": f"model {name!r} not found",
            "type": "invalid_request_error",
        }
        return web.json_response({"error": error}, status=400)

    async def load(self, request: web.Request) -> web.Response:
        name = (await request.json()).get("model")
        refused = self._unknown(name)
        if refused is not None:
            return refused
        args = ["llama-server", "-ctx", "4096"]
        self.status[name] = {"value": "loading", "args": args}
        asyncio.get_running_loop().call_later(self.load_seconds, self._loaded, name, args)
        return web.json_response({"success": True})

    def _loaded(self, name: str, args: list[str]) -> None:
        if self.status[name].get("value") != "loading":
            return
        if name in self.failing:
            self.status[name] = {"value": "unloaded", "args": args, "failed": True, "exit_code": 1}
        else:
            self.status[name] = {"value": "loaded", "args": args}

    async def unload(self, request: web.Request) -> web.Response:
        name = (await request.json()).get("model")
        refused = self._unknown(name)
        if refused is not None:
            return refused
        self.status[name] = {"value": "unloaded"}
        return web.json_response({"success": True})
