"""`pit pool status / warm / cool`: the pools of every host, through the pool registry."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import Any, Literal

import click
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ActivityError, TimeoutError, TimeoutType

from pit.cli._app import CliState
from pit.cli._output import emit_json, emit_line, json_option
from pit.cli._workers import local_worker
from pit.cli.pool import pool
from pit.common.config import Settings
from pit.common.errors import InvalidInputError, NotFoundError, PitError
from pit.common.validation import check_name
from pit.infra.temporal import open_temporal
from pit.infra.temporal.failures import from_failure
from pit.pool.placement import HostSnapshot
from pit.workflows.pool import PoolCommand, PoolCommandWorkflow, place_model, registry_hosts


@pool.command("status")
@json_option
@click.pass_obj
def status(state: CliState, as_json: bool) -> None:
    """Every host's models: state, memory, since when, hits. Hosts that stopped publishing
    are shown as gone and receive no work."""
    asyncio.run(_status(state.settings, as_json))


async def _status(settings: Settings, as_json: bool) -> None:
    async with open_temporal(settings, ui=False) as session:
        hosts = await registry_hosts(session.client, task_queue=settings.temporal.task_queue)
    now = time.time()
    if as_json:
        emit_json({"hosts": [_host_json(host, now) for host in hosts]})
        return
    if not hosts:
        emit_line("no pool hosts: start a worker with [pool] models_file set")
        return
    for host in hosts:
        alive = "live" if host.alive(now) else "gone"
        used, budget = _gib(host.reserved_bytes), _gib(host.budget_bytes)
        emit_line(f"{host.host} ({alive}, queue {host.queue}): {used} of {budget} in use")
        for model in host.models:
            since = _ago(now - model.since)
            emit_line(
                f"  {model.id:<24} {model.state:<8} {_gib(model.memory_bytes):>10} "
                f"since {since:<10} hits {model.hits}"
            )


def _host_json(host: HostSnapshot, now: float) -> dict[str, Any]:
    return {
        **host.model_dump(mode="json"),
        "alive": host.alive(now),
        "seconds_since_publication": round(now - host.published_at, 3),
    }


@pool.command("warm")
@click.argument("model")
@click.option("--host", help="warm it on this host (default: where placement puts it)")
@click.option("--wait", default=30.0, show_default=True, help="seconds for the host to answer")
@json_option
@click.pass_obj
def warm(state: CliState, model: str, host: str | None, wait: float, as_json: bool) -> None:
    """Load MODEL now: on the host placement chooses (or --host), waiting until it is hot."""
    _check(model, wait)
    asyncio.run(_run(state.settings, "warm", model, host, wait, as_json))


@pool.command("cool")
@click.argument("model")
@click.option("--host", help="only on this host (default: every host where it is loaded)")
@click.option("--wait", default=30.0, show_default=True, help="seconds for the host to answer")
@json_option
@click.pass_obj
def cool(state: CliState, model: str, host: str | None, wait: float, as_json: bool) -> None:
    """Unload MODEL (once no lease holds it) on every live host where it is warming or hot."""
    _check(model, wait)
    asyncio.run(_run(state.settings, "cool", model, host, wait, as_json))


def _check(model: str, wait: float) -> None:
    check_name(model, "MODEL")
    if not 0 < wait <= 3600:
        raise InvalidInputError.for_field("--wait", wait, "must be more than 0 and at most 3600")


Action = Literal["warm", "cool"]


async def _run(
    settings: Settings, action: Action, model: str, host: str | None, wait: float, as_json: bool
) -> None:
    async with open_temporal(settings, ui=False) as session, local_worker(session, settings):
        client = session.client
        queues = await _targets(client, settings.temporal.task_queue, action, model, host)
        results = [await _command(client, settings, action, model, queue, wait) for queue in queues]
    if as_json:
        emit_json({"action": action, "model": model, "hosts": results})
        return
    if not results:
        emit_line(f"{model} is not loaded on any live host")
    for result in results:
        emit_line(f"{result['host']}: {model} {result['state']} (hits {result['hits']})")


async def _targets(
    client: Client, task_queue: str, action: str, model: str, host: str | None
) -> list[str]:
    """The queues of the hosts the command goes to."""
    hosts = await registry_hosts(client, task_queue=task_queue)
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
        return [(await place_model(client, model, task_queue=task_queue)).queue]
    serving = [(h, m) for h in hosts if h.alive(now) for m in (h.model(model),) if m is not None]
    if not serving:
        raise NotFoundError(f"no live pool host serves model {model!r}", model=model)
    return [h.queue for h, m in serving if m.state in ("warming", "hot")]


async def _command(
    client: Client, settings: Settings, action: Action, model: str, queue: str, wait: float
) -> dict[str, Any]:
    command = PoolCommand(action=action, queue=queue, model=model, wait=timedelta(seconds=wait))
    try:
        result: dict[str, Any] = await client.execute_workflow(
            PoolCommandWorkflow.run,
            command,
            id=f"pit-pool-{action}-{model}-{uuid.uuid4().hex[:8]}",
            task_queue=settings.temporal.task_queue,
        )
    except WorkflowFailureError as error:
        activity_error = error.cause
        timeout = activity_error.cause if isinstance(activity_error, ActivityError) else None
        if isinstance(timeout, TimeoutError) and timeout.type is TimeoutType.SCHEDULE_TO_START:
            raise PitError(f"{queue}: the host did not answer within {wait:g}s") from None
        raise from_failure(activity_error or error) from None
    return result


def _gib(size: int) -> str:
    if size >= 1024**3:
        return f"{size / 1024**3:.1f} GiB"
    return f"{size / 1024**2:.1f} MiB"


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.1f}h ago"
