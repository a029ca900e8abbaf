"""JSON over HTTP to a model runtime, with bounded time and size, and errors that say which
runtime, where, and what went wrong.

Errors raised:

    BackendUnavailableError   the runtime cannot be reached (refused, timed out, reset)
    WorkFailedError           it answered, but with an error status or a body we cannot use
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import aiohttp
from pydantic import BaseModel

from pit.common.errors import BackendUnavailableError, ConfigError, WorkFailedError
from pit.pool.spec import ModelSpec

SpecT = TypeVar("SpecT", bound=BaseModel)

MAX_BODY = 4 * 1024 * 1024
"""The largest answer read from a runtime (`/api/ps` of a busy Ollama is a few KiB)."""


class RuntimeHandle:
    """A model loaded in a runtime: where, under which name, and the memory the runtime
    reported for it (None when it reports none)."""

    __slots__ = ("memory_bytes", "name", "url")

    def __init__(self, url: str, name: str, memory_bytes: int | None = None) -> None:
        self.url = url
        self.name = name
        self.memory_bytes = memory_bytes


def loader_spec(model: ModelSpec, spec_type: type[SpecT]) -> SpecT:
    """`model`'s loader spec, which must be a `spec_type`."""
    if not isinstance(model.loader, spec_type):
        kind = spec_type.model_fields["kind"].default
        rule = f"the {kind} loader needs kind {kind}"
        raise ConfigError.for_field("loader.kind", model.loader.kind, rule)
    return model.loader


class RuntimeClient:
    """One runtime's base URL. A session per call: calls are on the pool's slow path (loads,
    unloads, health checks every few hundred ms), and nothing is left open between them."""

    def __init__(self, runtime: str, base_url: str) -> None:
        self.runtime = runtime
        self.base_url = base_url.rstrip("/")

    async def call(
        self,
        method: str,
        path: str,
        *,
        timeout: float,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """(status, parsed JSON body or None when empty). Raises on transport failure."""
        url = self.base_url + path
        where = f"{self.runtime} at {self.base_url}"
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
                session.request(method, url, json=body, params=params) as response,
            ):
                raw = await response.content.read(MAX_BODY + 1)
                status = response.status
        except TimeoutError:
            raise BackendUnavailableError(
                f"{where}: {method} {path} got no answer within {timeout:g} s", url=url
            ) from None
        except aiohttp.ClientError as error:
            reason = str(error) or type(error).__name__
            raise BackendUnavailableError(f"{where} cannot be reached: {reason}", url=url) from None
        if len(raw) > MAX_BODY:
            raise WorkFailedError(f"{where}: {method} {path} answered more than {MAX_BODY} bytes")
        if not raw.strip():
            return status, None
        try:
            return status, json.loads(raw)
        except ValueError:
            if 200 <= status < 300:
                raise WorkFailedError(f"{where}: {method} {path} answered non-JSON") from None
            return status, raw[:200].decode(errors="replace")

    async def ok(
        self,
        method: str,
        path: str,
        *,
        timeout: float,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """The parsed body of a 2xx answer; any other status is a `WorkFailedError` carrying
        the runtime's own error message."""
        status, parsed = await self.call(method, path, timeout=timeout, body=body, params=params)
        if 200 <= status < 300:
            return parsed
        raise WorkFailedError(
            f"{self.runtime} at {self.base_url}: {method} {path} answered {status}: "
            f"{error_message(parsed)}"
        )


def error_message(parsed: Any) -> str:
    """The message of an error body: Ollama's `{"error": "..."}`, OpenAI's and llama.cpp's
    `{"error": {"message": "..."}}`, FastAPI's `{"detail": ...}`, or the text itself."""
    if isinstance(parsed, dict):
        error = parsed.get("error", parsed.get("detail"))
        if isinstance(error, dict):
            error = error.get("message", error)
        if error is not None:
            return str(error)[:300]
    return "no error message" if parsed is None else str(parsed)[:300]
