"""Arbiter activities: `ensure` (a DAG run starts its domain's arbiter: a workflow cannot
start one that outlives it) and `answer` (the arbiter's local activity that signals answers
to a run straight from the worker's client)."""

from __future__ import annotations

from temporalio import activity
from temporalio.service import RPCError, RPCStatusCode

from pit.arbitration.protocol import GRANT_SIGNAL, ArbiterInput, EnsureArbiter, Outgoing
from pit.client.arbiter import ensure_arbiter
from pit.common.errors import NotFoundError


@activity.defn(name="pit.arbiter.ensure")
async def ensure(inputs: EnsureArbiter) -> None:
    """Starts the domain's arbiter with the DAG's config unless it is already running."""
    arbiter = ArbiterInput(domain=inputs.domain, config=inputs.config, lease=inputs.lease)
    await ensure_arbiter(activity.client(), arbiter, task_queue=activity.info().task_queue)


@activity.defn(name="pit.arbiter.answer")
async def answer(outgoing: Outgoing) -> None:
    """Signals `outgoing.answers` to the run that asked; `NotFoundError` when it has closed."""
    to = outgoing.to
    handle = activity.client().get_workflow_handle(to.workflow_id, run_id=to.run_id)
    try:
        await handle.signal(GRANT_SIGNAL, outgoing.answers)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise NotFoundError(
                f"run {to.workflow_id} ({to.run_id}) has closed: {error.message}"
            ) from None
        raise


ARBITER_ACTIVITIES = (ensure, answer)
