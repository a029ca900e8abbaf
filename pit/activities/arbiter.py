"""The one arbiter activity a DAG run needs: make sure its domain's arbiter runs (a workflow
cannot start another workflow that outlives it). Everything else is a signal."""

from __future__ import annotations

from temporalio import activity

from pit.workflows.arbiter import ArbiterInput, ensure_arbiter
from pit.workflows.grants import EnsureArbiter


@activity.defn(name="pit.arbiter.ensure")
async def ensure(inputs: EnsureArbiter) -> None:
    """Starts the domain's arbiter with the DAG's config unless it is already running."""
    arbiter = ArbiterInput(domain=inputs.domain, config=inputs.config, lease=inputs.lease)
    await ensure_arbiter(activity.client(), arbiter, task_queue=activity.info().task_queue)


ARBITER_ACTIVITIES = (ensure,)
