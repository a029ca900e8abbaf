"""Nodes with `local: true`: local activities in the run's own worker. Each way a run can end
while or just after local nodes finish is run here: when a run closes while a local activity
is out, sdk-core puts its marker after the close command (temporalio/sdk-rust#659) and the
workflow task fails forever, so the run would never finish. Two local nodes failing at once
did exactly that while a local activity's failure (which arrives unwrapped, not as an
ActivityError) escaped the node's handler and failed the run."""

from __future__ import annotations

import asyncio
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from pit.client.runs import start_run
from pit.common.errors import InvalidInputError
from pit.dag.graph import parse_dag
from pit.dag.status import DagStatus, NodeState, RunState
from pit.workflows import dag_locals
from tests.dag.support import read_log

pytestmark = pytest.mark.integration


async def run_dag(client: Client, queue: str, data: dict[str, Any]) -> tuple[DagStatus, str]:
    handle = await start_run(client, parse_dag(data), task_queue=queue)
    return await asyncio.wait_for(handle.result(), 60), handle.id


def local_record(node_id: str, log: Path, seconds: float = 0, **fields: Any) -> dict[str, Any]:
    inputs = {"node": node_id, "log": str(log), "seconds": seconds}
    return {"id": node_id, "activity": "test.record", "inputs": inputs, "local": True, **fields}


async def test_a_chain_of_local_nodes_passes_outputs_without_activity_tasks(
    temporal_client: Client, dag_worker: str
) -> None:
    nodes: list[dict[str, Any]] = [
        {"id": "n0", "activity": "pit.echo", "inputs": {"v": 0}, "local": True}
    ]
    for i in range(1, 5):
        inputs = {"v": f"${{nodes.n{i - 1}.output.v}}"}
        nodes.append({"id": f"n{i}", "activity": "pit.echo", "inputs": inputs, "local": True})
    status, run_id = await run_dag(temporal_client, dag_worker, {"name": "light", "nodes": nodes})

    assert status.status is RunState.SUCCEEDED
    assert status.nodes["n4"].output == {"v": 0}
    assert all(node.attempts == 1 for node in status.nodes.values())
    events = [
        event async for event in temporal_client.get_workflow_handle(run_id).fetch_history_events()
    ]
    kinds = [event.event_type for event in events]
    assert kinds.count(EventType.EVENT_TYPE_MARKER_RECORDED) >= 5
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED not in kinds


async def test_local_nodes_failing_together_still_end_the_run(
    temporal_client: Client, dag_worker: str
) -> None:
    def bad(node_id: str, **fields: Any) -> dict[str, Any]:
        return {
            "id": node_id,
            "activity": "test.flaky",
            "inputs": {"kind": "validation"},
            "local": True,
            **fields,
        }

    data = {"name": "together", "nodes": [bad("a"), bad("b"), bad("c", on_failure="skip")]}
    status, _ = await run_dag(temporal_client, dag_worker, data)
    assert status.status is RunState.FAILED
    assert status.nodes["a"].state is NodeState.FAILED
    assert status.nodes["a"].error_type == "validation"
    assert status.nodes["c"].state is NodeState.SKIPPED


async def test_fail_fast_stops_a_running_local_node(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    log = tmp_path / "log.jsonl"
    data = {
        "name": "fast",
        "fail_fast": True,
        "nodes": [
            {"id": "bad", "activity": "test.flaky", "retry": {"max_attempts": 1}, "local": True},
            local_record("slow", log, seconds=30),
        ],
    }
    started = time.monotonic()
    status, _ = await run_dag(temporal_client, dag_worker, data)
    assert time.monotonic() - started < 20
    assert status.status is RunState.FAILED
    assert status.nodes["slow"].state is NodeState.CANCELLED


async def test_cancelling_a_run_stops_its_local_node(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    log = tmp_path / "log.jsonl"
    data = {
        "name": "cancel",
        "nodes": [local_record("long", log, seconds=30), local_record("later", log)],
    }
    data["nodes"][1]["depends_on"] = ["long"]
    handle = await start_run(temporal_client, parse_dag(data), task_queue=dag_worker)
    for _ in range(100):
        if read_log(log):
            break
        await asyncio.sleep(0.1)
    await handle.cancel()
    status = await asyncio.wait_for(handle.result(), 30)
    assert status.status is RunState.CANCELLED
    assert status.nodes["long"].state is NodeState.CANCELLED
    assert [e["node"] for e in read_log(log)] == ["long"]


@pytest.mark.parametrize(
    "extra",
    [{"model": "llm"}, {"heartbeat": "5s"}],
    ids=["model", "heartbeat"],
)
def test_local_is_refused_where_it_cannot_work(extra: dict[str, Any]) -> None:
    node = {"id": "n", "activity": "pit.echo", "local": True, **extra}
    with pytest.raises(InvalidInputError, match="local goes on an activity node"):
        parse_dag({"name": "bad", "nodes": [node]})


async def test_local_nodes_run_in_batches_that_each_end_a_workflow_task(
    temporal_client: Client, dag_worker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run of many local nodes once put thousands of markers in one workflow task, over the
    server's 4 MB message limit: the task failed forever (seen with 500 lanes at the node
    limit). After each batch the run pauses for a timer, which ends the task."""
    monkeypatch.setattr(dag_locals, "LOCAL_BATCH", 4)
    nodes = [
        {"id": f"l{lane}s{step}", "activity": "pit.echo", "inputs": {"v": step}, "local": True}
        | ({"depends_on": [f"l{lane}s{step - 1}"]} if step else {})
        for lane in range(3)
        for step in range(6)
    ]
    status, run_id = await run_dag(temporal_client, dag_worker, {"name": "many", "nodes": nodes})

    assert status.status is RunState.SUCCEEDED
    assert all(node.state is NodeState.SUCCEEDED for node in status.nodes.values())
    kinds = [
        event.event_type
        async for event in temporal_client.get_workflow_handle(run_id).fetch_history_events()
    ]
    assert kinds.count(EventType.EVENT_TYPE_MARKER_RECORDED) == 18
    # 18 local activities in batches of 4: at least four pauses, each a timer ending a task
    assert kinds.count(EventType.EVENT_TYPE_TIMER_FIRED) >= 4
    between = [
        kinds[i + 1 :].count(EventType.EVENT_TYPE_MARKER_RECORDED)
        for i, kind in enumerate(kinds)
        if kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    ]
    per_task = [earlier - later for earlier, later in pairwise(between)]
    assert max(per_task, default=0) <= 4
