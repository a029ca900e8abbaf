"""Every docs/dag.md example (YAML blocks starting `# example: NAME`) runs on the dev server
through `pit.dag` and ends as the docs say (approvals approved)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from temporalio.client import Client

from pit.client.runs import RunsClient
from pit.dag.status import DagStatus
from tests.dag.test_docs_examples import examples

pytestmark = pytest.mark.integration

EXPECTED = {
    "map-review": {"list": "succeeded", "review": "succeeded", "first": "succeeded"},
    "when": {"check": "succeeded", "expensive": "succeeded", "cheap": "skipped"},
    "triggers": {
        "probe": "succeeded",
        "deploy": "skipped",
        "notify": "skipped",
        "report": "succeeded",
    },
    "approval": {"build": "succeeded", "ship": "succeeded", "release": "succeeded"},
    "cache": {"review": "succeeded"},
}


async def run_example(client: Client, queue: str, name: str) -> DagStatus:
    data = examples()[name]
    data["name"] = f"{name}-{uuid.uuid4().hex[:8]}"  # the cache example's entries: its own
    handle = await RunsClient(client, task_queue=queue).start(data, inputs={"request": "r-1"})
    approvals = [n["id"] for n in data["nodes"] if "approval" in n]
    deadline = time.monotonic() + 30
    for node in approvals:
        while node not in (await handle.status()).waiting_for_approval:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        await handle.approve(node, by="docs")
    return await asyncio.wait_for(handle.result(), 60)


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_the_examples_run_as_documented(
    temporal_client: Client, dag_worker: str, name: str
) -> None:
    assert set(EXPECTED) == set(examples())
    status = await run_example(temporal_client, dag_worker, name)
    assert {n: s.state.value for n, s in status.nodes.items()} == EXPECTED[name]
    if name == "map-review":
        assert status.nodes["review"].output == [
            {"file": "a.py", "position": 0},
            {"file": "b.md", "position": 1},
            {"file": "c.py", "position": 2},
        ]
        assert status.nodes["first"].output == {"score": "a.py"}
    if name == "approval":
        assert status.nodes["ship"].output["prompt"] == "Ship 2.1?"
