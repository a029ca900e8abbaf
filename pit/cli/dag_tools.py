"""`pit dag approve`, `pit dag graph` and `pit dag cache clear`: answering approval gates,
drawing a graph (of a file, or of a run with its states) and dropping cached outputs."""

from __future__ import annotations

import asyncio
import getpass
from pathlib import Path

import click

from pit.cli._app import CliState
from pit.cli._output import emit_json, emit_line, json_option
from pit.cli.dag import dag
from pit.client.artifacts import ArtifactsClient
from pit.client.runs import compile_dag
from pit.common.config import Settings
from pit.common.errors import InvalidInputError
from pit.dag.approval import ApprovalRecord
from pit.dag.limits import NAME, NAME_RULE, check_run_id
from pit.dag.render import FORMATS, Format, render
from pit.workers import local_pit


@dag.command("approve")
@click.argument("run_id")
@click.argument("node")
@click.option("--reject", is_flag=True, help="say no: the node fails (error type rejected)")
@click.option("--comment", help="recorded in the node's output")
@click.option("--by", "by", help="who answers [the login name]")
@json_option
@click.pass_obj
def approve_command(
    state: CliState,
    run_id: str,
    node: str,
    reject: bool,
    comment: str | None,
    by: str | None,
    as_json: bool,
) -> None:
    """Answer approval node NODE of run RUN_ID. Returns once the run recorded the answer;
    a node that is not an approval node, or not waiting, is refused (exit 2)."""
    check_run_id(run_id, "RUN_ID")
    who = by if by is not None else _login()
    record = asyncio.run(_approve(state.settings, run_id, node, not reject, comment, who))
    if as_json:
        emit_json(record.model_dump(mode="json"))
        return
    said = "approved" if record.approved else "rejected"
    emit_line(f"{run_id} {node}: {said} by {record.by}")


async def _approve(
    settings: Settings, run_id: str, node: str, approve: bool, comment: str | None, by: str
) -> ApprovalRecord:
    async with local_pit(settings) as pit:
        return await pit.runs.get(run_id).approve(node, by=by, approve=approve, comment=comment)


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "unknown"


@dag.command("graph")
@click.argument("source")
@click.option(
    "--format", "format_", type=click.Choice(FORMATS), default="mermaid", show_default=True
)
@click.pass_obj
def graph_command(state: CliState, source: str, format_: Format) -> None:
    """Print the graph of SOURCE, a DAG file or a run id (then with each node's state), as
    Mermaid (paste into Markdown) or DOT (render with Graphviz)."""
    path = Path(source)
    if path.is_file():
        emit_line(render(compile_dag(path), None, format_).rstrip("\n"))
        return
    check_run_id(source, "SOURCE")
    emit_line(asyncio.run(_run_graph(state.settings, source, format_)).rstrip("\n"))


async def _run_graph(settings: Settings, run_id: str, format_: Format) -> str:
    async with local_pit(settings) as pit:
        return await pit.runs.get(run_id).graph(format_)


@dag.group("cache")
def cache_group() -> None:
    """The cross-run cache of nodes with `cache:` (artifacts under pit/cache/)."""


@cache_group.command("clear")
@click.argument("dag_name", metavar="DAG")
@click.option("--node", help="only this node's entries")
@click.option("--store", "store_url", help="artifact store URL [storage.url or the state dir]")
@json_option
@click.pass_obj
def cache_clear_command(
    state: CliState, dag_name: str, node: str | None, store_url: str | None, as_json: bool
) -> None:
    """Remove the cached outputs of DAG (a DAG's name, or its file), or of one of its nodes:
    their next run runs them again."""
    path = Path(dag_name)
    name = compile_dag(path).name if path.is_file() else dag_name
    if NAME.fullmatch(name) is None:
        raise InvalidInputError.for_field("DAG", name, NAME_RULE)
    cleared = asyncio.run(_clear(state.settings, name, node, store_url))
    if as_json:
        emit_json({"dag": name, "node": node, "cleared": cleared})
        return
    what = f"node {node} of DAG {name}" if node else f"DAG {name}"
    emit_line(f"cleared {cleared} cached output{'s' if cleared != 1 else ''} of {what}")


async def _clear(settings: Settings, name: str, node: str | None, store_url: str | None) -> int:
    async with ArtifactsClient.from_settings(settings, store_url=store_url) as artifacts:
        return await artifacts.clear_dag_cache(name, node)
