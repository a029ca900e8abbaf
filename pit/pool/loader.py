"""The `ModelLoader` port and the two loaders that need no network: `simulated` and `python`."""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from pit.common.errors import ConfigError, WorkFailedError
from pit.pool.spec import ModelSpec, PythonLoaderSpec


class ModelLoader(Protocol):
    """Loads and unloads one kind of model; the pool calls it outside its hot path."""

    async def load(self, model: ModelSpec) -> object:
        """Bring the model up and return its handle; raise on failure."""
        ...

    async def unload(self, model: ModelSpec, handle: object) -> None:
        """Release the model; best effort."""
        ...

    async def health_check(self, model: ModelSpec, handle: object) -> bool:
        """True when the model answers correctly; False or an exception when it does not."""
        ...

    def memory_footprint(self, model: ModelSpec, handle: object | None) -> int:
        """Bytes the model holds (or will hold, before it is loaded)."""
        ...


@runtime_checkable
class SleepingLoader(Protocol):
    """A loader whose runtime can put a loaded model to sleep: off the accelerator, held in
    host memory, and back far faster than a load (the pool's cooling tier)."""

    async def sleep(self, model: ModelSpec, handle: object) -> None:
        """Free the model's accelerator memory, keeping it ready to wake."""
        ...

    async def wake(self, model: ModelSpec, handle: object) -> None:
        """Bring a sleeping model back; raise on failure."""
        ...

    def host_memory(self, model: ModelSpec) -> int:
        """Host bytes the model holds while asleep."""
        ...


def sleeping_loader(loader: ModelLoader) -> SleepingLoader | None:
    """`loader` when its runtime can sleep, else None."""
    return loader if isinstance(loader, SleepingLoader) else None


def describe_error(error: BaseException) -> str:
    """What went wrong, never empty: a bare exception (a cancellation, a timeout) is named
    by its type."""
    if isinstance(error, asyncio.CancelledError):
        return "cancelled (the pool is closing or the caller gave up)"
    text = str(error).strip()
    return text or type(error).__name__


class SimulatedHandle:
    """What the simulated loader hands out; tests flip `alive` to kill a model."""

    __slots__ = ("alive", "model_id")

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        self.alive = True


class SimulatedLoader:
    """Loading sleeps `load_seconds` on the running loop (virtual time in the simulator)."""

    def __init__(self) -> None:
        self.loads: dict[str, int] = {}
        self.fail_next: set[str] = set()
        """Model ids whose next load raises: for tests of failure and recovery."""

    async def load(self, model: ModelSpec) -> object:
        self.loads[model.id] = self.loads.get(model.id, 0) + 1
        await asyncio.sleep(model.load_seconds)
        if model.id in self.fail_next:
            self.fail_next.discard(model.id)
            raise WorkFailedError(f"model {model.id}: simulated load failure", model=model.id)
        return SimulatedHandle(model.id)

    async def unload(self, model: ModelSpec, handle: object) -> None:
        if isinstance(handle, SimulatedHandle):
            handle.alive = False

    async def health_check(self, model: ModelSpec, handle: object) -> bool:
        return isinstance(handle, SimulatedHandle) and handle.alive

    def memory_footprint(self, model: ModelSpec, handle: object | None) -> int:
        return model.memory_bytes


class PythonLoader:
    """`factory: module:callable` returns the handle (sync or async)."""

    async def load(self, model: ModelSpec) -> object:
        spec = model.loader
        if not isinstance(spec, PythonLoaderSpec):
            raise ConfigError.for_field("loader.kind", spec.kind, "the python loader needs python")
        factory = _import_factory(spec.factory)
        result = factory()
        return await result if inspect.isawaitable(result) else result

    async def unload(self, model: ModelSpec, handle: object) -> None:
        await _maybe_call(handle, "close")

    async def health_check(self, model: ModelSpec, handle: object) -> bool:
        if not hasattr(handle, "health"):
            return True
        return bool(await _maybe_call(handle, "health"))

    def memory_footprint(self, model: ModelSpec, handle: object | None) -> int:
        reported = getattr(handle, "memory_bytes", None)
        return reported if isinstance(reported, int) else model.memory_bytes


def _import_factory(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as error:
        raise ConfigError.for_field("loader.factory", target, f"cannot import: {error}") from None
    if not callable(found):
        raise ConfigError.for_field("loader.factory", target, "must name a callable")
    return found


async def _maybe_call(handle: object, method: str) -> object:
    fn = getattr(handle, method, None)
    if fn is None:
        return None
    result = fn()
    return await result if inspect.isawaitable(result) else result


def default_loaders() -> Mapping[str, ModelLoader]:
    """One loader per `loader.kind`: how a spec picks its backend."""
    from pit.pool.http_loader import HttpLoader

    return {"simulated": SimulatedLoader(), "python": PythonLoader(), "http": HttpLoader()}
