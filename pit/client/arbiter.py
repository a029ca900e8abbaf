"""The arbiter from a program that is not a workflow (and starting one).

A program registers with the short `register` update, then polls the `request_state` query
with backoff: never a waiting update, which would hold one of the few in-flight update
slots Temporal gives a workflow. Workflows (DAG runs) ask by signal instead
(`pit.workflows.arbiter_link`). The arbiter is known here by its workflow, update and query
names and the message types in `pit.arbitration.protocol`, never by its workflow class.

    async with pit.arbiter.hold("gpus", {"gpu_memory": 8 * 2**30}, tenant="me") as grant:
        ...  # the grant is renewed while the block runs and given back after it
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import timedelta
from typing import TypeVar

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from pit.arbitration import Request
from pit.arbitration.protocol import (
    ARBITER_WORKFLOW,
    AcquireRequest,
    ArbiterInput,
    GrantReply,
    RequestRef,
    arbiter_workflow_id,
)
from pit.arbitration.views import ArbiterStatus
from pit.common.errors import BackendUnavailableError, CapacityError, NotFoundError
from pit.common.spans import span
from pit.infra.temporal.search_attributes import pit_tags
from pit.infra.temporal.updates import retrying

T = TypeVar("T")

__all__ = [
    "ArbiterClient",
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
    summary = f"arbiter of domain {inputs.domain}"
    tags = await pit_tags(client, "arbiter", summary, {"domain": inputs.domain})
    await client.start_workflow(
        ARBITER_WORKFLOW,
        inputs,
        id=arbiter_workflow_id(inputs.domain),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        memo=tags.memo,
        search_attributes=tags.search_attributes,
        static_summary=tags.summary,
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
    `CapacityError` with the reason; so does `timeout` (None: forever), after withdrawing.
    Traced as one `pit.arbiter.wait` span (docs/production.md)."""
    attributes = {"pit.domain": domain, "pit.request": request.id}
    with span("pit.arbiter.wait", attributes):
        return await _acquire(client, domain, request, lease, poll, timeout)


async def _acquire(
    client: Client,
    domain: str,
    request: Request,
    lease: timedelta | None,
    poll: timedelta,
    timeout: timedelta | None,
) -> GrantReply:
    handle = client.get_workflow_handle(arbiter_workflow_id(domain))
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout.total_seconds()
    ask = AcquireRequest(request=request, lease=lease)
    reply: GrantReply = await _answer(
        domain, lambda: handle.execute_update("register", ask, result_type=GrantReply)
    )
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
            domain,
            lambda: handle.query("request_state", ref, result_type=GrantReply),
            update=False,
        )
    if reply.action != "grant":
        reason = reply.reason or (reply.rationale.reason if reply.rationale else "rejected")
        raise CapacityError(f"arbiter {domain}: {request.id}: {reason}", request=request.id)
    return reply


async def release_grant(client: Client, domain: str, request_id: str) -> bool:
    """Give back a grant (or withdraw a waiting request); True when the arbiter had it."""
    handle = client.get_workflow_handle(arbiter_workflow_id(domain))
    ref = RequestRef(request=request_id)
    released: bool = await _answer(
        domain, lambda: handle.execute_update("release_grant", ref, result_type=bool)
    )
    return released


async def renew_grant(client: Client, domain: str, request_id: str) -> float | None:
    """Extend a held grant's lease; None when the arbiter no longer holds it for us."""
    handle = client.get_workflow_handle(arbiter_workflow_id(domain))
    ref = RequestRef(request=request_id)
    until = await _answer(domain, lambda: handle.execute_update("renew", ref))
    return None if until is None else float(until)


async def arbiter_status(client: Client, domain: str) -> ArbiterStatus:
    """Holders, waiters, conflicts and fairness of the domain's arbiter."""
    handle = client.get_workflow_handle(arbiter_workflow_id(domain))
    status: ArbiterStatus = await _answer(
        domain, lambda: handle.query("status", result_type=ArbiterStatus), update=False
    )
    return status


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


class ArbiterClient:
    """Grants from the arbiters of one Temporal namespace."""

    def __init__(self, client: Client, *, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue

    async def ensure(self, inputs: ArbiterInput) -> None:
        """Start `inputs.domain`'s arbiter with `inputs.config` unless it already runs."""
        await ensure_arbiter(self.client, inputs, task_queue=self.task_queue)

    @contextlib.asynccontextmanager
    async def hold(
        self,
        domain: str,
        demands: Mapping[str, int],
        *,
        priority: int = 0,
        tenant: str = "default",
        request_id: str | None = None,
        lease: timedelta = timedelta(minutes=10),
        timeout: timedelta | None = None,
    ) -> AsyncIterator[GrantReply]:
        """Hold `demands` from `domain`'s arbiter for the length of the block: waits for the
        grant (`timeout`: None waits as long as it takes), renews its lease every third of
        `lease` while the block runs, and gives it back however the block ends. A reject,
        or the grant lost while held, is a `CapacityError`."""
        request = Request(
            id=request_id or f"{tenant}:{uuid.uuid4().hex[:16]}",
            tenant=tenant,
            priority=priority,
            demands=dict(demands),
        )
        grant = await acquire_grant(self.client, domain, request, lease=lease, timeout=timeout)
        renewing = asyncio.create_task(self._renew(domain, request.id, lease))
        try:
            yield grant
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            await asyncio.shield(release_grant(self.client, domain, request.id))

    async def _renew(self, domain: str, request_id: str, lease: timedelta) -> None:
        while True:
            await asyncio.sleep(lease.total_seconds() / 3)
            if await renew_grant(self.client, domain, request_id) is None:
                raise CapacityError(f"arbiter {domain}: {request_id}: the grant was taken back")

    async def status(self, domain: str) -> ArbiterStatus:
        """Holders, waiters, conflicts and fairness of `domain`'s arbiter."""
        return await arbiter_status(self.client, domain)

    async def release(self, domain: str, request_id: str) -> bool:
        """Give back a grant (or withdraw a waiting request) by its id."""
        return await release_grant(self.client, domain, request_id)
