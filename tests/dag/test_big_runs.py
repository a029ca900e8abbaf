"""Big runs on a real Temporal dev server: a DAG at the node limit runs to completion under one
run id, and a run whose state outgrows what continue-as-new can carry ends, saying why, instead
of hanging."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError

from pit.client.runs import run_status, start_run
from pit.common.errors import PitError
from pit.dag.compiled import compile_graph
from pit.dag.graph import parse_dag
from pit.dag.limits import MAX_NODES
from pit.dag.run import DagRunInput
from pit.dag.status import DagStatus, NodeState, RunState

pytestmark = pytest.mark.integration

LANES = 500
"""More lanes than nodes may run at once, so the run goes as fast as the server allows."""


def at_the_limit() -> dict[str, Any]:
    """MAX_NODES nodes in LANES chains; each node passes its lane's count on by reference."""
    nodes: list[dict[str, Any]] = []
    for lane in range(LANES):
        for step in range(MAX_NODES // LANES):
            inputs: dict[str, Any] = {"n": 1}
            if step:
                inputs["n"] = f"${{nodes.l{lane}s{step - 1}.output.n}}+"
            nodes.append({"id": f"l{lane}s{step}", "activity": "pit.echo", "inputs": inputs})
    return {"name": "at-the-limit", "nodes": nodes}


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_a_dag_at_the_node_limit_runs_to_completion_under_one_run_id(
    temporal_client: Client, dag_worker: str
) -> None:
    graph = parse_dag(at_the_limit())
    assert graph.size == MAX_NODES
    handle = await start_run(temporal_client, graph, task_queue=dag_worker)
    result = asyncio.ensure_future(handle.result())
    seen: list[str] = []  # progress every 20 s: what a failure shows
    for _ in range(42):
        await asyncio.wait({result}, timeout=20)
        if result.done():
            break
        try:
            seen.append(str(await handle.progress()))
        except PitError as error:  # a query can fail while a task is retried: note it
            seen.append(f"progress query: {error.message}")
    assert result.done(), "not finished after 14 minutes; progress every 20 s:\n" + "\n".join(seen)
    summary = result.result()
    assert summary.status is RunState.SUCCEEDED
    assert summary.run_id == handle.id and summary.nodes_total == MAX_NODES
    status = await run_status(temporal_client, handle.id)
    assert len(status.nodes) == MAX_NODES
    assert all(node.state is NodeState.SUCCEEDED for node in status.nodes.values())
    last = MAX_NODES // LANES - 1
    assert status.nodes[f"l0s{last}"].output == {"n": "1" + "+" * last}
    runs = [r async for r in temporal_client.list_workflows(f"WorkflowId = '{handle.id}'")]
    assert len(runs) >= 2, "a run this big continues-as-new"


async def test_a_run_whose_state_outgrows_continue_as_new_fails_saying_why(
    temporal_client: Client, dag_worker: str
) -> None:
    nodes = [
        {
            "id": f"n{i}",
            "activity": "test.noise",
            "inputs": {"bytes": 150_000},
            "depends_on": [f"n{i - 1}"] if i else [],
        }
        for i in range(40)
    ]
    handle = await temporal_client.start_workflow(
        "pit.dag",
        # a small history budget: hand-overs come every few nodes, and soon carry > 2 MB
        DagRunInput.for_plan(
            compile_graph(parse_dag({"name": "noisy", "nodes": nodes})), continue_after_events=40
        ),
        id=f"noisy-{dag_worker}",
        task_queue=dag_worker,
        result_type=DagStatus,
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await asyncio.wait_for(handle.result(), 90)
    message = str(failed.value.cause)
    assert "cannot continue-as-new" in message and "over the 2 MiB" in message
    status = await run_status(temporal_client, handle.id)
    assert status.status is RunState.FAILED
    states = [node.state for node in status.nodes.values()]
    assert NodeState.SUCCEEDED in states and NodeState.CANCELLED in states
    cancelled = [n for n in status.nodes.values() if n.state is NodeState.CANCELLED]
    assert all("cannot continue-as-new" in (n.reason or "") for n in cancelled)
