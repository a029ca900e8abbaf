"""`pit.pool.registry`: the entity workflow that knows every pool host, and places work.

Hosts publish their pool (a signal, with signal-with-start so the first host creates the
registry) every few seconds and say when they leave; `place` is an update that applies the
pure placement in `pit.pool.placement` at `workflow.now()` and remembers which host it chose
to warm a cold model, so concurrent asks load it once. Hosts that stopped publishing are
dropped after a while; the registry continues-as-new to bound its history.

`pit.pool.command` runs one pool activity (`warm`, `cool`, `status`) on a host's queue: how
the CLI reaches a host, which only serves activities.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from pit.activities.pool import PoolActivities
    from pit.common.errors import PitError
    from pit.infra.temporal.failures import to_application_error
    from pit.pool.placement import Assignment, HostSnapshot, Placement, place
    from pit.pool.protocol import (
        COMMAND_WORKFLOW,
        REGISTRY_WORKFLOW,
        LeaveRequest,
        ModelRef,
        PlaceRequest,
        PoolCommand,
        RegistryState,
        WarmRequest,
    )

ASSIGNMENT_TTL = 60.0
"""Seconds a placement's choice of host to warm a cold model is remembered."""
FORGET_AFTER = 600.0
"""Seconds after its last publication that a silent host is dropped from the registry."""
_SIGNALS_PER_RUN = 2000


@workflow.defn(name=REGISTRY_WORKFLOW)
class PoolRegistryWorkflow:
    @workflow.init
    def __init__(self, state: RegistryState) -> None:
        self._hosts = {host.host: host for host in state.hosts}
        self._assigned = dict(state.assigned)
        self._signals = 0

    @workflow.run
    async def run(self, state: RegistryState) -> None:
        while True:
            await workflow.wait_condition(
                lambda: (
                    self._signals >= _SIGNALS_PER_RUN
                    or workflow.info().is_continue_as_new_suggested()
                ),
                timeout=timedelta(seconds=FORGET_AFTER / 4),
            )
            self._forget(self._now())
            if self._signals >= _SIGNALS_PER_RUN or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    RegistryState(hosts=tuple(self._hosts.values()), assigned=self._assigned)
                )

    @workflow.signal
    def publish(self, snapshot: HostSnapshot) -> None:
        now = self._now()
        self._signals += 1
        self._hosts[snapshot.host] = snapshot.model_copy(update={"published_at": now})
        for model in snapshot.models:
            assignment = self._assigned.get(model.id)
            settled = model.state in ("warming", "hot")
            if settled and assignment is not None and assignment.host == snapshot.host:
                del self._assigned[model.id]

    @workflow.signal
    def leave(self, request: LeaveRequest) -> None:
        self._signals += 1
        self._hosts.pop(request.host, None)
        for model_id in [m for m, a in self._assigned.items() if a.host == request.host]:
            del self._assigned[model_id]

    @workflow.update
    def place(self, request: PlaceRequest) -> Placement:
        now = self._now()
        try:
            placement = place(
                request.model, self._hosts.values(), now, self._assigned, exclude=request.exclude
            )
        except PitError as error:  # the update fails; the registry carries on
            raise to_application_error(error) from None
        if placement.reason in ("room", "evict", "busy"):
            self._assigned[request.model] = Assignment(
                host=placement.host, until=now + ASSIGNMENT_TTL
            )
        return placement

    @workflow.query
    def hosts(self) -> list[HostSnapshot]:
        return sorted(self._hosts.values(), key=lambda host: host.host)

    def _forget(self, now: float) -> None:
        for name in [h for h, s in self._hosts.items() if s.published_at + FORGET_AFTER < now]:
            del self._hosts[name]
        for model_id in [m for m, a in self._assigned.items() if a.until <= now]:
            del self._assigned[model_id]

    def _now(self) -> float:
        return workflow.now().timestamp()


@workflow.defn(name=COMMAND_WORKFLOW)
class PoolCommandWorkflow:
    @workflow.run
    async def run(self, command: PoolCommand) -> dict[str, Any]:
        model = command.model or ""
        calls: dict[str, tuple[Callable[..., Awaitable[dict[str, Any]]], list[Any]]] = {
            "status": (PoolActivities.status, []),
            "warm": (PoolActivities.warm, [WarmRequest(model=model)]),
            "cool": (PoolActivities.cool, [ModelRef(model=model)]),
        }
        method, args = calls[command.action]
        return await workflow.execute_activity_method(
            method,
            args=args,
            task_queue=command.queue,
            schedule_to_start_timeout=command.wait,
            start_to_close_timeout=command.timeout,
            retry_policy=RetryPolicy(maximum_attempts=1),
            summary=f"{command.action} {model} on {command.queue}".rstrip(),
        )
