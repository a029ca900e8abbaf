"""Maps and approvals across continue-as-new, the features inside child graphs, resume and the
cache, and a 10,000-item map under one run id (issue 15)."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from pit.client.runs import RunHandle, RunsClient
from pit.dag.compiled import compile_graph
from pit.dag.graph import parse_dag
from pit.dag.limits import MAX_MAP_ITEMS
from pit.dag.run import DagRunInput
from pit.dag.status import DagStatus, NodeState, RunState
from tests.dag.support import read_log

pytestmark = pytest.mark.integration


async def start_raw(client: Client, queue: str, data: dict[str, Any], **fields: Any) -> RunHandle:
    run_id = f"{data['name']}-{uuid.uuid4().hex[:8]}"
    await client.start_workflow(
        "pit.dag",
        DagRunInput.for_plan(compile_graph(parse_dag(data)), **fields),
        id=run_id,
        task_queue=queue,
        result_type=DagStatus,
    )
    return RunHandle(client, run_id)


async def history_runs(client: Client, run_id: str) -> int:
    return len([r async for r in client.list_workflows(f"WorkflowId = '{run_id}'")])


async def test_a_map_and_a_waiting_approval_carry_over_continue_as_new(
    temporal_client: Client, dag_worker: str
) -> None:
    data = {
        "name": "carried",
        "nodes": [
            {"id": "gate", "approval": {"prompt": "go?", "timeout": "1h"}},
            {
                "id": "many",
                "activity": "pit.echo",
                "for_each": list(range(40)),
                "max_parallel": 3,
                "inputs": {"i": "${index}", "v": "${item}"},
            },
            {"id": "sum", "activity": "pit.echo", "inputs": {"last": "${nodes.many.output.39}"}},
            {"id": "after", "activity": "pit.echo", "depends_on": ["gate", "sum"]},
        ],
    }
    # a tiny history budget: the map's items span several runs, the approval waits across them
    handle = await start_raw(temporal_client, dag_worker, data, continue_after_events=40)
    deadline = time.monotonic() + 60
    while (await handle.status()).nodes["sum"].state is not NodeState.SUCCEEDED:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    assert await history_runs(temporal_client, handle.id) >= 3
    status = await handle.status()
    assert status.waiting_for_approval == ["gate"]
    assert status.nodes["many"].output == [{"i": i, "v": i} for i in range(40)]
    items = await handle.items("many")
    assert len(items) == 40 and all(item.attempts == 1 for item in items)
    await handle.approve("gate", by="ann")
    final = await asyncio.wait_for(handle.result(), 30)
    assert final.status is RunState.SUCCEEDED
    assert final.nodes["sum"].output == {"last": {"i": 39, "v": 39}}


async def test_maps_conditions_and_approvals_inside_a_child_graph(
    temporal_client: Client, dag_worker: str
) -> None:
    child = {
        "name": "inner",
        "nodes": [
            {
                "id": "each",
                "activity": "pit.echo",
                "for_each": "${inputs.files}",
                "when": "${item}.endsWith('.py')",
                "inputs": {"f": "${item}"},
            },
            {"id": "never", "activity": "pit.echo", "when": "size(${inputs.files}) > 5"},
        ],
    }
    data = {
        "name": "outer",
        "nodes": [
            {"id": "sub", "dag": child, "inputs": {"files": ["a.py", "b.md"]}},
        ],
    }
    final = await asyncio.wait_for(
        (await RunsClient(temporal_client, task_queue=dag_worker).start(data)).result(), 60
    )
    assert final.status is RunState.SUCCEEDED
    assert final.nodes["sub"].output == {"each": [{"f": "a.py"}, None], "never": None}


async def test_resume_never_runs_a_cached_node_again(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    log = tmp_path / "calls.jsonl"
    data = {
        "name": f"resume-cache-{uuid.uuid4().hex[:8]}",
        "nodes": [
            {
                "id": "costly",
                "activity": "test.record",
                "inputs": {"node": "costly", "log": str(log)},
                "cache": {"ttl": "1h"},
            },
            {
                "id": "flaky",
                "activity": "test.flaky",
                "depends_on": ["costly"],
                "retry": {"max_attempts": 1},
            },
        ],
    }
    runs = RunsClient(temporal_client, task_queue=dag_worker)
    first = await asyncio.wait_for((await runs.start(data)).result(), 60)
    assert first.status is RunState.FAILED
    resumed = await asyncio.wait_for((await runs.resume(first.run_id)).result(), 60)
    assert resumed.nodes["costly"].reason is not None
    assert resumed.nodes["costly"].reason.startswith("reused from run")
    assert len([e for e in read_log(log) if e["event"] == "end"]) == 1


async def fan_out_seconds(client: Client, queue: str, data: dict[str, Any]) -> DagStatus:
    handle = await RunsClient(client, task_queue=queue).start(data)
    return await asyncio.wait_for(handle.result(), 900)


@pytest.mark.slow
@pytest.mark.timeout(1200)
async def test_a_10000_item_map_completes_under_one_run_id(
    temporal_client: Client, dag_worker: str
) -> None:
    count = MAX_MAP_ITEMS
    mapped = {
        "name": "map-10k",
        "max_parallel": 100,
        "nodes": [
            {"id": "list", "activity": "pit.echo", "inputs": {"items": list(range(count))}},
            {
                "id": "each",
                "activity": "pit.echo",
                "for_each": "${nodes.list.output.items}",
                "inputs": {"i": "${item}"},
            },
            {"id": "last", "activity": "pit.echo", "inputs": {"v": "${nodes.each.output.9999.i}"}},
        ],
    }
    started = time.monotonic()
    status = await fan_out_seconds(temporal_client, dag_worker, mapped)
    took = time.monotonic() - started
    assert status.status is RunState.SUCCEEDED
    assert status.nodes["last"].output == {"v": count - 1}
    items = status.nodes["each"].items
    assert items is not None and items.succeeded == count
    assert await history_runs(temporal_client, status.run_id) >= 2
    print(f"\n10,000-item map: {took:.1f} s")


async def test_an_approval_inside_a_child_graph_is_answered_on_the_child_run(
    temporal_client: Client, dag_worker: str
) -> None:
    child = {"name": "inner", "nodes": [{"id": "ok", "approval": {"prompt": "fine?"}}]}
    data = {"name": "outer-approval", "nodes": [{"id": "sub", "dag": child}]}
    handle = await RunsClient(temporal_client, task_queue=dag_worker).start(data)
    inner = RunHandle(temporal_client, f"{handle.id}.sub")
    deadline = time.monotonic() + 30
    while True:
        try:
            if "ok" in (await inner.status()).waiting_for_approval:
                break
        except Exception:  # the child has not started yet
            pass
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    await inner.approve("ok", by="ann")
    final = await asyncio.wait_for(handle.result(), 30)
    assert final.status is RunState.SUCCEEDED
    assert final.nodes["sub"].output["ok"]["by"] == "ann"
