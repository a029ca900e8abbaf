"""Workflow side of a node's `resources`: a grant from the DAG's arbiter, held around the node.

The run signals the arbiter (`submit`, `renew_lease`, `release`) and the arbiter signals the
answer back (`GRANT_SIGNAL`, handled by the DAG workflow and passed to `Grants.deliver`), as
in Temporal's mutex sample: a waiting node costs no activity slot and no in-flight update.
The arbiter is started (when the DAG gives its config) by one activity per run and domain,
and again if a signal finds it gone.
"""

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
    from pydantic import BaseModel

    from pit.arbitration.model import Request
    from pit.dag.spec import ArbiterSection, DagSpec, NodeSpec
    from pit.dag.status import NodeStatus
    from pit.workflows.dag_failures import NodeFailed
    from pit.workflows.grants import (
        EnsureArbiter,
        GrantReply,
        ReplyTo,
        RequestRef,
        RequestSignal,
        arbiter_workflow_id,
    )

_NOT_FOUND = "ExternalWorkflowExecutionNotFound"


class Grants:
    """One run's dealings with arbiters: the answers it waits for, the arbiters it started."""

    def __init__(self) -> None:
        self._waiting: set[str] = set()
        self._answers: dict[str, GrantReply] = {}
        self._started: dict[str, asyncio.Task[None]] = {}

    def deliver(self, reply: GrantReply) -> None:
        """An arbiter's answer; one for a request no longer waited for (withdrawn, or asked
        twice) is dropped: the arbiter learns of the withdrawal from the run's release."""
        if reply.request in self._waiting:
            self._answers[reply.request] = reply

    async def acquire(self, section: ArbiterSection, request: Request) -> GrantReply:
        """Wait for the arbiter's grant of `request`; a reject raises `NodeFailed`.
        Cancelled while waiting, the request is withdrawn."""
        rid = request.id
        info = workflow.info()
        ask = RequestSignal(
            request=request,
            lease=section.lease,
            reply_to=ReplyTo(workflow_id=info.workflow_id, run_id=info.run_id),
        )
        self._waiting.add(rid)
        try:
            await self._signal(section, "submit", ask)
            while rid not in self._answers:
                # asking again now and then is safe (idempotent by id) and repairs a lost ask
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(
                        lambda: rid in self._answers, timeout=section.lease
                    )
                if rid not in self._answers:
                    await self._signal(section, "submit", ask)
            reply = self._answers.pop(rid)
        except asyncio.CancelledError:
            await self.release(section, rid)
            raise
        finally:
            self._waiting.discard(rid)
        if reply.action != "grant":
            reason = reply.reason or (reply.rationale.reason if reply.rationale else "rejected")
            raise NodeFailed(f"arbiter {section.domain}: {rid}: {reason}", "capacity", 0)
        return reply

    async def renew(self, section: ArbiterSection, request_id: str) -> None:
        with contextlib.suppress(NodeFailed):  # no arbiter: no grant left to keep
            await self._signal(section, "renew_lease", RequestRef(request=request_id), False)

    async def release(self, section: ArbiterSection, request_id: str) -> None:
        with contextlib.suppress(NodeFailed):  # no arbiter: nothing held there
            await self._signal(section, "release", RequestRef(request=request_id), False)

    async def _signal(
        self, section: ArbiterSection, name: str, arg: BaseModel, start: bool = True
    ) -> None:
        if start:
            await self._start(section)
        handle = workflow.get_external_workflow_handle(arbiter_workflow_id(section.domain))
        try:
            await handle.signal(name, arg)
            return
        except ApplicationError as error:
            if error.type != _NOT_FOUND or not start or section.config is None:
                raise _no_arbiter(section) from None
        self._started.pop(section.domain, None)  # it was stopped since: start it again
        await self._start(section)
        try:
            await handle.signal(name, arg)
        except ApplicationError:
            raise _no_arbiter(section) from None

    async def _start(self, section: ArbiterSection) -> None:
        """Start the domain's arbiter unless this run already did (nodes asking at once
        share one activity)."""
        if section.config is None:
            return
        started = self._started.get(section.domain)
        if started is None:
            started = asyncio.create_task(_ensure(section))
            self._started[section.domain] = started
        try:
            await asyncio.shield(started)
        except ActivityError as error:
            self._started.pop(section.domain, None)
            if is_cancelled_exception(error):
                raise asyncio.CancelledError from None
            cause = error.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(cause)
            raise NodeFailed(
                f"arbiter {section.domain}: cannot start: {message}", None, 0
            ) from None


async def _ensure(section: ArbiterSection) -> None:
    assert section.config is not None
    await workflow.execute_activity(
        "pit.arbiter.ensure",
        EnsureArbiter(domain=section.domain, config=section.config, lease=section.lease),
        start_to_close_timeout=timedelta(minutes=1),
        retry_policy=RetryPolicy(maximum_attempts=10, non_retryable_error_types=["validation"]),
        summary=f"start arbiter {section.domain}",
    )


def _no_arbiter(section: ArbiterSection) -> NodeFailed:
    return NodeFailed(
        f"arbiter {section.domain}: not running (give the DAG's `arbiter:` a config to start "
        "it, or start it first)",
        "not_found",
        0,
    )


@contextlib.asynccontextmanager
async def hold_resources(
    spec: DagSpec, node: NodeSpec, status: NodeStatus, grants: Grants
) -> AsyncIterator[None]:
    """Hold `node.resources` from `spec.arbiter` around the body (nothing without resources);
    a request the arbiter does not grant raises `NodeFailed`."""
    arbiter = spec.arbiter
    if not node.resources or arbiter is None:
        yield
        return
    run_id = workflow.info().workflow_id
    rid = request_id(run_id, node.id)
    request = Request(
        id=rid,
        tenant=node.tenant or spec.name,
        priority=node.priority,
        demands=node.resources,
        owner=run_id,
    )
    status.reason = f"waiting for {rid} from arbiter {arbiter.domain}"
    await grants.acquire(arbiter, request)
    status.reason = None
    renewing = asyncio.create_task(_renew(grants, arbiter, rid))
    try:
        yield
    finally:
        renewing.cancel()
        await grants.release(arbiter, rid)


async def _renew(grants: Grants, section: ArbiterSection, request_id: str) -> None:
    while True:
        await workflow.sleep(section.lease / 3)
        await grants.renew(section, request_id)


def request_id(run_id: str, node_id: str) -> str:
    """`<run>:<node>` as the arbiter's request id (its ids are at most 64 characters of
    A-Z a-z 0-9 _ - . : @), shortened with a hash when that is too long."""
    wanted = re.sub(r"[^A-Za-z0-9_.:@-]", "_", f"{run_id}:{node_id}")
    if len(wanted) <= 64:
        return wanted
    digest = hashlib.sha256(wanted.encode()).hexdigest()[:16]
    return f"{wanted[:47]}@{digest}"
