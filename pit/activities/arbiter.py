"""Activities a DAG run uses to hold resources from an arbiter around a node: a workflow
cannot send an update to another workflow, so these do it with the activity's client."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity

from pit.common.errors import CapacityError
from pit.workflows.arbiter import (
    AcquireRequest,
    ArbiterInput,
    ArbiterWorkflow,
    GrantReply,
    arbiter_workflow_id,
    ensure_arbiter,
    release_grant,
    renew_grant,
)
from pit.workflows.grants import GrantInput, GrantRef

SLICE = timedelta(seconds=10)
"""How long one ask waits in the arbiter before the activity heartbeats and asks again."""


@activity.defn(name="pit.arbiter.acquire")
async def acquire(inputs: GrantInput) -> GrantReply:
    """Waits (heartbeating) until the arbiter grants the request; a reject fails the node.
    Cancelled while waiting, it withdraws the request."""
    client = activity.client()
    if inputs.config is not None:
        arbiter = ArbiterInput(domain=inputs.domain, config=inputs.config, lease=inputs.lease)
        await ensure_arbiter(client, arbiter, task_queue=activity.info().task_queue)
    handle = client.get_workflow_handle(arbiter_workflow_id(inputs.domain))
    ask = AcquireRequest(request=inputs.request, wait=SLICE, lease=inputs.lease)
    try:
        while True:
            reply = await handle.execute_update(ArbiterWorkflow.acquire, ask)
            if reply.action == "grant":
                return reply
            if reply.action in ("reject", "preempt"):
                reason = reply.rationale.reason if reply.rationale else "rejected"
                raise CapacityError(
                    f"arbiter {inputs.domain}: {inputs.request.id}: {reason}",
                    request=inputs.request.id,
                )
            activity.heartbeat(reply.action)
    except asyncio.CancelledError:
        await asyncio.shield(release_grant(client, inputs.domain, inputs.request.id))
        raise


@activity.defn(name="pit.arbiter.renew")
async def renew(inputs: GrantRef) -> float | None:
    """Extends the lease of a grant the run still holds."""
    return await renew_grant(activity.client(), inputs.domain, inputs.request_id)


@activity.defn(name="pit.arbiter.release")
async def release(inputs: GrantRef) -> bool:
    """Gives the grant back (or withdraws a request still waiting)."""
    return await release_grant(activity.client(), inputs.domain, inputs.request_id)


ARBITER_ACTIVITIES = (acquire, renew, release)
