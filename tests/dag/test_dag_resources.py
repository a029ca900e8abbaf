"""Nodes that declare `resources` hold a grant from the DAG's arbiter while they run."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle

from pit.arbitration import ArbiterConfig, Request
from pit.client.arbiter import (
    ArbiterInput,
    acquire_grant,
    arbiter_status,
    arbiter_workflow_id,
    ensure_arbiter,
    release_grant,
)
from pit.client.runs import run_status, start_run
from pit.dag.graph import DagInvalidError, parse_dag
from pit.dag.status import NodeState, RunState
from pit.workflows.dag_resources import request_id
from tests.arbitration.support import eventually
from tests.dag.support import read_log

pytestmark = pytest.mark.integration


def gpu_dag(log: Path, domain: str, demands: list[int]) -> dict[str, Any]:
    return {
        "name": "gpus",
        "arbiter": {"domain": domain, "config": {"resources": {"gpu0.mem": "10GB"}}},
        "nodes": [
            {
                "id": f"job{i}",
                "activity": "test.record",
                "resources": {"gpu0.mem": f"{gb}GB"},
                "inputs": {"node": f"job{i}", "log": str(log), "seconds": 0.6},
            }
            for i, gb in enumerate(demands)
        ],
    }


async def test_nodes_whose_demands_do_not_fit_together_never_overlap(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    log, domain = tmp_path / "log.jsonl", f"d-{dag_worker[-8:]}"
    handle = await start_run(
        temporal_client, parse_dag(gpu_dag(log, domain, [6, 6, 3])), task_queue=dag_worker
    )
    status = await asyncio.wait_for(handle.result(), 60)
    assert status.status is RunState.SUCCEEDED
    events = read_log(log)
    span = {e["node"]: [0.0, 0.0] for e in events}
    for e in events:
        span[e["node"]][0 if e["event"] == "start" else 1] = e["at"]
    (a0, a1), (b0, b1) = span["job0"], span["job1"]
    assert a1 <= b0 or b1 <= a0, "two 6 GB jobs ran at once on a 10 GB GPU"
    arbiter = await arbiter_status(temporal_client, domain)
    assert arbiter.holders == [] and arbiter.waiters == []  # every grant was given back


async def test_a_demand_beyond_capacity_fails_the_node_and_releases_nothing_held(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    log, domain = tmp_path / "log.jsonl", f"r-{dag_worker[-8:]}"
    handle = await start_run(
        temporal_client, parse_dag(gpu_dag(log, domain, [12, 2])), task_queue=dag_worker
    )
    status = await asyncio.wait_for(handle.result(), 60)  # failed runs answer too
    assert status.nodes["job0"].state is NodeState.FAILED
    assert "arbiter" in (status.nodes["job0"].error or "")
    assert status.nodes["job1"].state is NodeState.SUCCEEDED
    assert [e["node"] for e in read_log(log) if e["event"] == "start"] == ["job1"]


def test_resources_need_an_arbiter_and_known_resource_names(tmp_path: Path) -> None:
    data = gpu_dag(tmp_path / "x", "d", [1])
    data["nodes"][0]["resources"] = {"gpu9.mem": "1GB"}
    with pytest.raises(DagInvalidError, match=r"nodes\[0\].resources.gpu9.mem"):
        parse_dag(data)
    del data["arbiter"]
    with pytest.raises(DagInvalidError, match="needs an `arbiter:` section"):
        parse_dag(data)


SLOTS = {"strategy": "priority", "aging_interval": None, "resources": {"slots": 3}}


def slots_dag(log: Path, domain: str, count: int, *, config: bool = True) -> dict[str, Any]:
    """`count` nodes of one slot each; priorities a permutation of 0..count-1 that is not
    the node order, so the grant order shows the strategy and not the arrival."""
    arbiter: dict[str, Any] = {"domain": domain}
    if config:
        arbiter["config"] = SLOTS
    return {
        "name": "slots",
        "arbiter": arbiter,
        "nodes": [
            {
                "id": f"n{i}",
                "activity": "test.record",
                "resources": {"slots": 1},
                "priority": (i * 7) % count,
                "inputs": {"node": f"n{i}", "log": str(log), "seconds": 0.2},
            }
            for i in range(count)
        ],
    }


async def _hold_every_slot(client: Client, domain: str, queue: str, **options: Any) -> None:
    config = ArbiterConfig.model_validate(SLOTS)
    await ensure_arbiter(
        client, ArbiterInput(domain=domain, config=config, **options), task_queue=queue
    )
    blocker = Request(id="blocker", tenant="ops", demands={"slots": 3})
    assert (await acquire_grant(client, domain, blocker)).action == "grant"


async def _waiting(client: Client, domain: str, count: int) -> bool:
    return len((await arbiter_status(client, domain)).waiters) == count


async def _runs_waiting(
    client: Client, queue: str, data: dict[str, Any], runs: int = 1, **options: Any
) -> list[WorkflowHandle[Any, Any]]:
    """Every slot held by a blocker, then `runs` runs of `data` started, all their nodes
    waiting: the order they are granted in is the strategy's alone, not arrival's."""
    domain = data["arbiter"]["domain"]
    await _hold_every_slot(client, domain, queue, **options)
    handles = [await start_run(client, parse_dag(data), task_queue=queue) for _ in range(runs)]
    await eventually(lambda: _waiting(client, domain, runs * len(data["nodes"])))
    return handles


def _by_priority(run_id: str, data: dict[str, Any]) -> list[str]:
    ranked = sorted(data["nodes"], key=lambda n: -n["priority"])
    return [request_id(run_id, n["id"]) for n in ranked]


def _most_at_once(log: Path) -> int:
    running = most = 0
    for event in sorted(read_log(log), key=lambda e: (e["at"], e["event"] == "start")):
        running += 1 if event["event"] == "start" else -1
        most = max(most, running)
    return most


async def test_thirty_nodes_on_three_slots_finish_promptly_in_priority_order(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    log, domain = tmp_path / "log.jsonl", f"s-{dag_worker[-8:]}"
    data = slots_dag(log, domain, 30)
    # all 30 wait at once: with one long-waiting update each, 20 would be refused
    (handle,) = await _runs_waiting(temporal_client, dag_worker, data)
    assert await release_grant(temporal_client, domain, "blocker")
    # the design this replaces took over a minute for 20 such nodes (ideal: 2 s)
    status = await asyncio.wait_for(handle.result(), 60)
    assert status.status is RunState.SUCCEEDED
    arbiter = await arbiter_status(temporal_client, domain)
    assert arbiter.recent_grants == ["blocker", *_by_priority(handle.id, data)]
    assert arbiter.holders == [] and arbiter.waiters == [] and arbiter.undelivered == 0
    assert _most_at_once(log) <= 3


async def test_two_runs_each_holding_slots_while_others_wait_both_finish(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    """Not a deadlock: a node holds its slot only while it runs, and waits for nothing."""
    log, domain = tmp_path / "log.jsonl", f"r-{dag_worker[-8:]}"
    runs = await _runs_waiting(temporal_client, dag_worker, slots_dag(log, domain, 4), runs=2)
    assert await release_grant(temporal_client, domain, "blocker")
    for handle in runs:
        status = await asyncio.wait_for(handle.result(), 60)
        assert status.status is RunState.SUCCEEDED
    arbiter = await arbiter_status(temporal_client, domain)
    assert "deadlock" not in " ".join(arbiter.conflicts)
    assert len(arbiter.recent_grants) == 9 and _most_at_once(log) <= 3


async def test_a_cancelled_run_withdraws_its_waiting_requests(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    log, domain = tmp_path / "log.jsonl", f"c-{dag_worker[-8:]}"
    (handle,) = await _runs_waiting(temporal_client, dag_worker, slots_dag(log, domain, 5))
    await handle.cancel()
    await eventually(lambda: _waiting(temporal_client, domain, 0))
    status = await run_status(temporal_client, handle.id)
    assert {n.state for n in status.nodes.values()} == {NodeState.CANCELLED}
    assert [h.request for h in (await arbiter_status(temporal_client, domain)).holders] == [
        "blocker"
    ]


async def test_a_grant_for_a_run_that_has_closed_goes_back_at_once(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    log, domain = tmp_path / "log.jsonl", f"t-{dag_worker[-8:]}"
    (handle,) = await _runs_waiting(temporal_client, dag_worker, slots_dag(log, domain, 2))
    await handle.terminate()  # no chance to withdraw: the arbiter still has both waiting
    assert await release_grant(temporal_client, domain, "blocker")

    async def settled() -> bool:
        status = await arbiter_status(temporal_client, domain)
        return len(status.recent_grants) == 3 and not status.holders and not status.waiters

    await eventually(settled)
    later = Request(id="later", tenant="ops", demands={"slots": 3})
    assert (await acquire_grant(temporal_client, domain, later)).action == "grant"
    assert read_log(log) == []


async def test_waiting_nodes_are_granted_across_the_arbiters_continue_as_new(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    log, domain = tmp_path / "log.jsonl", f"n-{dag_worker[-8:]}"
    data = slots_dag(log, domain, 12)
    (handle,) = await _runs_waiting(temporal_client, dag_worker, data, continue_after_events=20)
    arbiter = temporal_client.get_workflow_handle(arbiter_workflow_id(domain))
    first_run = (await arbiter.describe()).run_id
    assert await release_grant(temporal_client, domain, "blocker")
    status = await asyncio.wait_for(handle.result(), 60)
    assert status.status is RunState.SUCCEEDED
    assert (await arbiter.describe()).run_id != first_run
    grants = (await arbiter_status(temporal_client, domain)).recent_grants
    assert grants == ["blocker", *_by_priority(handle.id, data)]


async def test_without_a_config_the_arbiter_must_already_run(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    log, domain = tmp_path / "log.jsonl", f"m-{dag_worker[-8:]}"
    data = slots_dag(log, domain, 1, config=False)
    handle = await start_run(temporal_client, parse_dag(data), task_queue=dag_worker)
    status = await asyncio.wait_for(handle.result(), 60)  # failed runs answer too
    assert status.nodes["n0"].state is NodeState.FAILED
    assert f"arbiter {domain}: not running" in (status.nodes["n0"].error or "")
    assert read_log(log) == []


def test_request_ids_fit_the_arbiters_rule() -> None:
    assert request_id("run-1", "train") == "run-1:train"
    long = request_id("r" * 80, "n")
    assert len(long) == 64 and "@" in long


async def test_a_node_running_longer_than_its_lease_keeps_its_grant(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    """The run renews what it holds every lease / 3: the second node (which needs the whole
    GPU too) starts only after the first has ended, not when the first lease would end."""
    log, domain = tmp_path / "log.jsonl", f"l-{dag_worker[-8:]}"
    data = gpu_dag(log, domain, [10, 10])
    data["arbiter"]["lease"] = "2s"
    for node in data["nodes"]:
        node["inputs"]["seconds"] = 3.5
    handle = await start_run(temporal_client, parse_dag(data), task_queue=dag_worker)
    status = await asyncio.wait_for(handle.result(), 60)
    assert status.status is RunState.SUCCEEDED
    assert _most_at_once(log) == 1
    arbiter = await arbiter_status(temporal_client, domain)
    assert arbiter.holders == [] and len(arbiter.recent_grants) == 2
