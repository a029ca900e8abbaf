"""`pit.arbiter`: one entity workflow per resource domain holding the arbitration ledger.

Requests arrive as updates (`acquire`: granted, or waited for up to a slice, then asked
again), releases as a signal or an update, holders renew a lease or lose their grant when it
runs out (a workflow timer), and the ledger continues-as-new to bound its history. The
decisions come from the pure engine in `pit.arbitration`, with `workflow.now()` as time.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Literal, TypeVar

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, ConfigDict, Field

    from pit.arbitration import (
        Arbiter,
        ArbiterConfig,
        ArbiterSnapshot,
        Decision,
        FairnessReport,
        Rationale,
        Release,
        Request,
        Submit,
        Tick,
    )
    from pit.common.errors import BackendUnavailableError, CapacityError, NotFoundError
    from pit.common.validation import Duration
    from pit.infra.temporal.updates import retrying

ARBITER_WORKFLOW = "pit.arbiter"
T = TypeVar("T")
_REMEMBERED_ENDINGS = 1000


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ArbiterInput(_Model):
    domain: str = "default"
    config: ArbiterConfig
    lease: Duration = timedelta(minutes=10)
    """A grant not renewed or released within this is reclaimed (its holder crashed)."""
    continue_after_events: int = Field(default=5000, ge=20)
    carried: ArbiterSnapshot | None = None
    leases: dict[str, float] = Field(default_factory=dict)
    lease_lengths: dict[str, float] = Field(default_factory=dict)


class AcquireRequest(_Model):
    request: Request
    wait: Duration = timedelta(seconds=30)
    """How long this update waits for the grant before answering `wait` (ask again)."""
    lease: Duration | None = None


class GrantReply(_Model):
    request: str
    action: Literal["grant", "wait", "reject", "preempt"]
    rationale: Rationale | None = None
    lease_until: float | None = None
    """Seconds since the epoch (workflow time) at which an unrenewed grant is reclaimed."""


class RequestRef(_Model):
    request: str


class HolderView(_Model):
    request: str
    tenant: str
    priority: int
    demands: dict[str, int]
    granted_at: float
    lease_until: float | None


class WaiterView(_Model):
    request: str
    tenant: str
    priority: int
    demands: dict[str, int]
    arrival: float


class ArbiterStatus(_Model):
    domain: str
    strategy: str
    now: float
    holders: list[HolderView]
    waiters: list[WaiterView]
    conflicts: list[str]
    fairness: FairnessReport
    free: dict[str, int]


@workflow.defn(name=ARBITER_WORKFLOW)
class ArbiterWorkflow:
    @workflow.init
    def __init__(self, inputs: ArbiterInput) -> None:
        # built here, not in run: an update can arrive in the very first workflow task
        self._input = inputs
        self._arbiter = (
            Arbiter.restore(inputs.config, inputs.carried)
            if inputs.carried
            else Arbiter(inputs.config)
        )
        self._endings: dict[str, Decision] = {}
        self._grants: dict[str, Decision] = {}
        self._leases: dict[str, float] = dict(inputs.leases)
        self._lease_lengths: dict[str, float] = dict(inputs.lease_lengths)
        self._changed = False
        self._draining = False

    @workflow.run
    async def run(self, inputs: ArbiterInput) -> None:
        while True:
            if self._should_continue(inputs):
                self._draining = True
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    inputs.model_copy(
                        update={
                            "carried": self._arbiter.snapshot(),
                            "leases": self._leases,
                            "lease_lengths": self._lease_lengths,
                        }
                    )
                )
            self._changed = False
            try:
                await workflow.wait_condition(lambda: self._changed, timeout=self._next_timer())
            except TimeoutError:
                self._apply(Tick(t=self._now()))

    def _should_continue(self, inputs: ArbiterInput) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= inputs.continue_after_events
        )

    # handlers --------------------------------------------------------------------------

    @workflow.update
    async def acquire(self, ask: AcquireRequest) -> GrantReply:
        """Grant `ask.request`, or wait up to `ask.wait` for it; asking again is safe."""
        arbiter = self._engine()
        request_id = ask.request.id
        known = arbiter.ledger.granted.keys() | arbiter.ledger.waiting.keys()
        if request_id not in known and request_id not in self._endings:
            lease = ask.lease or self._config().lease
            self._lease_lengths[request_id] = lease.total_seconds()
            self._apply(Submit(t=self._now(), request=ask.request))
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: request_id not in arbiter.ledger.waiting or self._draining,
                timeout=ask.wait,
            )
        return self._reply(request_id)

    @workflow.signal
    def release(self, ref: RequestRef) -> None:
        """Give a grant back (or withdraw a waiting request)."""
        self._release(ref.request)

    @workflow.update(name="release_grant")
    def release_grant(self, ref: RequestRef) -> bool:
        """As the `release` signal, answering whether the request was held or waiting."""
        return self._release(ref.request)

    @workflow.update
    def renew(self, ref: RequestRef) -> float | None:
        """Push a held grant's lease out by its length; None when it is not held."""
        if ref.request not in self._engine().ledger.granted:
            return None
        until = self._now() + self._lease_lengths.get(ref.request, 0.0)
        self._leases[ref.request] = until
        self._changed = True
        return until

    @workflow.query
    def status(self) -> ArbiterStatus:
        arbiter = self._engine()
        ledger = arbiter.ledger
        return ArbiterStatus(
            domain=self._config().domain,
            strategy=arbiter.config.strategy,
            now=arbiter.now,
            holders=[
                HolderView(
                    request=h.request.id,
                    tenant=h.request.tenant,
                    priority=h.request.priority,
                    demands=dict(h.request.demands),
                    granted_at=h.granted_at,
                    lease_until=self._leases.get(h.request.id),
                )
                for h in ledger.granted.values()
            ],
            waiters=[
                WaiterView(
                    request=w.request.id,
                    tenant=w.request.tenant,
                    priority=w.request.priority,
                    demands=dict(w.request.demands),
                    arrival=w.arrival,
                )
                for w in ledger.waiting.values()
            ],
            conflicts=[":".join(p for p in key if p) for key in arbiter.detector.active],
            fairness=arbiter.fairness_report(),
            free=ledger.free,
        )

    # internals -------------------------------------------------------------------------

    def _engine(self) -> Arbiter:
        return self._arbiter

    def _config(self) -> ArbiterInput:
        return self._input

    def _now(self) -> float:
        return workflow.now().timestamp()

    def _next_timer(self) -> timedelta | None:
        times = list(self._leases.values())
        engine_timer = self._engine().next_timer()
        if engine_timer is not None:
            times.append(engine_timer)
        if not times:
            return None
        return timedelta(seconds=max(0.001, min(times) - self._now()))

    def _apply(self, event: Submit | Release | Tick) -> None:
        arbiter = self._engine()
        now = self._now()
        expired = sorted(r for r, until in self._leases.items() if until <= now)
        for request_id in expired:
            self._reclaim(request_id, now)
        result = arbiter.apply(event)
        for decision in result.decisions:
            self._record(decision)
        for conflict in result.conflicts:
            workflow.logger.info(
                "conflict %s on %s: %s", conflict.type, conflict.resources, conflict.requests[:10]
            )
        self._changed = True

    def _reclaim(self, request_id: str, now: float) -> None:
        """A lease ran out: the holder is presumed gone and its grant is taken back."""
        held = self._engine().ledger.granted.get(request_id)
        self._leases.pop(request_id, None)
        if held is None:
            return
        result = self._engine().apply(Release(t=now, request=request_id, reason="lease expired"))
        self._record(
            Decision(
                t=now,
                request=request_id,
                action="preempt",
                rationale=Rationale(
                    strategy=self._engine().config.strategy,
                    reason="lease expired: the holder neither renewed nor released it",
                    numbers={"granted_at": held.granted_at, "reclaimed_at": now},
                ),
            )
        )
        for decision in result.decisions:
            self._record(decision)

    def _record(self, decision: Decision) -> None:
        workflow.logger.info(
            "%s %s: %s", decision.action, decision.request, decision.rationale.reason
        )
        if decision.action == "grant":
            self._grants[decision.request] = decision
            length = self._lease_lengths.get(decision.request, self._config().lease.total_seconds())
            self._leases[decision.request] = decision.t + length
        elif decision.action in ("reject", "preempt"):
            self._grants.pop(decision.request, None)
            self._leases.pop(decision.request, None)
            self._lease_lengths.pop(decision.request, None)
            self._endings[decision.request] = decision
            while len(self._endings) > _REMEMBERED_ENDINGS:
                del self._endings[next(iter(self._endings))]

    def _release(self, request_id: str) -> bool:
        ledger = self._engine().ledger
        present = request_id in ledger.granted or request_id in ledger.waiting
        if present:
            self._apply(Release(t=self._now(), request=request_id))
        self._grants.pop(request_id, None)
        self._leases.pop(request_id, None)
        self._lease_lengths.pop(request_id, None)
        return present

    def _reply(self, request_id: str) -> GrantReply:
        ledger = self._engine().ledger
        if request_id in ledger.granted:
            grant = self._grants.get(request_id)
            return GrantReply(
                request=request_id,
                action="grant",
                rationale=grant.rationale if grant else None,
                lease_until=self._leases.get(request_id),
            )
        if request_id in ledger.waiting:
            return GrantReply(request=request_id, action="wait")
        ending = self._endings.get(request_id)
        if ending is not None and ending.action in ("reject", "preempt"):
            return GrantReply(request=request_id, action=ending.action, rationale=ending.rationale)
        return GrantReply(request=request_id, action="reject")


# client helpers ------------------------------------------------------------------------


def arbiter_workflow_id(domain: str) -> str:
    return f"pit-arbiter-{domain}"


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
    slice_wait: timedelta = timedelta(seconds=30),
    timeout: timedelta | None = None,
) -> GrantReply:
    """Ask the domain's arbiter for `request` and wait until it is granted. A reject raises
    `CapacityError` with the rationale; `timeout` (None: forever) also raises it."""
    handle = client.get_workflow_handle(arbiter_workflow_id(domain))
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout.total_seconds()
    ask = AcquireRequest(request=request, wait=slice_wait, lease=lease)
    while True:
        reply = await retrying(lambda: handle.execute_update(ArbiterWorkflow.acquire, ask))
        if reply.action == "grant":
            return reply
        if reply.action in ("reject", "preempt"):
            reason = reply.rationale.reason if reply.rationale else "rejected"
            raise CapacityError(f"arbiter {domain}: {request.id}: {reason}", request=request.id)
        if deadline is not None and loop.time() >= deadline:
            await release_grant(client, domain, request.id)
            raise CapacityError(
                f"arbiter {domain}: {request.id}: not granted within {timeout}",
                request=request.id,
            )


async def release_grant(client: Client, domain: str, request_id: str) -> bool:
    """Give back a grant (or withdraw a waiting request); True when the arbiter had it."""
    handle = client.get_workflow_handle(arbiter_workflow_id(domain))
    ref = RequestRef(request=request_id)
    return await retrying(lambda: handle.execute_update(ArbiterWorkflow.release_grant, ref))


async def renew_grant(client: Client, domain: str, request_id: str) -> float | None:
    """Extend a held grant's lease; None when the arbiter no longer holds it for us."""
    handle = client.get_workflow_handle(arbiter_workflow_id(domain))
    ref = RequestRef(request=request_id)
    return await retrying(lambda: handle.execute_update(ArbiterWorkflow.renew, ref))


async def arbiter_status(client: Client, domain: str) -> ArbiterStatus:
    handle = client.get_workflow_handle(arbiter_workflow_id(domain))
    try:
        result: ArbiterStatus = await handle.query(ArbiterWorkflow.status)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise NotFoundError(f"no arbiter for domain {domain!r}", domain=domain) from None
        raise BackendUnavailableError(f"temporal: {error.message}") from None
    return result
