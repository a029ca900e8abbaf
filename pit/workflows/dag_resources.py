"""Workflow side of a node's `resources`: a grant from the DAG's arbiter, acquired before the
node runs and given back after, however it ends (see `arbiter_link` for how it is asked)."""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import AsyncIterator

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pit.arbitration.model import Request
    from pit.dag.spec import DagSpec, NodeSpec
    from pit.dag.status import NodeStatus
    from pit.workflows.arbiter_link import ArbiterLink


@contextlib.asynccontextmanager
async def hold_resources(
    spec: DagSpec, node: NodeSpec, status: NodeStatus, link: ArbiterLink, key: str | None = None
) -> AsyncIterator[None]:
    """Hold `node.resources` from `spec.arbiter` around the body (nothing without resources);
    a request the arbiter does not grant raises `NodeFailed`. `key`: a map item's own name
    (`node[3]`), so that each item asks for its own grant."""
    arbiter = spec.arbiter
    if not node.resources or arbiter is None:
        yield
        return
    run_id = workflow.info().workflow_id
    rid = request_id(run_id, key or node.id)
    # no `owner`: a node holds its grant only while it runs, and a running node waits for
    # nothing, so two runs each holding some slots while other nodes wait is no deadlock
    # (naming the run as owner made the engine preempt a running node's grant)
    request = Request(
        id=rid, tenant=node.tenant or spec.name, priority=node.priority, demands=node.resources
    )
    status.reason = f"waiting for {rid} from arbiter {arbiter.domain}"
    await link.acquire(arbiter, request)
    status.reason = None
    try:
        yield
    finally:
        await link.release(arbiter, rid)


def request_id(run_id: str, node_id: str) -> str:
    """`<run>:<node>` as the arbiter's request id (its ids are at most 64 characters of
    A-Z a-z 0-9 _ - . : @), shortened with a hash when that is too long."""
    wanted = re.sub(r"[^A-Za-z0-9_.:@-]", "_", f"{run_id}:{node_id}")
    if len(wanted) <= 64:
        return wanted
    digest = hashlib.sha256(wanted.encode()).hexdigest()[:16]
    return f"{wanted[:47]}@{digest}"
