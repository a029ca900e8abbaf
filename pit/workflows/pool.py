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

from datetime import timedelta
from typing import Literal

from temporalio import workflow
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import RetryPolicy, WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, ConfigDict

    from pit.common.errors import BackendUnavailableError, NotFoundError, PitError
    from pit.infra.temporal.failures import from_failure, to_application_error
    from pit.infra.temporal.updates import retrying
    from pit.pool.placement import Assignment, HostSnapshot, Placement, place

REGISTRY_WORKFLOW = "pit.pool.registry"
ASSIGNMENT_TTL = 60.0
"""Seconds a placement's choice of host to warm a cold model is remembered."""
FORGET_AFTER = 600.0
"""Seconds after its last publication that a silent host is dropped from the registry."""
QUERY_TIMEOUT = timedelta(seconds=10)
_SIGNALS_PER_RUN = 2000


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RegistryState(_Model):
    hosts: tuple[HostSnapshot, ...] = ()
    assigned: dict[str, Assignment] = {}


class PlaceRequest(_Model):
    model: str
    exclude: tuple[str, ...] = ()
    """Hosts not to choose (for example one that did not pick up the work)."""


class LeaveRequest(_Model):
    host: str


class PoolCommand(_Model):
    action: Literal["warm", "cool", "status"]
    queue: str
    model: str | None = None
    wait: timedelta = timedelta(seconds=30)
    """How long the host may take to pick the command up before it counts as gone."""
    timeout: timedelta = timedelta(minutes=30)
    """How long the command may run (a warm loads the model)."""


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


@workflow.defn(name="pit.pool.command")
class PoolCommandWorkflow:
    @workflow.run
    async def run(self, command: PoolCommand) -> dict[str, object]:
        args = [] if command.model is None else [command.model]
        result: dict[str, object] = await workflow.execute_activity(
            f"pit.pool.{command.action}",
            args=args,
            task_queue=command.queue,
            schedule_to_start_timeout=command.wait,
            start_to_close_timeout=command.timeout,
            retry_policy=RetryPolicy(maximum_attempts=1),
            summary=f"{command.action} {command.model or ''} on {command.queue}".rstrip(),
        )
        return result


# client helpers ------------------------------------------------------------------------


def registry_id(task_queue: str) -> str:
    """One registry per Pit deployment, named after the task queue its workflows run on."""
    return f"pit-pool-registry-{task_queue}"


async def publish_host(client: Client, snapshot: HostSnapshot, *, task_queue: str) -> None:
    """Publish a host's pool, starting the registry if it is not running."""
    await client.start_workflow(
        PoolRegistryWorkflow.run,
        RegistryState(),
        id=registry_id(task_queue),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        start_signal="publish",
        start_signal_args=[snapshot],
    )


async def leave_registry(client: Client, host: str, *, task_queue: str) -> None:
    handle = client.get_workflow_handle(registry_id(task_queue))
    await handle.signal(PoolRegistryWorkflow.leave, LeaveRequest(host=host))


async def registry_hosts(client: Client, *, task_queue: str) -> list[HostSnapshot]:
    """Every host the registry knows (live or not); none when no host ever published."""
    handle = client.get_workflow_handle(registry_id(task_queue))
    try:
        hosts: list[HostSnapshot] = await handle.query(
            PoolRegistryWorkflow.hosts, rpc_timeout=QUERY_TIMEOUT
        )
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return []
        if error.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
            raise BackendUnavailableError(
                f"the pool registry did not answer within {QUERY_TIMEOUT.seconds}s: "
                f"is a pit worker serving task queue {task_queue!r}?"
            ) from None
        raise BackendUnavailableError(f"temporal: {error.message}") from None
    return hosts


async def place_model(
    client: Client, model: str, *, task_queue: str, exclude: tuple[str, ...] = ()
) -> Placement:
    """Where `model`'s work should run now (see `pit.pool.placement.place`). Many nodes
    placing at once exceed Temporal's 10 in-flight updates per workflow: `retrying` keeps
    this process's share under it and asks again, with backoff, when refused."""
    entity = registry_id(task_queue)
    handle = client.get_workflow_handle(entity)
    ask = PlaceRequest(model=model, exclude=exclude)
    try:
        placement: Placement = await retrying(
            lambda: handle.execute_update(PoolRegistryWorkflow.place, ask), entity=entity
        )
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise NotFoundError(
                f"no pool host has published yet: nothing serves model {model!r}", model=model
            ) from None
        raise BackendUnavailableError(f"temporal: {error.message}") from None
    except WorkflowUpdateFailedError as error:
        raise from_failure(error.cause or error) from None
    return placement
