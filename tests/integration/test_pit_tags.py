"""Every Pit workflow carries PitKind, a memo naming its kind and a summary, so Temporal's UI
and CLI can find and tell them apart (`PitKind = 'dag'` ...)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from temporalio.client import Client

from pit.arbitration import ArbiterConfig
from pit.arbitration.protocol import ArbiterInput, arbiter_workflow_id
from pit.client import PitClient
from pit.client.arbiter import ensure_arbiter
from pit.client.pool import publish_host
from pit.common.config import load_settings
from pit.infra.temporal.search_attributes import KINDS, PIT_DAG, PIT_KIND, PIT_NODES
from pit.pool.placement import HostSnapshot
from pit.pool.protocol import registry_id
from pit.workers import build_worker

pytestmark = pytest.mark.integration


async def _tags(client: Client, workflow_id: str) -> tuple[str | None, dict, str | None]:
    described = await client.get_workflow_handle(workflow_id).describe()
    kind = described.typed_search_attributes.get(PIT_KIND)
    return kind, await described.memo(), await described.static_summary()


async def test_every_pit_workflow_carries_its_kind_a_memo_and_a_summary(
    temporal_client: Client, task_queue: str, tmp_path: Path
) -> None:
    settings = load_settings(environ={"PIT_TEMPORAL__TASK_QUEUE": task_queue}, cwd=tmp_path)
    pit = PitClient(temporal_client, settings)
    dag = {
        "name": "tagged",
        "nodes": [
            {"id": "a", "activity": "pit.echo", "inputs": {"v": 1}},
            {
                "id": "inner",
                "dag": {"name": "leafy", "nodes": [{"id": "leaf", "activity": "pit.echo"}]},
            },
        ],
    }
    domain = f"tags-{task_queue[-8:]}"
    async with build_worker(
        temporal_client, settings, task_queue=task_queue, use_entry_points=False
    ):
        handle = await pit.runs.start(dag, task_queue=task_queue, id=f"tagged-{task_queue}")
        await asyncio.wait_for(handle.result(), 60)
        await pit.check()
        config = ArbiterConfig.model_validate({"resources": {"lock": 1}})
        await ensure_arbiter(
            temporal_client, ArbiterInput(domain=domain, config=config), task_queue=task_queue
        )
        snapshot = HostSnapshot(
            host="h1", queue=f"{task_queue}-h1", budget_bytes=1, reserved_bytes=0, interval=60
        )
        await publish_host(temporal_client, snapshot, task_queue=task_queue)

        kind, memo, summary = await _tags(temporal_client, handle.id)
        assert (kind, memo["kind"], memo["dag"]) == ("dag", "dag", "tagged")
        assert summary == "DAG tagged (2 nodes)"
        child = await temporal_client.get_workflow_handle(f"{handle.id}.inner").describe()
        assert child.typed_search_attributes.get(PIT_KIND) == "dag"
        assert child.typed_search_attributes.get(PIT_DAG) == "leafy"
        assert child.typed_search_attributes.get(PIT_NODES) == 1
        assert (await child.memo())["node"] == "inner"
        assert await child.static_summary() == "child graph leafy of inner"

        kind, memo, summary = await _tags(temporal_client, arbiter_workflow_id(domain))
        assert (kind, memo, summary) == (
            "arbiter",
            {"kind": "arbiter", "domain": domain},
            f"arbiter of domain {domain}",
        )
        kind, memo, summary = await _tags(temporal_client, registry_id(task_queue))
        assert (kind, memo["task_queue"]) == ("pool-registry", task_queue)
        assert summary == f"pool host registry of task queue {task_queue}"

        found: list[str] = []
        deadline = time.monotonic() + 30
        query = f"PitKind = 'check' AND TaskQueue = '{task_queue}'"
        while not found and time.monotonic() < deadline:  # visibility catches up
            found = [w.id async for w in temporal_client.list_workflows(query)]
            await asyncio.sleep(0.1)
        assert len(found) == 1
        kind, memo, summary = await _tags(temporal_client, found[0])
        assert (kind, memo) == ("check", {"kind": "check", "task_queue": task_queue})
        assert summary == f"pit check of task queue {task_queue}"
        await temporal_client.get_workflow_handle(arbiter_workflow_id(domain)).terminate()
        await temporal_client.get_workflow_handle(registry_id(task_queue)).terminate()
    assert {"dag", "check", "arbiter", "pool-registry"} <= set(KINDS)
