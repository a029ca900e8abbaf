"""`pit pool status / warm / cool`: the pools of every host, through the pool registry."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any, Literal

import click

from pit.cli._app import CliState
from pit.cli._output import emit_json, emit_line, json_option
from pit.cli.pool import pool
from pit.common.config import Settings
from pit.common.errors import InvalidInputError
from pit.common.validation import check_name
from pit.pool.placement import HostSnapshot


@pool.command("status")
@json_option
@click.pass_obj
def status(state: CliState, as_json: bool) -> None:
    """Every host's models: state, memory, since when, hits. Hosts that stopped publishing
    are shown as gone and receive no work."""
    asyncio.run(_status(state.settings, as_json))


async def _status(settings: Settings, as_json: bool) -> None:
    from pit.workers import local_pit  # here: `pit pool simulate` needs no Temporal

    async with local_pit(settings, worker=False) as pit:
        hosts = await pit.pool.status()
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
    from pit.workers import local_pit

    async with local_pit(settings) as pit:
        command = pit.pool.warm if action == "warm" else pit.pool.cool
        results = await command(model, host=host, wait=timedelta(seconds=wait))
    if as_json:
        emit_json({"action": action, "model": model, "hosts": results})
        return
    if not results:
        emit_line(f"{model} is not loaded on any live host")
    for result in results:
        emit_line(f"{result['host']}: {model} {result['state']} (hits {result['hits']})")


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
