"""`pit run FILE` and `pit dag status|cancel|list|resume`, on `pit.client.RunsClient`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich import progress as bars
from rich.console import Console
from temporalio.service import RPCError

from pit.cli._app import CliState, cli
from pit.cli._output import emit_json, emit_line, json_option
from pit.client.run_handle import RunHandle
from pit.client.runs import compile_dag, prepare_run
from pit.common.config import Settings
from pit.common.errors import BackendUnavailableError, InvalidInputError
from pit.common.files import parse_json
from pit.dag.compiled import CompiledDag
from pit.dag.limits import check_run_id
from pit.dag.status import DagStatus, ItemCounts, NodeState, NodeStatus, Progress, RunState
from pit.infra.temporal import TemporalSession
from pit.workers import PitPlugin, local_pit

EXIT_FAILED = 1


@cli.command("run")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--id", "run_id", help="run id (the workflow id) [NAME-xxxxxxxx]")
@click.option("--input", "inputs", multiple=True, metavar="KEY=VALUE", help="${inputs.KEY}")
@click.option("--no-wait", is_flag=True, help="start the run and print its id")
@click.option("--no-cache", is_flag=True, help="nodes with cache: neither read nor write it")
@click.option("--activities", "activity_specs", multiple=True, metavar="MODULE:ATTR")
@json_option
@click.pass_obj
def run_command(
    state: CliState,
    file: Path,
    run_id: str | None,
    inputs: tuple[str, ...],
    no_wait: bool,
    no_cache: bool,
    activity_specs: tuple[str, ...],
    as_json: bool,
) -> int:
    """Run the DAG in FILE (YAML or JSON) and show its progress.

    With no Temporal address configured, this starts the embedded server and a worker in
    this process, so one command runs a graph on a fresh machine.
    """
    settings = state.settings
    if run_id is not None:
        check_run_id(run_id)
    run_inputs = parse_inputs(inputs)
    plugin = PitPlugin(settings, activity_specs=activity_specs)
    embedded = not settings.temporal.address
    # a bad or too big graph never reaches Temporal, nor starts the embedded server
    graph = compile_dag(file, plugin.activity_names() if embedded else None)
    prepare_run(graph, run_inputs=run_inputs)
    options = _RunOptions(run_id, run_inputs, no_wait, no_cache, as_json)
    return asyncio.run(_run(settings, plugin, graph, options))


@dataclass(frozen=True)
class _RunOptions:
    run_id: str | None
    inputs: dict[str, Any]
    no_wait: bool
    no_cache: bool
    as_json: bool


async def _run(settings: Settings, plugin: PitPlugin, graph: CompiledDag, opts: _RunOptions) -> int:
    async with local_pit(settings, plugin=plugin, ui=True) as pit:
        session = _session(pit.session)
        if opts.no_wait and session.embedded and session.owned:
            raise InvalidInputError.for_field(
                "--no-wait",
                True,
                "needs a Temporal server that outlives this command: run `pit dev` "
                "in this directory, or pass --temporal",
            )
        handle = await pit.runs.start(
            graph, inputs=opts.inputs, id=opts.run_id, no_cache=opts.no_cache
        )
        if opts.no_wait:
            _print_started(handle.id, session, opts.as_json)
            return 0
        return await watch(session, handle, graph.size, opts.as_json)


async def watch(session: TemporalSession, handle: RunHandle, total: int, as_json: bool) -> int:
    """Follow a run to its end (a live bar on a terminal); print the final status. A server
    that goes away is waited for (`temporal.reconnect_timeout`); a run whose workflow task
    keeps failing is reported as stuck instead of being waited on forever."""
    show_bar = not as_json and sys.stderr.isatty()
    result = asyncio.ensure_future(_outcome(session, handle))
    try:
        if show_bar:
            console = Console(stderr=True)
            columns = (
                bars.TextColumn("[bold]{task.description}"),
                bars.BarColumn(),
                bars.MofNCompleteColumn(),
                bars.TextColumn("{task.fields[detail]}"),
                bars.TimeElapsedColumn(),
            )
            with bars.Progress(*columns, console=console, transient=True) as bar:
                task = bar.add_task(handle.id, total=total, detail="")
                while not result.done():
                    with contextlib.suppress(Exception):
                        progress = await handle.progress()
                        if progress is not None:
                            bar.update(task, completed=progress.done, detail=_detail(progress))
                    await asyncio.wait({result}, timeout=0.5)
        final = await result
    finally:
        result.cancel()
    _print_status(final, as_json)
    return 0 if final.status is RunState.SUCCEEDED else EXIT_FAILED


def _detail(progress: Progress) -> str:
    parts = [f"running {progress.running}"]
    if progress.failed:
        parts.append(f"failed {progress.failed}")
    if progress.eta_seconds is not None:
        parts.append(f"eta {progress.eta_seconds:.0f}s")
    return "  ".join(parts)


async def _outcome(session: TemporalSession, handle: RunHandle) -> DagStatus:
    """The run's final status, waiting out a server that goes away for a while."""
    patience = session.patience(_say, what=f"waiting on run {handle.id}")
    lost = False
    while True:
        try:
            if lost:  # answers at once when the server is back; the long poll would not
                await handle.workflow.describe()
                patience.answered()
                lost = False
            return await patience.until_server_exits(handle.result(notice=_say))
        except (RPCError, BackendUnavailableError) as error:
            await patience.pause(error)
            lost = True


def _say(line: str) -> None:
    click.echo(line, err=True)


def _print_started(run_id: str, session: TemporalSession, as_json: bool) -> None:
    if as_json:
        emit_json({"run_id": run_id, "status": "running", "address": session.address})
    else:
        emit_line(f"started {run_id}: pit --temporal {session.address} dag status {run_id}")


def _print_status(status: DagStatus, as_json: bool) -> None:
    if as_json:
        emit_json(status.model_dump(mode="json"))
        return
    for node_id, node in status.nodes.items():
        took = ""
        if node.started_at and node.finished_at:
            took = f"{(node.finished_at - node.started_at).total_seconds():.2f}s"
        extra = node.error or node.reason or ""
        if node.items is not None:
            extra = f"{_item_text(node.items)}  {extra}".rstrip()
        if node.cached_from is not None and node.state is NodeState.SUCCEEDED:
            extra = f"(cached from {node.cached_from}) {extra}".rstrip()
        if node.fallback and node.state is NodeState.SUCCEEDED:
            extra = f"(fallback) {extra}"
        emit_line(f"  {node.state.value:<15} {node_id:<24} {took:>8}  {extra}".rstrip())
    counts: dict[str, int] = {}
    for node in status.nodes.values():
        counts[node.state.value] = counts.get(node.state.value, 0) + 1
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    last = next(reversed(status.nodes), None) if status.nodes else None
    if last is not None and status.nodes[last].state is NodeState.SUCCEEDED:
        shown = json.dumps(status.nodes[last].output, default=str)
        shown = shown if len(shown) <= 200 else shown[:197] + "..."
        emit_line(f"  output of {last}: {shown}")
    emit_line(f"{status.run_id}: {status.status.value} ({summary})")
    if status.detail:
        emit_line(f"  {status.detail}")
    if status.waiting_for_approval:
        waiting = ", ".join(status.waiting_for_approval)
        emit_line(f"waiting for approval: {waiting} (pit dag approve {status.run_id} NODE)")


def _item_text(items: ItemCounts) -> str:
    parts = [f"{items.succeeded}/{items.total} items succeeded"]
    for name in ("running", "failed", "skipped", "cancelled", "cached"):
        count = getattr(items, name)
        if count:
            parts.append(f"{count} {name}")
    return ", ".join(parts)


def _print_items(node: str, items: list[NodeStatus], as_json: bool) -> None:
    if as_json:
        emit_json({"node": node, "items": [item.model_dump(mode="json") for item in items]})
        return
    for index, item in enumerate(items):
        extra = item.error or item.reason or ""
        if item.cached_from is not None and item.state is NodeState.SUCCEEDED:
            extra = f"(cached from {item.cached_from}) {extra}".rstrip()
        shown = f"{node}[{index}]"
        emit_line(f"  {item.state.value:<15} {shown:<24} {item.attempts:>3}  {extra}".rstrip())


def parse_inputs(pairs: tuple[str, ...]) -> dict[str, Any]:
    """`--input k=v`: v is JSON when it parses as JSON, else a string."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise InvalidInputError.for_field("--input", pair, "must be KEY=VALUE")
        try:
            values[key] = parse_json(raw, f"--input {key}")
        except InvalidInputError:  # not JSON (or beyond its limits): the text itself
            values[key] = raw
    return values


@cli.group()
def dag() -> None:
    """Inspect and control DAG runs."""


@dag.command("status")
@click.argument("run_id")
@click.option("--node", help="a map node: list its items")
@json_option
@click.pass_obj
def status_command(state: CliState, run_id: str, node: str | None, as_json: bool) -> int:
    """The status of a run: every node's state, attempts, times, output, error (with
    --node, a map node's items). Exits 0 while it runs or when it succeeded, 1 when it
    failed, was cancelled, terminated or timed out, or is stuck (its workflow task keeps
    failing)."""
    check_run_id(run_id, "RUN_ID")
    return asyncio.run(_status(state.settings, run_id, node, as_json))


async def _status(settings: Settings, run_id: str, node: str | None, as_json: bool) -> int:
    async with local_pit(settings) as pit:
        handle = pit.runs.get(run_id)
        status = await handle.status()
        if node is not None:
            if node not in status.nodes:
                raise InvalidInputError.for_field("--node", node, "no such node in this run")
            if status.nodes[node].items is None:
                rule = "not a map node, or its list is not known yet"
                raise InvalidInputError.for_field("--node", node, rule)
            _print_items(node, await handle.items(node), as_json)
            return 0
    _print_status(status, as_json)
    return 0 if status.status in (RunState.SUCCEEDED, RunState.RUNNING) else EXIT_FAILED


@dag.command("cancel")
@click.argument("run_id")
@click.pass_obj
def cancel_command(state: CliState, run_id: str) -> None:
    """Cancel a run: running nodes are cancelled, pending ones never start."""
    check_run_id(run_id, "RUN_ID")
    asyncio.run(_cancel(state.settings, run_id))


async def _cancel(settings: Settings, run_id: str) -> None:
    async with local_pit(settings, worker=False) as pit:
        await pit.runs.get(run_id).cancel()
    emit_line(f"cancel requested for {run_id}")


@dag.command("list")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@json_option
@click.pass_obj
def list_command(state: CliState, limit: int, as_json: bool) -> None:
    """Recent DAG runs, newest first."""
    asyncio.run(_list(state.settings, limit, as_json))


async def _list(settings: Settings, limit: int, as_json: bool) -> None:
    async with local_pit(settings, worker=False) as pit:
        runs = await pit.runs.list(limit)
    if as_json:
        emit_json([run.model_dump(mode="json") for run in runs])
        return
    for run in runs:
        state = run.status.value if run.status else ""
        waiting = run.waiting_for_approval if run.status is RunState.RUNNING else []
        note = f"  waiting for approval: {', '.join(waiting)}" if waiting else ""
        emit_line(f"{run.run_id:<40} {state:<12} {run.dag} ({run.nodes}){note}")


@dag.command("resume")
@click.argument("run_id")
@click.option("--file", type=click.Path(path_type=Path), help="an edited DAG file to run")
@click.option("--id", "new_id", help="id of the new run [the first free RUN_ID-rN]")
@json_option
@click.pass_obj
def resume_command(
    state: CliState, run_id: str, file: Path | None, new_id: str | None, as_json: bool
) -> int:
    """Run the graph again, reusing every node whose activity, inputs and upstream are
    unchanged since RUN_ID, and running the rest. RUN_ID may have failed, been cancelled, or
    been terminated or timed out by Temporal."""
    settings = state.settings
    check_run_id(run_id, "RUN_ID")
    if new_id is not None:
        check_run_id(new_id, "--id")
    graph = compile_dag(file) if file is not None else None
    return asyncio.run(_resume(settings, run_id, graph, new_id, as_json))


async def _resume(
    settings: Settings, run_id: str, graph: CompiledDag | None, new_id: str | None, as_json: bool
) -> int:
    async with local_pit(settings, ui=True) as pit:
        handle = await pit.runs.resume(run_id, dag=graph, id=new_id)
        total = graph.size if graph is not None else (await handle.input()).plan().dag.size
        return await watch(_session(pit.session), handle, total, as_json)


def _session(session: TemporalSession | None) -> TemporalSession:
    assert session is not None  # local_pit always connects through a session
    return session
