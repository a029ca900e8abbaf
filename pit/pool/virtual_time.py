"""An asyncio event loop on virtual time: when nothing is ready, the clock jumps to the next
timer instead of sleeping, so a day of traffic replays in seconds through real asyncio code."""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from pit.common.clock import ManualClock

T = TypeVar("T")
FileObject = int | Any  # what selectors accept: a file descriptor or an object with fileno()


class _SkippingSelector(selectors.BaseSelector):
    """Polls the real selector without blocking; a wait becomes a jump of the clock."""

    def __init__(self, clock: ManualClock) -> None:
        self._inner = selectors.DefaultSelector()
        self._clock = clock

    def register(self, fileobj: FileObject, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: FileObject) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._inner.select(0)
        if ready:
            return ready
        if timeout is None:
            raise RuntimeError("virtual time: every task is waiting and no timer is set")
        if timeout > 0:
            self._clock.advance(timeout)
        return []

    def close(self) -> None:
        self._inner.close()

    def get_map(self) -> Mapping[FileObject, selectors.SelectorKey]:
        return self._inner.get_map()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """`loop.time()` is `clock.monotonic()`; idle time costs nothing."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(_SkippingSelector(clock))
        self._virtual_clock = clock

    def time(self) -> float:
        return self._virtual_clock.monotonic()


def run_virtual(main: Coroutine[Any, Any, T], clock: ManualClock) -> T:
    """Run `main` to completion on a fresh virtual-time loop driven by `clock`."""
    with asyncio.Runner(loop_factory=lambda: VirtualTimeLoop(clock)) as runner:
        return runner.run(main)
