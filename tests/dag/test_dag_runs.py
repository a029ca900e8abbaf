"""DAG runs on a real Temporal dev server: order, parallelism, recovery, resume, cancel."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.client import Client

from pit.client.runs import reusable_nodes, run_status, start_run
from pit.dag.compiled import compile_graph
from pit.dag.graph import parse_dag
from pit.dag.limits import child_run_id
from pit.dag.run import DagRunInput
from pit.dag.status import DagStatus, NodeState, RunState
from tests.dag.support import read_log

pytestmark = pytest.mark.integration


async def run_dag(client: Client, queue: str, data: dict[str, Any], **kwargs: Any) -> DagStatus:
    handle = await start_run(client, parse_dag(data), task_queue=queue, **kwargs)
    return await asyncio.wait_for(handle.result(), 60)


def rec(node_id: str, log: Path, seconds: float = 0, **fields: Any) -> dict[str, Any]:
    inputs = {"node": node_id, "log": str(log), "seconds": seconds}
    return {"id": node_id, "activity": "test.record", "inputs": inputs, **fields}


@st.composite
def graphs(draw: st.DrawFn) -> list[list[int]]:
    count = draw(st.integers(min_value=2, max_value=10))
    return [
        draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else []
        for i in range(count)
    ]


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(shape=graphs())
async def test_random_graphs_run_in_dependency_order(
    temporal_client: Client, dag_worker: str, tmp_path: Path, shape: list[list[int]]
) -> None:
    log = tmp_path / f"order-{time.monotonic_ns()}.jsonl"
    nodes = [
        rec(f"n{i}", log, depends_on=[f"n{p}" for p in parents]) for i, parents in enumerate(shape)
    ]
    status = await run_dag(temporal_client, dag_worker, {"name": "order", "nodes": nodes})
    assert status.status is RunState.SUCCEEDED
    events = read_log(log)
    started = {e["node"]: e["at"] for e in events if e["event"] == "start"}
    ended = {e["node"]: e["at"] for e in events if e["event"] == "end"}
    assert len(started) == len(shape)
    for i, parents in enumerate(shape):
        for parent in parents:
            assert ended[f"n{parent}"] <= started[f"n{i}"], f"n{i} started before n{parent} ended"


async def test_independent_sleeps_overlap(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    nodes = [{"id": f"s{i}", "activity": "pit.sleep", "inputs": {"seconds": 1.0}} for i in range(4)]
    started = time.monotonic()
    status = await run_dag(temporal_client, dag_worker, {"name": "wide", "nodes": nodes})
    elapsed = time.monotonic() - started
    assert status.status is RunState.SUCCEEDED
    assert elapsed < 3.0, f"4 one-second sleeps took {elapsed:.1f}s: they did not overlap"


async def test_failed_node_fails_descendants_but_independent_branches_finish(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    log = tmp_path / "log.jsonl"
    fast_retry = {"max_attempts": 2, "initial_interval": "100ms"}
    data = {
        "name": "fail",
        "nodes": [
            {"id": "bad", "activity": "test.flaky", "retry": fast_retry},
            rec("child", log, depends_on=["bad"]),
            rec("grandchild", log, depends_on=["child"]),
            rec("independent", log, seconds=0.5),
        ],
    }
    status = await run_dag(temporal_client, dag_worker, data)
    assert status.status is RunState.FAILED
    nodes = status.nodes
    assert nodes["bad"].state is NodeState.FAILED
    assert nodes["bad"].attempts == 2
    assert "flaky failure" in (nodes["bad"].error or "")
    assert nodes["child"].state is NodeState.UPSTREAM_FAILED
    assert nodes["grandchild"].state is NodeState.UPSTREAM_FAILED
    assert nodes["independent"].state is NodeState.SUCCEEDED
    assert {e["node"] for e in read_log(log)} == {"independent"}


async def test_skip_gives_null_output_and_lets_descendants_run(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    data = {
        "name": "skip",
        "nodes": [
            {
                "id": "optional",
                "activity": "test.flaky",
                "retry": {"max_attempts": 1},
                "on_failure": "skip",
            },
            {"id": "after", "activity": "pit.echo", "inputs": {"got": "${nodes.optional.output}"}},
        ],
    }
    status = await run_dag(temporal_client, dag_worker, data)
    assert status.status is RunState.SUCCEEDED
    assert status.nodes["optional"].state is NodeState.SKIPPED
    assert status.nodes["optional"].output is None
    assert status.nodes["after"].output == {"got": None}


async def test_fallback_output_replaces_failed_node(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    data = {
        "name": "fallback",
        "nodes": [
            {
                "id": "review",
                "activity": "test.flaky",
                "inputs": {"code": "x = 1"},
                "retry": {"max_attempts": 2, "initial_interval": "100ms"},
                "on_failure": {"fallback": {"activity": "pit.echo"}},
            },
            {
                "id": "publish",
                "activity": "pit.echo",
                "inputs": {"review": "${nodes.review.output}"},
            },
        ],
    }
    status = await run_dag(temporal_client, dag_worker, data)
    assert status.status is RunState.SUCCEEDED
    review = status.nodes["review"]
    assert review.fallback is True
    assert review.attempts == 2  # retries came first
    assert review.output == {"code": "x = 1"}  # the fallback got the node's own inputs
    assert status.nodes["publish"].output == {"review": {"code": "x = 1"}}


async def test_retries_count_attempts_and_stop_at_non_retryable_errors(
    temporal_client: Client, dag_worker: str
) -> None:
    fast = {"initial_interval": "50ms", "backoff_coefficient": 1.0}
    data = {
        "name": "retry",
        "nodes": [
            {
                "id": "third_time",
                "activity": "test.flaky",
                "inputs": {"succeed_on": 3},
                "retry": {"max_attempts": 5, **fast},
            },
            {
                "id": "hopeless",
                "activity": "test.flaky",
                "inputs": {"kind": "validation"},
                "retry": {"max_attempts": 5, **fast},
            },
        ],
    }
    status = await run_dag(temporal_client, dag_worker, data)
    assert status.nodes["third_time"].state is NodeState.SUCCEEDED
    assert status.nodes["third_time"].attempts == 3
    assert status.nodes["hopeless"].state is NodeState.FAILED
    assert status.nodes["hopeless"].attempts == 1  # validation errors are not retried
    assert status.nodes["hopeless"].error_type == "validation"


async def test_resume_reuses_unchanged_nodes_and_reruns_the_rest(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    log, blocker = tmp_path / "ran.jsonl", tmp_path / "blocker"
    blocker.touch()

    def gate(node_id: str, **fields: Any) -> dict[str, Any]:
        inputs = {
            "node": node_id,
            "log": str(log),
            "blocker": str(tmp_path / "never"),
            **fields.pop("inputs", {}),
        }
        return {"id": node_id, "activity": "test.gate", "inputs": inputs, **fields}

    data = {
        "name": "resumable",
        "defaults": {"retry": {"max_attempts": 1}},
        "nodes": [
            gate("prepare", inputs={"value": 1}),
            gate(
                "flaky", inputs={"blocker": str(blocker), "value": "${nodes.prepare.output.value}"}
            ),
            gate("publish", inputs={"value": "${nodes.flaky.output.value}"}),
            gate("side", inputs={"value": 2}),
        ],
    }
    first = await run_dag(temporal_client, dag_worker, data, id=f"resume-{dag_worker}")
    assert first.status is RunState.FAILED
    blocker.unlink()
    second = await run_dag(
        temporal_client,
        dag_worker,
        data,
        id=f"resume-{dag_worker}-r1",
        reuse=reusable_nodes(first),
        resumed_from=first.run_id,
    )
    assert second.status is RunState.SUCCEEDED
    assert second.resumed_from == first.run_id
    ran = [e["node"] for e in read_log(log)]
    assert sorted(ran) == ["flaky", "flaky", "prepare", "publish", "side"]  # reused ran once
    assert second.nodes["prepare"].reason and "reused" in second.nodes["prepare"].reason
    assert second.nodes["side"].output == first.nodes["side"].output
    assert "did not succeed" in (second.nodes["flaky"].reason or "")

    data["nodes"][3]["inputs"]["value"] = 3  # an edit: only that node runs again
    third = await run_dag(
        temporal_client,
        dag_worker,
        data,
        id=f"resume-{dag_worker}-r2",
        reuse=reusable_nodes(second),
        resumed_from=second.run_id,
    )
    assert [e["node"] for e in read_log(log)][len(ran) :] == ["side"]
    assert "changed" in (third.nodes["side"].reason or "")


async def test_cancel_stops_running_nodes_and_pending_ones_never_start(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    log = tmp_path / "log.jsonl"
    data = {
        "name": "cancel",
        "nodes": [
            rec("long", log, seconds=30, heartbeat="1s"),
            rec("later", log, depends_on=["long"]),
        ],
    }
    handle = await start_run(temporal_client, parse_dag(data), task_queue=dag_worker)
    for _ in range(100):
        if read_log(log):
            break
        await asyncio.sleep(0.1)
    await handle.cancel()
    status = await asyncio.wait_for(handle.result(), 30)  # failed runs answer too
    assert status.status is RunState.CANCELLED
    assert status.nodes["long"].state is NodeState.CANCELLED
    assert status.nodes["later"].state is NodeState.CANCELLED
    assert [e["node"] for e in read_log(log)] == ["long"]


async def test_fail_fast_cancels_what_is_running(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    log = tmp_path / "log.jsonl"
    data = {
        "name": "fast",
        "fail_fast": True,
        "nodes": [
            {"id": "bad", "activity": "test.flaky", "retry": {"max_attempts": 1}},
            rec("slow", log, seconds=30, heartbeat="1s"),
            rec("after_slow", log, depends_on=["slow"]),
        ],
    }
    started = time.monotonic()
    status = await run_dag(temporal_client, dag_worker, data)
    assert time.monotonic() - started < 20
    assert status.status is RunState.FAILED
    assert status.nodes["slow"].state is NodeState.CANCELLED
    assert status.nodes["after_slow"].state is NodeState.CANCELLED


async def test_oversized_output_is_refused_naming_the_limit(
    temporal_client: Client, dag_worker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pit.infra.temporal.envelope as envelope

    monkeypatch.setattr(envelope, "MAX_OUTPUT_BYTES", 100 * 1024)  # the real one is 64 MiB
    data = {
        "name": "big",
        "nodes": [{"id": "huge", "activity": "test.big", "inputs": {"bytes": 300_000}}],
    }
    status = await run_dag(temporal_client, dag_worker, data)
    assert status.nodes["huge"].state is NodeState.FAILED
    assert "over the 100 KiB limit" in (status.nodes["huge"].error or "")
    assert status.nodes["huge"].attempts == 1


async def test_long_run_continues_as_new_under_one_id(
    temporal_client: Client, dag_worker: str
) -> None:
    nodes = [{"id": "n0", "activity": "pit.echo", "inputs": {"i": "0"}}]
    nodes += [
        {
            "id": f"n{i}",
            "activity": "pit.echo",
            "inputs": {"i": f"${{nodes.n{i - 1}.output.i}}-{i}"},
        }
        for i in range(1, 40)
    ]
    run_id = f"chain-{dag_worker}"
    handle = await temporal_client.start_workflow(
        "pit.dag",
        # a tiny history budget forces several continue-as-new hand-overs
        DagRunInput.for_plan(
            compile_graph(parse_dag({"name": "chain", "nodes": nodes})), continue_after_events=60
        ),
        id=run_id,
        task_queue=dag_worker,
        result_type=DagStatus,
    )
    status = await asyncio.wait_for(
        temporal_client.get_workflow_handle(run_id, result_type=DagStatus).result(), 60
    )
    assert status.status is RunState.SUCCEEDED
    assert status.run_id == run_id
    assert status.nodes["n39"].output["i"] == "-".join(str(i) for i in range(40))
    assert all(node.attempts == 1 for node in status.nodes.values())
    runs = [r async for r in temporal_client.list_workflows(f"WorkflowId = '{run_id}'")]
    assert len(runs) >= 3, "the run never continued-as-new"
    assert handle.run_id != (await temporal_client.get_workflow_handle(run_id).describe()).run_id


async def test_child_graph_runs_as_a_child_workflow_with_its_sinks_as_output(
    temporal_client: Client, dag_worker: str
) -> None:
    child = {
        "name": "inner",
        "nodes": [
            {"id": "double", "activity": "pit.echo", "inputs": {"v": "${inputs.x}${inputs.x}"}},
            {"id": "wrap", "activity": "pit.echo", "inputs": {"w": "[${nodes.double.output.v}]"}},
        ],
    }
    data = {
        "name": "outer",
        "nodes": [
            {"id": "seed", "activity": "pit.echo", "inputs": {"x": "ab"}},
            {"id": "sub", "dag": child, "inputs": {"x": "${nodes.seed.output.x}"}},
            {"id": "use", "activity": "pit.echo", "inputs": {"got": "${nodes.sub.output.wrap.w}"}},
        ],
    }
    status = await run_dag(temporal_client, dag_worker, data, id=f"outer-{dag_worker}")
    assert status.status is RunState.SUCCEEDED
    assert status.nodes["sub"].output == {"wrap": {"w": "[abab]"}}
    assert status.nodes["use"].output == {"got": "[abab]"}
    inner = await run_status(temporal_client, f"outer-{dag_worker}.sub")
    assert inner.status is RunState.SUCCEEDED and set(inner.nodes) == {"double", "wrap"}


async def test_failed_child_graph_fails_its_node(temporal_client: Client, dag_worker: str) -> None:
    child = {
        "name": "inner",
        "nodes": [{"id": "bad", "activity": "test.flaky", "retry": {"max_attempts": 1}}],
    }
    data = {
        "name": "outer",
        "nodes": [
            {"id": "sub", "dag": child},
            {"id": "after", "activity": "pit.echo", "depends_on": ["sub"]},
        ],
    }
    status = await run_dag(temporal_client, dag_worker, data)
    assert status.nodes["sub"].state is NodeState.FAILED
    assert "1 of 1 nodes failed: bad" in (status.nodes["sub"].error or "")
    assert status.nodes["after"].state is NodeState.UPSTREAM_FAILED


async def test_a_child_of_a_run_with_a_long_id_runs_under_a_shortened_valid_id(
    temporal_client: Client, dag_worker: str
) -> None:
    run_id = f"{dag_worker}-".ljust(128, "x")
    child = {"name": "inner", "nodes": [{"id": "leaf", "activity": "pit.echo", "inputs": {"v": 1}}]}
    data = {"name": "outer", "nodes": [{"id": "sub", "dag": child}]}
    status = await run_dag(temporal_client, dag_worker, data, id=run_id)
    assert status.status is RunState.SUCCEEDED
    assert status.nodes["sub"].output == {"leaf": {"v": 1}}
    inner_id = child_run_id(run_id, "sub")
    assert len(inner_id) == 128 and inner_id.startswith(run_id[:100])
    assert status.nodes["sub"].reason == f"child graph run {inner_id}"
    inner = await run_status(temporal_client, inner_id)
    assert inner.status is RunState.SUCCEEDED
