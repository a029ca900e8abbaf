"""The `http` loader: a model server warmed by one configured request, checked by a GET.

Uses the standard library in a worker thread (no client dependency, no proxy: loopback and
cluster-internal servers only); it is never on the pool's hot path.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request

from pit.common.errors import ConfigError, WorkFailedError
from pit.pool.spec import HttpLoaderSpec, ModelSpec

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class HttpHandle:
    """The base URL of a warmed model server."""

    __slots__ = ("model_id", "url")

    def __init__(self, model_id: str, url: str) -> None:
        self.model_id = model_id
        self.url = url


def _spec(model: ModelSpec) -> HttpLoaderSpec:
    if not isinstance(model.loader, HttpLoaderSpec):
        raise ConfigError.for_field("loader.kind", model.loader.kind, "the http loader needs http")
    return model.loader


def _request(method: str, url: str, body: bytes | None, content_type: str, timeout: float) -> int:
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", content_type)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read()
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


class HttpLoader:
    async def load(self, model: ModelSpec) -> object:
        spec = _spec(model)
        base = spec.url.rstrip("/")
        warm = spec.warm
        body = warm.body.encode() if warm.body is not None else None
        try:
            status = await asyncio.to_thread(
                _request,
                warm.method,
                base + warm.path,
                body,
                warm.content_type,
                spec.timeout.total_seconds(),
            )
        except OSError as error:
            raise WorkFailedError(f"model {model.id}: warm request failed: {error}") from None
        if not 200 <= status < 300:
            raise WorkFailedError(f"model {model.id}: warm request answered {status}")
        return HttpHandle(model.id, base)

    async def unload(self, model: ModelSpec, handle: object) -> None:
        return None  # the server owns its process; the pool only stops routing to it

    async def health_check(self, model: ModelSpec, handle: object) -> bool:
        spec = _spec(model)
        try:
            status = await asyncio.to_thread(
                _request,
                "GET",
                spec.url.rstrip("/") + spec.health_path,
                None,
                "",
                spec.health_timeout.total_seconds(),
            )
        except OSError:
            return False
        return 200 <= status < 300

    def memory_footprint(self, model: ModelSpec, handle: object | None) -> int:
        return model.memory_bytes
