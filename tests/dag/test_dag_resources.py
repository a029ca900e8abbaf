"""Nodes that declare `resources` hold a grant from the DAG's arbiter while they run."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError

from pit.cli._dag_client import run_status, start_run
from pit.dag.graph import DagInvalidError, parse_dag
from pit.dag.status import NodeState, RunState
from pit.workflows.arbiter import arbiter_status
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
    with pytest.raises(WorkflowFailureError):
        await asyncio.wait_for(handle.result(), 60)
    status = await run_status(temporal_client, handle.id)
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
