"""The pool across hosts from a program: the registry's view of every host, where a model's
work would run, and warm / cool / status commands run on a host's own queue.

The registry and command workflows are known here by name and by the messages in
`pit.pool.protocol`, never by their workflow classes.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any, Literal

from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ActivityError, TimeoutError, TimeoutType
from temporalio.service import RPCError, RPCStatusCode

from pit.common.errors import BackendUnavailableError, NotFoundError, PitError
from pit.infra.temporal.failures import from_failure
from pit.infra.temporal.search_attributes import pit_tags
from pit.infra.temporal.updates import retrying
from pit.pool.placement import HostSnapshot, Placement
from pit.pool.protocol import (
    COMMAND_WORKFLOW,
    REGISTRY_WORKFLOW,
    LeaveRequest,
    PlaceRequest,
    PoolCommand,
    RegistryState,
    registry_id,
)

QUERY_TIMEOUT = timedelta(seconds=10)
Action = Literal["warm", "cool", "status"]


async def publish_host(client: Client, snapshot: HostSnapshot, *, task_queue: str) -> None:
    """Publish a host's pool, starting the registry if it is not running."""
    summary = f"pool host registry of task queue {task_queue}"
    tags = await pit_tags(client, "pool-registry", summary, {"task_queue": task_queue})
    await client.start_workflow(
        REGISTRY_WORKFLOW,
        RegistryState(),
        id=registry_id(task_queue),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        memo=tags.memo,
        search_attributes=tags.search_attributes,
        static_summary=tags.summary,
        start_signal="publish",
        start_signal_args=[snapshot],
    )


async def leave_registry(client: Client, host: str, *, task_queue: str) -> None:
    handle = client.get_workflow_handle(registry_id(task_queue))
    await handle.signal("leave", LeaveRequest(host=host))


async def registry_hosts(client: Client, *, task_queue: str) -> list[HostSnapshot]:
    """Every host the registry knows (live or not); none when no host ever published."""
    handle = client.get_workflow_handle(registry_id(task_queue))
    try:
        hosts: list[HostSnapshot] = await handle.query(
            "hosts", result_type=list[HostSnapshot], rpc_timeout=QUERY_TIMEOUT
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
            lambda: handle.execute_update("place", ask, result_type=Placement), entity=entity
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


class PoolClient:
    """The pool hosts serving one Temporal namespace's task queue."""

    def __init__(self, client: Client, *, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue

    async def status(self) -> list[HostSnapshot]:
        """Every host the registry knows (live or not), with its models."""
        return await registry_hosts(self.client, task_queue=self.task_queue)

    async def place(self, model: str, *, exclude: tuple[str, ...] = ()) -> Placement:
        """Where `model`'s work would run now: a host where it is hot, or one to warm it."""
        return await place_model(self.client, model, task_queue=self.task_queue, exclude=exclude)

    async def warm(
        self, model: str, *, host: str | None = None, wait: timedelta = timedelta(seconds=30)
    ) -> list[dict[str, Any]]:
        """Make `model` hot on `host` (default: where the registry places it); each answer
        is that host's view of the model."""
        return await self._command("warm", model, host, wait)

    async def cool(
        self, model: str, *, host: str | None = None, wait: timedelta = timedelta(seconds=30)
    ) -> list[dict[str, Any]]:
        """Unload `model` on `host` (default: every live host where it is warming or hot)."""
        return await self._command("cool", model, host, wait)

    async def _command(
        self, action: Action, model: str, host: str | None, wait: timedelta
    ) -> list[dict[str, Any]]:
        queues = await self._targets(action, model, host)
        return [await self._run(action, model, queue, wait) for queue in queues]

    async def _targets(self, action: str, model: str, host: str | None) -> list[str]:
        """The queues of the hosts the command goes to."""
        hosts = await self.status()
        now = time.time()
        if host is not None:
            chosen = next((h for h in hosts if h.host == host and h.alive(now)), None)
            if chosen is None or chosen.model(model) is None:
                known = ", ".join(h.host for h in hosts if h.alive(now)) or "none"
                raise NotFoundError(
                    f"--host {host}: no live host of that name serves {model} (live hosts: {known})"
                )
            return [chosen.queue]
        if action == "warm":
            return [(await self.place(model)).queue]
        serving = [
            (h, m) for h in hosts if h.alive(now) for m in (h.model(model),) if m is not None
        ]
        if not serving:
            raise NotFoundError(f"no live pool host serves model {model!r}", model=model)
        return [h.queue for h, m in serving if m.state in ("warming", "hot")]

    async def _run(self, action: Action, model: str, queue: str, wait: timedelta) -> dict[str, Any]:
        command = PoolCommand(action=action, queue=queue, model=model, wait=wait)
        memo = {"action": action, "model": model, "host_queue": queue}
        tags = await pit_tags(self.client, "pool-command", f"{action} {model} on {queue}", memo)
        try:
            result: dict[str, Any] = await self.client.execute_workflow(
                COMMAND_WORKFLOW,
                command,
                id=f"pit-pool-{action}-{model}-{uuid.uuid4().hex[:8]}",
                task_queue=self.task_queue,
                result_type=dict,
                memo=tags.memo,
                search_attributes=tags.search_attributes,
                static_summary=tags.summary,
            )
        except WorkflowFailureError as error:
            activity_error = error.cause
            timeout = activity_error.cause if isinstance(activity_error, ActivityError) else None
            if isinstance(timeout, TimeoutError) and timeout.type is TimeoutType.SCHEDULE_TO_START:
                seconds = wait.total_seconds()
                raise PitError(f"{queue}: the host did not answer within {seconds:g}s") from None
            raise from_failure(activity_error or error) from None
        return result
