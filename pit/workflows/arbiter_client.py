"""Client side of the arbiter, for programs that are not workflows (and for starting it):
register with the short `register` update, then poll the `request_state` query with
backoff; never a waiting update, which would hold one of the few in-flight update slots
Temporal gives a workflow. Workflows ask by signal (`pit.workflows.arbiter_link`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from pit.arbitration import Request
from pit.common.errors import BackendUnavailableError, CapacityError, NotFoundError
from pit.infra.temporal.updates import retrying
from pit.workflows.arbiter import ArbiterInput, ArbiterWorkflow
from pit.workflows.arbiter_views import ArbiterStatus
from pit.workflows.grants import AcquireRequest, GrantReply, RequestRef, arbiter_workflow_id

T = TypeVar("T")

__all__ = [
    "ArbiterInput",
    "acquire_grant",
    "arbiter_status",
    "arbiter_workflow_id",
    "ensure_arbiter",
    "release_grant",
    "renew_grant",
]


async def ensure_arbiter(client: Client, inputs: ArbiterInput, *, task_queue: str) -> None:
    """Start the domain's arbiter unless it is already running."""
    await client.start_workflow(
        ArbiterWorkflow.run,
        inputs,
        id=arbiter_workflow_id(inputs.domain),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def acquire_grant(
    client: Client,
    domain: str,
    request: Request,
    *,
    lease: timedelta | None = None,
    poll: timedelta = timedelta(seconds=1),
    timeout: timedelta | None = None,
) -> GrantReply:
    """Ask the domain's arbiter for `request` and wait until it is granted, polling its
    state with backoff up to `poll` (never a waiting update). A reject raises
    `CapacityError` with the reason; so does `timeout` (None: forever), after withdrawing."""
    handle = client.get_workflow_handle(arbiter_workflow_id(domain))
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout.total_seconds()
    ask = AcquireRequest(request=request, lease=lease)
    reply = await _answer(domain, lambda: handle.execute_update(ArbiterWorkflow.register, ask))
    delay = 0.05
    ref = RequestRef(request=request.id)
    while reply.action == "wait":
        if deadline is not None and loop.time() >= deadline:
            await release_grant(client, domain, request.id)
            raise CapacityError(
                f"arbiter {domain}: {request.id}: not granted within {timeout}",
                request=request.id,
            )
        pause = delay if deadline is None else min(delay, max(0.0, deadline - loop.time()))
        await asyncio.sleep(pause)
        delay = min(delay * 1.5, poll.total_seconds())
        reply = await _answer(
            domain, lambda: handle.query(ArbiterWorkflow.request_state, ref), update=False
        )
    if reply.action != "grant":
        reason = reply.reason or (reply.rationale.reason if reply.rationale else "rejected")
        raise CapacityError(f"arbiter {domain}: {request.id}: {reason}", request=request.id)
    return reply


async def release_grant(client: Client, domain: str, request_id: str) -> bool:
    """Give back a grant (or withdraw a waiting request); True when the arbiter had it."""
    handle = client.get_workflow_handle(arbiter_workflow_id(domain))
    ref = RequestRef(request=request_id)
    return await _answer(domain, lambda: handle.execute_update(ArbiterWorkflow.release_grant, ref))


async def renew_grant(client: Client, domain: str, request_id: str) -> float | None:
    """Extend a held grant's lease; None when the arbiter no longer holds it for us."""
    handle = client.get_workflow_handle(arbiter_workflow_id(domain))
    ref = RequestRef(request=request_id)
    return await _answer(domain, lambda: handle.execute_update(ArbiterWorkflow.renew, ref))


async def arbiter_status(client: Client, domain: str) -> ArbiterStatus:
    handle = client.get_workflow_handle(arbiter_workflow_id(domain))
    return await _answer(domain, lambda: handle.query(ArbiterWorkflow.status), update=False)


async def _answer(domain: str, call: Callable[[], Awaitable[T]], *, update: bool = True) -> T:
    """A short update (asked again while refused) or a query to the domain's arbiter; a
    missing arbiter is `NotFoundError`, an unreachable server `BackendUnavailableError`."""
    try:
        if not update:
            return await call()
        return await retrying(call, entity=arbiter_workflow_id(domain))
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise NotFoundError(f"no arbiter for domain {domain!r}", domain=domain) from None
        raise BackendUnavailableError(f"temporal: {error.message}") from None
    except WorkflowUpdateFailedError as error:
        raise BackendUnavailableError(f"arbiter {domain}: {error.cause or error}") from None
