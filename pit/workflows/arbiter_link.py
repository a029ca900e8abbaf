"""A workflow's link to the arbiters it asks for resources, as in Temporal's mutex sample:
requests, releases and renewals are signals to the arbiter, answers come back as a signal.

Every message costs the server writes and a workflow task on both sides, so what a run sends
in one workflow task goes in one signal per domain and kind (all the nodes that become ready,
or finish, together), and one timer per domain renews every held grant and now and then asks
again for the waiting ones (idempotent; it repairs an ask or answer lost to an arbiter that
was reset). The arbiter is started, when the DAG gives its config, by one activity per run
and domain, and again if a signal finds it gone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterator
from datetime import timedelta
from typing import Any, Literal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from pit.activities.arbiter import ensure
    from pit.arbitration.model import Request
    from pit.arbitration.protocol import (
        MAX_BATCH,
        Answers,
        EnsureArbiter,
        GrantReply,
        ReplyTo,
        RequestIds,
        Submission,
        arbiter_workflow_id,
    )
    from pit.dag.spec import ArbiterSection
    from pit.workflows.dag_failures import NodeFailed

Kind = Literal["submit", "release", "renew_lease"]
_NOT_FOUND = "ExternalWorkflowExecutionNotFound"
_RENEWALS_PER_ASK = 3
"""The keeper renews every lease / 3 and asks again for waiting requests every lease."""


class _Domain:
    def __init__(self, section: ArbiterSection) -> None:
        self.section = section
        self.waiting: dict[str, Request] = {}
        self.held: dict[str, None] = {}
        self.outgoing: dict[Kind, list[tuple[str, asyncio.Future[None]]]] = {}
        self.keeper: asyncio.Task[None] | None = None


class ArbiterLink:
    """One run's dealings with arbiters: what it waits for, holds, and has yet to send."""

    def __init__(self) -> None:
        self._domains: dict[str, _Domain] = {}
        self._answers: dict[str, GrantReply] = {}
        self._started: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def deliver(self, answers: Answers) -> None:
        """Answers from an arbiter. A grant for a request neither waited for nor held (its
        node was cancelled while the ask was still on its way) is given back at once; any
        other answer for it (a repeat, a reject) is dropped."""
        domain = self._domains.get(answers.domain)
        if domain is None:
            return
        for reply in answers.replies:
            rid = reply.request
            if rid in domain.waiting:
                self._answers[rid] = reply
            elif reply.action == "grant" and rid not in domain.held:
                self._spawn(self._give_back(domain, rid))

    async def _give_back(self, domain: _Domain, request_id: str) -> None:
        with contextlib.suppress(NodeFailed):
            await self._send(domain, "release", request_id)

    async def acquire(self, section: ArbiterSection, request: Request) -> GrantReply:
        """Wait for the grant of `request`; a reject (or no arbiter) raises `NodeFailed`.
        Cancelled while waiting, the request is withdrawn."""
        domain = self._domain(section)
        rid = request.id
        domain.waiting[rid] = request
        try:
            await self._send(domain, "submit", rid)
            self._keep(domain)
            await workflow.wait_condition(lambda: rid in self._answers)
            reply = self._answers.pop(rid)
            if reply.action == "grant":
                domain.held[rid] = None
        except asyncio.CancelledError:
            domain.waiting.pop(rid, None)
            with contextlib.suppress(NodeFailed):
                await self._send(domain, "release", rid)
            raise
        finally:
            domain.waiting.pop(rid, None)
            self._rest(domain)
        if reply.action != "grant":
            reason = reply.reason or (reply.rationale.reason if reply.rationale else "rejected")
            raise NodeFailed(f"arbiter {section.domain}: {rid}: {reason}", "capacity", 0)
        return reply

    async def release(self, section: ArbiterSection, request_id: str) -> None:
        domain = self._domain(section)
        domain.held.pop(request_id, None)
        self._rest(domain)
        with contextlib.suppress(NodeFailed):  # no arbiter: nothing held there
            await self._send(domain, "release", request_id)

    def _domain(self, section: ArbiterSection) -> _Domain:
        domain = self._domains.get(section.domain)
        if domain is None:
            domain = self._domains[section.domain] = _Domain(section)
        return domain

    # sending, one signal per domain and kind for what is sent in one workflow task ------

    async def _send(self, domain: _Domain, kind: Kind, request_id: str) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queued = domain.outgoing.setdefault(kind, [])
        queued.append((request_id, future))
        if len(queued) == 1:
            self._spawn(self._flush(domain, kind))
        await future

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self, domain: _Domain, kind: Kind) -> None:
        # the other nodes woken in this workflow task queue theirs before the signal goes
        for _ in range(3):
            await asyncio.sleep(0)
        queued = domain.outgoing.pop(kind)
        try:
            for chunk in _chunks(queued):
                await self._signal(domain, kind, [rid for rid, _ in chunk])
        except NodeFailed as failure:
            for _, future in queued:
                if not future.done():
                    future.set_exception(failure)
            return
        for _, future in queued:
            if not future.done():
                future.set_result(None)

    async def _signal(self, domain: _Domain, kind: Kind, request_ids: list[str]) -> None:
        section = domain.section
        message: BaseModel
        if kind == "submit":
            info = workflow.info()
            requests = [domain.waiting[r] for r in request_ids if r in domain.waiting]
            if not requests:
                return  # withdrawn before it was sent
            message = Submission(
                requests=requests,
                lease=section.lease,
                reply_to=ReplyTo(workflow_id=info.workflow_id, run_id=info.run_id),
            )
            await self._start(section)
        else:
            message = RequestIds(requests=request_ids)
        handle = workflow.get_external_workflow_handle(arbiter_workflow_id(section.domain))
        try:
            await handle.signal(kind, message)
            return
        except ApplicationError as error:
            if error.type != _NOT_FOUND or kind != "submit" or section.config is None:
                raise _no_arbiter(section) from None
        self._started.pop(section.domain, None)  # it was stopped since: start it again
        await self._start(section)
        try:
            await handle.signal(kind, message)
        except ApplicationError:
            raise _no_arbiter(section) from None

    async def _start(self, section: ArbiterSection) -> None:
        """Start the domain's arbiter unless this run already did (one activity, shared by
        the nodes that ask at once); without a config it must already run."""
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
            failure = f"arbiter {section.domain}: cannot start: {message}"
            raise NodeFailed(failure, None, 0) from None

    # the keeper: renewals and asking again, on one timer per domain -----------------------

    def _keep(self, domain: _Domain) -> None:
        if domain.keeper is None or domain.keeper.done():
            domain.keeper = asyncio.create_task(self._keeper(domain))

    def _rest(self, domain: _Domain) -> None:
        if not domain.held and not domain.waiting and domain.keeper is not None:
            domain.keeper.cancel()
            domain.keeper = None

    async def _keeper(self, domain: _Domain) -> None:
        renewals = 0
        while domain.held or domain.waiting:
            await workflow.sleep(domain.section.lease / _RENEWALS_PER_ASK)
            renewals += 1
            sends = [self._send(domain, "renew_lease", rid) for rid in domain.held]
            if renewals % _RENEWALS_PER_ASK == 0:
                sends += [self._send(domain, "submit", rid) for rid in domain.waiting]
            await asyncio.gather(*sends, return_exceptions=True)


async def _ensure(section: ArbiterSection) -> None:
    assert section.config is not None
    await workflow.execute_activity(
        ensure,
        EnsureArbiter(domain=section.domain, config=section.config, lease=section.lease),
        start_to_close_timeout=timedelta(minutes=1),
        retry_policy=RetryPolicy(maximum_attempts=10, non_retryable_error_types=["validation"]),
        summary=f"start arbiter {section.domain}",
    )


def _chunks(
    queued: list[tuple[str, asyncio.Future[None]]],
) -> Iterator[list[tuple[str, asyncio.Future[None]]]]:
    for start in range(0, len(queued), MAX_BATCH):
        yield queued[start : start + MAX_BATCH]


def _no_arbiter(section: ArbiterSection) -> NodeFailed:
    return NodeFailed(
        f"arbiter {section.domain}: not running (give the DAG's `arbiter:` a config to start "
        "it, or start it first)",
        "not_found",
        0,
    )
