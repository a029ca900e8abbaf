"""What Temporal says of a run wins over what its query says, and a run whose query cannot
answer is rebuilt from its history: terminated runs are reported so and can be resumed."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

import pit.client.run_handle as run_handle
from pit.client import RunsClient
from pit.client.run_history import rebuild_from_history
from pit.common.config import load_settings
from pit.dag.compiled import compile_graph
from pit.dag.graph import parse_dag
from pit.dag.run import DagRunInput
from pit.dag.status import DagStatus, NodeState, RunState
from pit.workers import build_worker
from tests.arbitration.support import eventually
from tests.dag.support import ACTIVITIES, read_log

pytestmark = pytest.mark.integration


async def test_a_run_rebuilt_from_its_history_agrees_with_its_query(
    temporal_client: Client, dag_worker: str
) -> None:
    echo = {"activity": "pit.echo"}
    nodes = [
        {"id": "a", **echo, "inputs": {"v": 1}},
        {"id": "b", **echo, "inputs": {"v": "${nodes.a.output.v}"}},
        {
            "id": "skipped",
            "activity": "test.flaky",
            "on_failure": "skip",
            "retry": {"max_attempts": 1},
        },
        {"id": "after_skip", **echo, "inputs": {"got": "${nodes.skipped.output}"}},
        {
            "id": "rescued",
            "activity": "test.flaky",
            "retry": {"max_attempts": 1},
            "on_failure": {"fallback": {"activity": "pit.echo", "inputs": {"rescued": True}}},
        },
        {"id": "broken", "activity": "test.flaky", "retry": {"max_attempts": 1}},
        {"id": "never", **echo, "inputs": {"x": "${nodes.broken.output}"}},
        {
            "id": "child",
            "inputs": {"seed": "${nodes.b.output.v}"},
            "dag": {
                "name": "inner",
                "nodes": [{"id": "leaf", **echo, "inputs": {"s": "${inputs.seed}"}}],
            },
        },
    ]
    nodes += [
        {
            "id": f"c{i}",
            **echo,
            "inputs": {"i": f"${{nodes.{'b' if i == 0 else f'c{i - 1}'}.output.v}}", "v": i},
        }
        for i in range(12)
    ]
    run_id = f"rebuild-{dag_worker}"
    await temporal_client.start_workflow(
        "pit.dag",
        DagRunInput.for_plan(
            compile_graph(parse_dag({"name": "mixed", "nodes": nodes})),
            run_inputs={"who": "me"},
            continue_after_events=60,  # hands over to new runs: carried state is read too
        ),
        id=run_id,
        task_queue=dag_worker,
        result_type=DagStatus,
    )
    handle = RunsClient(temporal_client, task_queue=dag_worker).get(run_id)
    queried = await asyncio.wait_for(handle.result(), 60)
    assert queried.status is RunState.FAILED
    assert [r async for r in temporal_client.list_workflows(f"WorkflowId = '{run_id}'")][1:]

    run_input, rebuilt = await rebuild_from_history(temporal_client, run_id)

    assert run_input.plan().dag.name == "mixed" and run_input.run_inputs == {"who": "me"}
    assert run_input.carried is None
    finished = {NodeState.SUCCEEDED, NodeState.SKIPPED, NodeState.FAILED}
    compared = {n for n, s in queried.nodes.items() if s.state in finished}
    assert compared >= {"a", "b", "skipped", "after_skip", "rescued", "broken", "child", "c11"}
    for node_id in compared:
        want, got = queried.nodes[node_id], rebuilt.nodes[node_id]
        assert (got.state, got.fingerprint, got.output) == (
            want.state,
            want.fingerprint,
            want.output,
        ), node_id
    assert rebuilt.nodes["rescued"].fallback
    assert rebuilt.nodes["never"].state is not NodeState.SUCCEEDED


async def test_a_terminated_run_whose_query_cannot_answer_is_rebuilt_and_resumed(
    temporal_client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_handle, "QUERY_TIMEOUT", timedelta(seconds=2))
    settings = load_settings(environ={}, cwd=tmp_path)
    log, blocker = tmp_path / "log.jsonl", tmp_path / "blocker"
    blocker.touch()
    gate = {"activity": "test.gate", "retry": {"max_attempts": 1000, "backoff_coefficient": 1}}
    data = {
        "name": "lost",
        "nodes": [
            {**gate, "id": "one", "inputs": {"node": "one", "log": str(log), "blocker": "/no"}},
            {
                **gate,
                "id": "two",
                "inputs": {"node": "two", "log": str(log), "blocker": str(blocker)},
                "depends_on": ["one"],
            },
        ],
    }
    runs = RunsClient(temporal_client, task_queue=task_queue)
    run_id = f"lost-{task_queue}"

    def worker() -> Any:
        return build_worker(
            temporal_client,
            settings,
            extra_activities=ACTIVITIES,
            task_queue=task_queue,
            use_entry_points=False,
        )

    async with worker():
        handle = await runs.start(data, id=run_id)

        async def two_retried() -> bool:
            return [e["node"] for e in read_log(log)].count("two") >= 2

        await eventually(two_retried)
        before = await handle.status()
        await handle.terminate("the operator gave up")
    # no worker serves the queue now: the status query cannot answer
    status = await runs.get(run_id).status()
    assert status.status is RunState.TERMINATED
    assert status.detail is not None and "the operator gave up" in status.detail
    assert status.nodes["one"].state is NodeState.SUCCEEDED
    assert status.nodes["one"].fingerprint == before.nodes["one"].fingerprint
    assert status.nodes["two"].state is NodeState.CANCELLED
    execution = await runs.execution(run_id)
    assert execution.state is RunState.TERMINATED and execution.closed_at is not None

    blocker.unlink()
    async with worker():
        resumed = await runs.resume(run_id)
        final = await asyncio.wait_for(resumed.result(), 60)
    assert resumed.id == f"{run_id}-r1"
    assert final.status is RunState.SUCCEEDED
    assert "reused from run" in (final.nodes["one"].reason or "")
    assert [e["node"] for e in read_log(log)].count("one") == 1


async def test_waiting_on_a_run_no_worker_serves_says_so_and_keeps_waiting(
    temporal_client: Client, task_queue: str, tmp_path: Path
) -> None:
    runs = RunsClient(temporal_client, task_queue=task_queue)
    handle = await runs.start({"name": "alone", "nodes": [{"id": "a", "activity": "pit.echo"}]})
    notices: list[str] = []
    waiting = asyncio.ensure_future(handle.result(notice=notices.append))

    async def told() -> bool:
        return bool(notices)

    await eventually(told, timeout=30)
    assert f"no worker polls task queue {task_queue!r}" in notices[0]
    assert not waiting.done()  # it keeps waiting
    # its status answers at once, from its history, saying why
    unserved = await asyncio.wait_for(runs.get(handle.id).status(), 5)
    assert unserved.status is RunState.RUNNING
    assert unserved.nodes["a"].state is NodeState.PENDING
    assert unserved.detail is not None and "no worker polls task queue" in unserved.detail
    settings = load_settings(environ={}, cwd=tmp_path)
    async with build_worker(
        temporal_client, settings, task_queue=task_queue, use_entry_points=False
    ):
        final = await asyncio.wait_for(waiting, 60)
    assert final.status is RunState.SUCCEEDED and len(notices) == 1
    assert await runs.get(handle.id).no_worker() is None  # closed: nothing to say


async def test_a_run_that_timed_out_is_reported_so_and_resumes_reusing_what_succeeded(
    temporal_client: Client, dag_worker: str
) -> None:
    data = {
        "name": "slow",
        "nodes": [
            {"id": "quick", "activity": "pit.echo", "inputs": {"v": 1}},
            {"id": "slow", "activity": "pit.sleep", "inputs": {"seconds": 300}},
        ],
    }
    run_id = f"slow-{dag_worker}"
    await temporal_client.start_workflow(
        "pit.dag",
        DagRunInput.for_plan(compile_graph(parse_dag(data))),
        id=run_id,
        task_queue=dag_worker,
        execution_timeout=timedelta(seconds=3),
    )
    runs = RunsClient(temporal_client, task_queue=dag_worker)
    status = await asyncio.wait_for(runs.get(run_id).result(), 60)
    assert status.status is RunState.TIMED_OUT
    assert status.detail is not None and "timed out" in status.detail
    assert status.nodes["quick"].state is NodeState.SUCCEEDED
    assert status.nodes["slow"].state is NodeState.CANCELLED
    assert status.progress is not None and status.progress.eta_seconds is None
    listed = {run.run_id: run.status for run in await runs.list(100)}
    assert listed[run_id] is RunState.TIMED_OUT

    data["nodes"][1]["inputs"] = {"seconds": 0}  # the edited graph finishes
    resumed = await runs.resume(run_id, dag=data)
    final = await asyncio.wait_for(resumed.result(), 60)
    assert final.status is RunState.SUCCEEDED and resumed.id == f"{run_id}-r1"
    assert "reused from run" in (final.nodes["quick"].reason or "")
    assert "reused" not in (final.nodes["slow"].reason or "")
    # two resumes at once both find -r2 free: one takes it, the other the next
    again = await asyncio.gather(runs.resume(run_id, dag=data), runs.resume(run_id, dag=data))
    assert sorted(h.id for h in again) == [f"{run_id}-r2", f"{run_id}-r3"]
    for handle in again:
        assert (await asyncio.wait_for(handle.result(), 60)).status is RunState.SUCCEEDED
