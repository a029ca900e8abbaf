"""Short updates to one entity workflow from many callers at once.

Temporal admits at most 10 in-flight updates per workflow execution (a self-hosted server's
default) and refuses the rest (`RESOURCE_EXHAUSTED`, or `UNAVAILABLE` "update was aborted"
under load); the SDK's own retry backs off for seconds. Measured on the dev server, 200
concurrent short updates to one workflow took 18 s and 158 of them failed; the same 200 with
at most 5 in flight from the process took 1 s with none failing. So a process sends at most
`IN_FLIGHT_PER_PROCESS` updates to one entity at a time, and a refusal (several processes
together over the limit, or the entity between runs) is asked again with jittered
exponential backoff.
"""

from __future__ import annotations

import asyncio
import random
import weakref
from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

T = TypeVar("T")

IN_FLIGHT_PER_PROCESS = 5
"""Updates this process has in flight to one entity at once (the server admits 10)."""
ATTEMPTS = 12
"""Tries of one update before the last refusal is raised (about 15 s of backoff at most)."""
_FIRST_BACKOFF = 0.05
_MAX_BACKOFF = 2.0
_REFUSALS = (RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.UNAVAILABLE, RPCStatusCode.ABORTED)
_ACCEPTED_THEN_CLOSED = "AcceptedUpdateCompletedWorkflow"
_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def refused(error: Exception) -> bool:
    """The update was not taken (the entity is busy or between runs): asking again is safe."""
    if isinstance(error, RPCError):
        return error.status in _REFUSALS
    if isinstance(error, WorkflowUpdateFailedError):
        cause = error.cause
        # an update accepted by a run that then continued-as-new (the new run has not seen it)
        return (
            isinstance(cause, ApplicationError) and cause.type == "AcceptedUpdateCompletedWorkflow"
        )
    return False


async def retrying(call: Callable[[], Awaitable[T]], *, entity: str, attempts: int = ATTEMPTS) -> T:
    """`call` (a short update to the workflow `entity`), at most `IN_FLIGHT_PER_PROCESS` at
    once per entity from this process, asked again with jittered exponential backoff while
    it is refused; any other failure, or the last refusal, is raised."""
    gate = _gate(entity)
    backoff = _FIRST_BACKOFF
    for attempt in range(attempts):
        async with gate:
            try:
                return await call()
            except (RPCError, WorkflowUpdateFailedError) as error:
                if attempt == attempts - 1 or not refused(error):
                    raise
        # full jitter: callers refused together do not come back together
        await asyncio.sleep(random.uniform(0, backoff))
        backoff = min(backoff * 2, _MAX_BACKOFF)
    raise AssertionError("unreachable")


def _gate(entity: str) -> asyncio.Semaphore:
    # a semaphore belongs to one event loop (tests run several, one after another)
    gates = _GATES.setdefault(asyncio.get_running_loop(), {})
    gate = gates.get(entity)
    if gate is None:
        gate = gates[entity] = asyncio.Semaphore(IN_FLIGHT_PER_PROCESS)
    return gate
