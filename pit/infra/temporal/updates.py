"""Asking an entity workflow again while it is between runs (continue-as-new)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

T = TypeVar("T")


async def retrying(call: Callable[[], Awaitable[T]], *, attempts: int = 10) -> T:
    """`call` (an update), asked again with a short backoff while the entity is between
    runs; the last failure is raised."""
    for attempt in range(attempts):
        try:
            return await call()
        except (RPCError, WorkflowUpdateFailedError):
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")
