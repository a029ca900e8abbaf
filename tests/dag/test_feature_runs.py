"""Maps, conditions, triggers, the cross-run cache and approvals, run on a real Temporal dev
server through `pit.dag` (issue 15)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from pit.client.artifacts import ArtifactsClient
from pit.client.runs import RunHandle, RunsClient
from pit.common.config import load_settings
from pit.common.errors import InvalidInputError
from pit.dag.cache_key import CACHE_PREFIX
from pit.dag.status import DagStatus, NodeState, RunState, SkipCause
from tests.dag.support import read_log

pytestmark = pytest.mark.integration

FAST_RETRY = {"max_attempts": 2, "initial_interval": "100ms"}


async def run(client: Client, queue: str, data: dict[str, Any], **options: Any) -> DagStatus:
    handle = await RunsClient(client, task_queue=queue).start(data, **options)
    return await asyncio.wait_for(handle.result(), 60)


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


def rec(node: str, log: Path, **inputs: Any) -> dict[str, Any]:
    return {"node": node, "log": str(log), **inputs}


async def test_map_over_an_upstream_list_with_per_item_retry_and_skip(
    temporal_client: Client, dag_worker: str
) -> None:
    items = [{"n": 0, "ok": 1}, {"n": 1, "ok": 2}, {"n": 2, "ok": 0}, {"n": 3, "ok": 1}]
    status = await run(
        temporal_client,
        dag_worker,
        {
            "name": "map",
            "nodes": [
                {"id": "list", "activity": "pit.echo", "inputs": {"items": items}},
                {
                    "id": "work",
                    "activity": "test.flaky",
                    "for_each": "${nodes.list.output.items}",
                    "inputs": {"succeed_on": "${item.ok}", "position": "${index}"},
                    "retry": FAST_RETRY,
                    "on_failure": "skip",
                    "max_parallel": 2,
                },
                {
                    "id": "pick",
                    "activity": "pit.echo",
                    "inputs": {"second": "${nodes.work.output.1.attempt}"},
                },
            ],
        },
    )
    assert status.status is RunState.SUCCEEDED, status.nodes
    work = status.nodes["work"]
    assert work.state is NodeState.SUCCEEDED
    assert work.output == [{"attempt": 1}, {"attempt": 2}, None, {"attempt": 1}]
    assert work.items is not None
    assert (work.items.total, work.items.succeeded, work.items.skipped) == (4, 3, 1)
    assert status.nodes["pick"].output == {"second": 2}
    handle = RunHandle(temporal_client, status.run_id)
    listed = await handle.items("work")
    assert [item.state for item in listed] == [
        NodeState.SUCCEEDED,
        NodeState.SUCCEEDED,
        NodeState.SKIPPED,
        NodeState.SUCCEEDED,
    ]
    assert listed[1].attempts == 2 and listed[1].output == {"attempt": 2}
    assert listed[2].attempts == 2 and "flaky failure" in (listed[2].error or "")


async def test_a_failed_item_fails_the_map_and_its_descendants(
    temporal_client: Client, dag_worker: str
) -> None:
    status = await run(
        temporal_client,
        dag_worker,
        {
            "name": "map-fail",
            "nodes": [
                {
                    "id": "work",
                    "activity": "test.flaky",
                    "for_each": [1, 0, 1],
                    "inputs": {"succeed_on": "${item}", "kind": "validation"},
                    "retry": FAST_RETRY,
                },
                {"id": "after", "activity": "pit.echo", "depends_on": ["work"]},
            ],
        },
    )
    assert status.status is RunState.FAILED
    work = status.nodes["work"]
    assert work.state is NodeState.FAILED
    assert work.error is not None and work.error.startswith("1 of 3 items failed: 1")
    assert work.output == [{"attempt": 1}, None, {"attempt": 1}]
    assert status.nodes["after"].state is NodeState.UPSTREAM_FAILED


async def test_a_map_over_something_not_a_list_fails_the_node(
    temporal_client: Client, dag_worker: str
) -> None:
    status = await run(
        temporal_client,
        dag_worker,
        {
            "name": "map-bad",
            "nodes": [
                {"id": "list", "activity": "pit.echo", "inputs": {"files": "a.py"}},
                {"id": "work", "activity": "pit.echo", "for_each": "${nodes.list.output.files}"},
            ],
        },
    )
    work = status.nodes["work"]
    assert work.state is NodeState.FAILED and work.error_type == "validation"
    assert "stands for str, not a list" in (work.error or "")


async def test_an_empty_map_succeeds_with_an_empty_list(
    temporal_client: Client, dag_worker: str
) -> None:
    status = await run(
        temporal_client,
        dag_worker,
        {"name": "map-empty", "nodes": [{"id": "w", "activity": "pit.echo", "for_each": []}]},
    )
    assert status.nodes["w"].state is NodeState.SUCCEEDED and status.nodes["w"].output == []


async def test_conditions_and_the_descendants_rule(
    temporal_client: Client, dag_worker: str
) -> None:
    status = await run(
        temporal_client,
        dag_worker,
        {
            "name": "when",
            "nodes": [
                {"id": "check", "activity": "pit.echo", "inputs": {"kind": "python", "n": 120}},
                {
                    "id": "big",
                    "activity": "pit.echo",
                    "when": "${nodes.check.output.kind} == 'python' && ${nodes.check.output.n} > 100",
                },
                {
                    "id": "small",
                    "activity": "pit.echo",
                    "when": "${nodes.check.output.n} <= 100",
                },
                {"id": "after_small", "activity": "pit.echo", "depends_on": ["small"]},
                {
                    "id": "report",
                    "activity": "pit.echo",
                    "depends_on": ["small"],
                    "trigger": "all_done",
                },
                {
                    "id": "either",
                    "activity": "pit.echo",
                    "depends_on": ["small", "big"],
                    "trigger": "any_succeeded",
                },
                {
                    "id": "per_item",
                    "activity": "pit.echo",
                    "for_each": [1, 5, 9],
                    "when": "${item} > 3",
                    "inputs": {"v": "${item}"},
                },
            ],
        },
    )
    nodes = status.nodes
    assert status.status is RunState.SUCCEEDED
    assert nodes["big"].state is NodeState.SUCCEEDED
    assert nodes["small"].state is NodeState.SKIPPED
    assert nodes["small"].skipped_by is SkipCause.CONDITION
    assert nodes["small"].reason == "condition false: ${nodes.check.output.n} <= 100"
    assert nodes["after_small"].state is NodeState.SKIPPED
    assert nodes["after_small"].skipped_by is SkipCause.UPSTREAM
    assert nodes["report"].state is NodeState.SUCCEEDED
    assert nodes["either"].state is NodeState.SUCCEEDED
    assert nodes["per_item"].output == [None, {"v": 5}, {"v": 9}]


async def test_a_condition_that_cannot_decide_fails_the_node(
    temporal_client: Client, dag_worker: str
) -> None:
    status = await run(
        temporal_client,
        dag_worker,
        {
            "name": "when-bad",
            "nodes": [
                {"id": "a", "activity": "pit.echo", "inputs": {"n": None}},
                {"id": "b", "activity": "pit.echo", "when": "${nodes.a.output.n} > 1"},
            ],
        },
    )
    assert status.nodes["b"].state is NodeState.FAILED
    assert status.nodes["b"].error_type == "validation"
    assert "nodes.b.when" in (status.nodes["b"].error or "")


def cached_dag(log: Path, file: str, ttl: str = "7d") -> dict[str, Any]:
    # a name of its own (the log's directory): the worker's store outlives the test
    return {
        "name": log.parent.name,
        "nodes": [
            {
                "id": "review",
                "activity": "test.record",
                "inputs": {**rec("review", log), "value": file, "request": time.monotonic_ns()},
                "cache": {"ttl": ttl, "key": ["node", "value"]},
            },
            {
                "id": "each",
                "activity": "test.record",
                "for_each": ["x", "y"],
                "inputs": rec("each", log, value="${item}"),
                "cache": {"ttl": ttl},
            },
        ],
    }


def runs_of(log: Path, node: str) -> int:
    return sum(1 for e in read_log(log) if e["node"] == node and e["event"] == "end")


async def test_a_second_run_takes_cached_outputs_without_calling_the_activity(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    log = tmp_path / f"cache-{uuid.uuid4().hex[:12]}" / "calls.jsonl"
    log.parent.mkdir()
    first = await run(temporal_client, dag_worker, cached_dag(log, "a.py"))
    assert first.status is RunState.SUCCEEDED
    assert (runs_of(log, "review"), runs_of(log, "each")) == (1, 2)
    second = await run(temporal_client, dag_worker, cached_dag(log, "a.py"))
    assert (runs_of(log, "review"), runs_of(log, "each")) == (1, 2), "the cache did not answer"
    review = second.nodes["review"]
    assert review.state is NodeState.SUCCEEDED and review.cached_from == first.run_id
    assert review.output == first.nodes["review"].output
    assert second.nodes["each"].items is not None and second.nodes["each"].items.cached == 2
    assert second.nodes["each"].output == first.nodes["each"].output
    # what landed in the store, seen through a second client
    settings = load_settings(environ={}, cwd=tmp_path)
    async with ArtifactsClient.from_settings(settings) as artifacts:
        hits = [name async for name in artifacts.store.blobs.list_names()]
        cached = sorted(n for n in hits if n.startswith(f"{CACHE_PREFIX}/{log.parent.name}/"))
        assert len(cached) == 3
        manifest = await artifacts.manifest(cached[0])
        assert manifest.metadata["pit.cache.run"] == first.run_id
        # an input that counts changes: a miss
        third = await run(temporal_client, dag_worker, cached_dag(log, "b.py"))
        assert runs_of(log, "review") == 2 and third.nodes["review"].cached_from is None
        # --no-cache: runs, reads and writes nothing
        await run(temporal_client, dag_worker, cached_dag(log, "a.py"), no_cache=True)
        assert (runs_of(log, "review"), runs_of(log, "each")) == (3, 4)
        # cleared: the next run runs them again
        assert await artifacts.clear_dag_cache(log.parent.name, "each") == 2
        await run(temporal_client, dag_worker, cached_dag(log, "a.py"))
        assert (runs_of(log, "review"), runs_of(log, "each")) == (3, 6)


async def test_a_cached_output_expires_after_its_ttl(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    log = tmp_path / f"cache-{uuid.uuid4().hex[:12]}" / "calls.jsonl"
    log.parent.mkdir()
    await run(temporal_client, dag_worker, cached_dag(log, "a.py", ttl="1s"))
    started = time.monotonic()
    second = await run(temporal_client, dag_worker, cached_dag(log, "a.py", ttl="1h"))
    assert runs_of(log, "review") == 1 and second.nodes["review"].cached_from is not None
    await asyncio.sleep(max(0.0, 1.2 - (time.monotonic() - started)))
    third = await run(temporal_client, dag_worker, cached_dag(log, "a.py", ttl="1s"))
    assert runs_of(log, "review") == 2
    assert "expired" in (third.nodes["review"].reason or "")


def approval_dag(timeout: str = "1h", on_failure: str = "fail") -> dict[str, Any]:
    return {
        "name": "approval",
        "nodes": [
            {"id": "build", "activity": "pit.echo", "inputs": {"version": "2.1"}},
            {
                "id": "ship",
                "approval": {"prompt": "Ship ${nodes.build.output.version}?", "timeout": timeout},
                "on_failure": on_failure,
            },
            {"id": "release", "activity": "pit.echo", "depends_on": ["ship"]},
        ],
    }


async def waiting(handle: RunHandle, node: str) -> None:
    async def check() -> bool:
        return node in (await handle.status()).waiting_for_approval

    await until(check)


async def test_an_approved_node_records_who_and_lets_the_run_go_on(
    temporal_client: Client, dag_worker: str
) -> None:
    runs = RunsClient(temporal_client, task_queue=dag_worker)
    handle = await runs.start(approval_dag())
    await waiting(handle, "ship")
    status = await handle.status()
    assert status.nodes["ship"].state is NodeState.RUNNING
    assert status.nodes["ship"].reason == "waiting for approval: Ship 2.1?"
    listed = {r.run_id: r for r in await runs.list(limit=50)}
    assert listed[handle.id].waiting_for_approval == ["ship"]
    with pytest.raises(InvalidInputError, match="not an approval node"):
        await handle.approve("build", by="ann")
    record = await handle.approve("ship", by="ann", comment="looks good")
    assert record.approved and record.by == "ann" and record.prompt == "Ship 2.1?"
    final = await asyncio.wait_for(handle.result(), 30)
    assert final.status is RunState.SUCCEEDED
    assert final.nodes["ship"].output["by"] == "ann"
    assert final.nodes["ship"].output["comment"] == "looks good"
    assert final.nodes["release"].state is NodeState.SUCCEEDED
    with pytest.raises(InvalidInputError, match="not waiting"):
        await handle.approve("ship", by="bob")


async def test_a_rejected_node_fails_and_its_children_do_not_run(
    temporal_client: Client, dag_worker: str
) -> None:
    handle = await RunsClient(temporal_client, task_queue=dag_worker).start(
        approval_dag(on_failure="skip")
    )
    await waiting(handle, "ship")
    await handle.approve("ship", by="bob", approve=False, comment="not today")
    final = await asyncio.wait_for(handle.result(), 30)
    ship = final.nodes["ship"]
    assert ship.state is NodeState.FAILED and ship.error_type == "rejected"
    assert ship.error == "rejected by bob: not today"
    assert final.nodes["release"].state is NodeState.UPSTREAM_FAILED


async def test_an_unanswered_approval_times_out_and_on_failure_applies(
    temporal_client: Client, dag_worker: str
) -> None:
    status = await run(temporal_client, dag_worker, approval_dag("1s", on_failure="skip"))
    ship = status.nodes["ship"]
    assert ship.state is NodeState.SKIPPED and ship.error_type == "timeout"
    assert status.nodes["release"].state is NodeState.SUCCEEDED


def most_at_once(log: Path) -> int:
    """The most items of the log that ran at the same time."""
    moments = sorted(
        (e["at"], 1 if e["event"] == "start" else -1)
        for e in read_log(log)
        if e["event"] in ("start", "end")
    )
    running = peak = 0
    for _, step in moments:
        running += step
        peak = max(peak, running)
    return peak


async def test_max_parallel_caps_a_maps_items_and_the_dags_slots(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    def mapped(log: Path, **fields: Any) -> dict[str, Any]:
        return {
            "id": "each",
            "activity": "test.record",
            "for_each": list(range(6)),
            "inputs": rec("each", log, seconds=0.3),
            **fields,
        }

    own = tmp_path / "own.jsonl"
    status = await run(
        temporal_client, dag_worker, {"name": "cap", "nodes": [mapped(own, max_parallel=2)]}
    )
    assert status.status is RunState.SUCCEEDED and most_at_once(own) == 2
    shared = tmp_path / "shared.jsonl"
    status = await run(
        temporal_client,
        dag_worker,
        {
            "name": "cap-dag",
            "max_parallel": 3,
            "nodes": [
                mapped(shared),
                {"id": "other", "activity": "test.record", "inputs": rec("o", shared, seconds=0.3)},
            ],
        },
    )
    assert status.status is RunState.SUCCEEDED and most_at_once(shared) == 3


async def test_fail_fast_stops_a_maps_other_items(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    log = tmp_path / "log.jsonl"
    status = await run(
        temporal_client,
        dag_worker,
        {
            "name": "fast",
            "fail_fast": True,
            "nodes": [
                {
                    "id": "each",
                    "activity": "test.record",
                    "for_each": list(range(8)),
                    "max_parallel": 2,
                    "inputs": rec("each", log, seconds=0.5),
                },
                {
                    "id": "bad",
                    "activity": "test.flaky",
                    "inputs": {"kind": "validation"},
                    "retry": {"max_attempts": 1},
                },
            ],
        },
    )
    assert status.status is RunState.FAILED
    each = status.nodes["each"]
    assert each.state is NodeState.CANCELLED and each.items is not None
    assert each.items.cancelled >= 6 and each.items.succeeded == 0


async def test_cancelling_a_run_cancels_a_waiting_approval(
    temporal_client: Client, dag_worker: str
) -> None:
    handle = await RunsClient(temporal_client, task_queue=dag_worker).start(approval_dag())
    await waiting(handle, "ship")
    await handle.cancel()
    final = await asyncio.wait_for(handle.result(), 30)
    assert final.status is RunState.CANCELLED
    assert final.nodes["ship"].state is NodeState.CANCELLED
    assert final.nodes["release"].state is NodeState.CANCELLED
    assert final.waiting_for_approval == []


async def test_identical_cached_outputs_share_one_blob(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    name = f"dedup-{uuid.uuid4().hex[:12]}"
    log = tmp_path / "log.jsonl"
    # two keys (the inputs differ in `seconds`), one output ({"node": "same", "value": null})
    data = {
        "name": name,
        "nodes": [
            {
                "id": "each",
                "activity": "test.record",
                "for_each": [0, 0.01],
                "inputs": {"node": "same", "log": str(log), "seconds": "${item}"},
                "cache": {"ttl": "1h"},
            }
        ],
    }
    status = await run(temporal_client, dag_worker, data)
    assert status.nodes["each"].output == [{"node": "same", "value": None}] * 2
    settings = load_settings(environ={}, cwd=tmp_path)
    async with ArtifactsClient.from_settings(settings) as artifacts:
        names = [n async for n in artifacts.store.blobs.list_names() if f"/{name}/" in n]
        assert len(names) == 2
        digests = {(await artifacts.manifest(n)).digest for n in names}
        assert len(digests) == 1, "identical outputs were stored twice"
