"""Temporal's own tools name DAG nodes: a node's activity id is its node id."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest
from temporalio.client import Client

from pit.client import PitClient
from pit.common.config import load_settings
from pit.dag.status import NodeState, RunState
from pit.infra.temporal.devserver import temporal_binary
from pit.workers import build_worker

pytestmark = pytest.mark.integration


async def test_temporal_activity_complete_by_node_id_completes_that_node(
    temporal_client: Client, task_queue: str, tmp_path
) -> None:
    settings = load_settings(environ={"PIT_STATE_DIR": str(tmp_path / ".pit")})
    pit = PitClient(temporal_client, settings)
    dag = {
        "name": "human",
        "nodes": [
            {"id": "wait_for_me", "activity": "pit.sleep", "inputs": {"seconds": 300}},
            {
                "id": "after",
                "activity": "pit.echo",
                "inputs": {"got": "${nodes.wait_for_me.output}"},
            },
        ],
    }
    async with build_worker(
        temporal_client, settings, task_queue=task_queue, use_entry_points=False
    ):
        handle = await pit.runs.start(dag, task_queue=task_queue)
        for _ in range(200):  # until the node's activity is pending (scheduled or running)
            description = await handle.workflow.describe()
            pending = [a.activity_id for a in description.raw_description.pending_activities]
            if pending:
                break
            await asyncio.sleep(0.05)
        assert pending == ["wait_for_me"]
        address = temporal_client.service_client.config.target_host
        done = await asyncio.to_thread(
            subprocess.run,
            [
                str(temporal_binary()),
                "activity",
                "complete",
                "--address",
                address,
                "--namespace",
                temporal_client.namespace,
                "--workflow-id",
                handle.id,
                "--activity-id",
                "wait_for_me",
                "--result",
                json.dumps({"ok": True, "by": "a person"}),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        status = await asyncio.wait_for(handle.result(), 60)
    assert status.status is RunState.SUCCEEDED
    assert status.nodes["wait_for_me"].state is NodeState.SUCCEEDED
    assert status.nodes["wait_for_me"].output == {"ok": True, "by": "a person"}
    assert status.nodes["after"].output == {"got": {"ok": True, "by": "a person"}}
