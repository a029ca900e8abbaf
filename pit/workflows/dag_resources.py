"""Workflow side of a node's `resources`: a grant from the DAG's arbiter, acquired before the
node runs, renewed while it runs, given back after however it ends."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import AsyncIterator
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from pit.arbitration.model import Request
    from pit.dag.spec import DagSpec, NodeSpec
    from pit.dag.status import NodeStatus
    from pit.workflows.dag_failures import NodeFailed
    from pit.workflows.grants import GrantInput, GrantRef


@contextlib.asynccontextmanager
async def hold_resources(spec: DagSpec, node: NodeSpec, status: NodeStatus) -> AsyncIterator[None]:
    """Hold `node.resources` from `spec.arbiter` around the body (nothing without resources);
    a request the arbiter does not grant raises `NodeFailed`."""
    arbiter = spec.arbiter
    if not node.resources or arbiter is None:
        yield
        return
    run_id = workflow.info().workflow_id
    ref = GrantRef(domain=arbiter.domain, request_id=request_id(run_id, node.id))
    request = Request(
        id=ref.request_id,
        tenant=node.tenant or spec.name,
        priority=node.priority,
        demands=node.resources,
        owner=run_id,
    )
    status.reason = f"waiting for {ref.request_id} from arbiter {ref.domain}"
    try:
        await workflow.execute_activity(
            "pit.arbiter.acquire",
            GrantInput(
                domain=arbiter.domain, config=arbiter.config, request=request, lease=arbiter.lease
            ),
            start_to_close_timeout=timedelta(days=7),
            heartbeat_timeout=timedelta(minutes=1),
            retry_policy=RetryPolicy(non_retryable_error_types=["capacity", "validation"]),
            summary=f"{node.id}: acquire {', '.join(node.resources)}",
        )
    except ActivityError as error:
        if is_cancelled_exception(error):
            raise asyncio.CancelledError from None
        cause = error.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause or error)
        error_type = cause.type if isinstance(cause, ApplicationError) else None
        raise NodeFailed(message, error_type, 0) from None
    status.reason = None
    renewing = asyncio.create_task(_renew(ref, arbiter.lease))
    try:
        yield
    finally:
        renewing.cancel()
        await workflow.execute_activity(
            "pit.arbiter.release",
            ref,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=RetryPolicy(maximum_attempts=20),
        )


async def _renew(ref: GrantRef, lease: timedelta) -> None:
    while True:
        await workflow.sleep(lease / 3)
        await workflow.execute_activity(
            "pit.arbiter.renew", ref, start_to_close_timeout=timedelta(minutes=1)
        )


def request_id(run_id: str, node_id: str) -> str:
    """`<run>:<node>` as the arbiter's request id (its ids are at most 64 characters of
    A-Z a-z 0-9 _ - . : @), shortened with a hash when that is too long."""
    wanted = re.sub(r"[^A-Za-z0-9_.:@-]", "_", f"{run_id}:{node_id}")
    if len(wanted) <= 64:
        return wanted
    digest = hashlib.sha256(wanted.encode()).hexdigest()[:16]
    return f"{wanted[:47]}@{digest}"
