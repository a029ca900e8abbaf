"""`pit dag approve`, `pit dag graph`, `pit dag status --node`, `pit dag cache clear` and
`pit run --no-cache` as a user runs them, against the session's dev server and a worker in
the test whose artifact store is the test's own state dir (the CLI's, run there)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from pit.client.runs import RunHandle, RunsClient
from pit.common.config import load_settings
from pit.dag.status import NodeState, RunState
from pit.workers import build_worker
from tests.dag.support import ACTIVITIES
from tests.dag.test_dag_cli import pit

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def served(
    temporal_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> AsyncIterator[tuple[str, str]]:
    """(server address, task queue) with a worker whose state dir is `tmp_path/.pit`."""
    settings = load_settings(
        environ={},
        cwd=tmp_path,
        overrides={"state_dir": tmp_path / ".pit", "temporal.task_queue": task_queue},
    )
    worker = build_worker(
        temporal_env.client,
        settings,
        extra_activities=ACTIVITIES,
        task_queue=task_queue,
        use_entry_points=False,
    )
    async with worker:
        yield temporal_env.client.service_client.config.target_host, task_queue


async def cli(tmp_path: Path, address: str, queue: str, *args: str) -> Any:
    # pit.toml in the test's directory: the CLI starts runs on the worker's queue
    (tmp_path / "pit.toml").write_text(f'[temporal]\ntask_queue = "{queue}"\n')
    return await asyncio.to_thread(pit, "--temporal", address, *args, cwd=tmp_path)


APPROVAL = {
    "name": "cli-approval",
    "nodes": [
        {"id": "files", "activity": "pit.echo", "inputs": {"names": ["a", "b", "c"]}},
        {"id": "each", "activity": "pit.echo", "for_each": "${nodes.files.output.names}"},
        {"id": "ship", "approval": {"prompt": "Ship?"}, "depends_on": ["each"]},
    ],
}


async def test_approve_graph_and_items_from_the_command_line(
    temporal_client: Client, served: tuple[str, str], tmp_path: Path
) -> None:
    address, queue = served
    handle = await RunsClient(temporal_client, task_queue=queue).start(APPROVAL)
    await waiting(handle, "ship")

    shown = await cli(tmp_path, address, queue, "dag", "graph", handle.id)
    assert shown.returncode == 0, shown.stderr
    assert 'n1[/"each<br/>for each: pit.echo<br/>succeeded: 3/3 items succeeded"/]' in shown.stdout
    assert 'n2{{"ship<br/>approval<br/>running"}}' in shown.stdout

    items = await cli(tmp_path, address, queue, "dag", "status", handle.id, "--node", "each")
    assert items.returncode == 0, items.stderr
    assert [line.split()[:2] for line in items.stdout.splitlines()] == [
        ["succeeded", "each[0]"],
        ["succeeded", "each[1]"],
        ["succeeded", "each[2]"],
    ]

    listed = await cli(tmp_path, address, queue, "dag", "list", "--limit", "100")
    assert f"{handle.id}" in listed.stdout
    line = next(row for row in listed.stdout.splitlines() if row.startswith(handle.id))
    assert line.endswith("waiting for approval: ship")

    wrong = await cli(tmp_path, address, queue, "dag", "approve", handle.id, "files")
    assert wrong.returncode == 2
    assert wrong.stderr.strip().splitlines() == ["pit: error: NODE: 'files': not an approval node"]

    answered = await cli(
        tmp_path, address, queue, "dag", "approve", handle.id, "ship", "--by", "ann", "--json"
    )
    assert answered.returncode == 0, answered.stderr
    assert json.loads(answered.stdout)["by"] == "ann"
    final = await asyncio.wait_for(handle.result(), 30)
    assert final.status is RunState.SUCCEEDED
    assert final.nodes["ship"].output["approved"] is True


async def test_no_cache_and_cache_clear_from_the_command_line(
    served: tuple[str, str], tmp_path: Path
) -> None:
    address, queue = served
    log = tmp_path / "calls.jsonl"
    dag = tmp_path / "cached.yaml"
    node = {
        "id": "costly",
        "activity": "test.record",
        "inputs": {"node": "costly", "log": str(log)},
        "cache": {"ttl": "1h"},
    }
    dag.write_text(yaml.safe_dump({"name": f"cli-cache-{tmp_path.name}", "nodes": [node]}))

    def calls() -> int:
        return sum(1 for line in log.read_text().splitlines() if '"end"' in line)

    first = await cli(tmp_path, address, queue, "run", str(dag), "--json")
    assert first.returncode == 0, first.stderr
    second = await cli(tmp_path, address, queue, "run", str(dag), "--json")
    assert calls() == 1
    assert json.loads(second.stdout)["nodes"]["costly"]["cached_from"] is not None
    third = await cli(tmp_path, address, queue, "run", str(dag), "--no-cache", "--json")
    assert calls() == 2 and json.loads(third.stdout)["nodes"]["costly"]["cached_from"] is None

    cleared = await cli(tmp_path, address, queue, "dag", "cache", "clear", str(dag))
    assert cleared.returncode == 0, cleared.stderr
    assert cleared.stdout.strip() == f"cleared 1 cached output of DAG cli-cache-{tmp_path.name}"
    await cli(tmp_path, address, queue, "run", str(dag))
    assert calls() == 3

    bad = await cli(tmp_path, address, queue, "dag", "cache", "clear", "no such/name")
    assert bad.returncode == 2
    assert bad.stderr.startswith("pit: error: DAG: 'no such/name': 1 to 100 characters")


async def test_graph_of_a_file_as_dot(served: tuple[str, str], tmp_path: Path) -> None:
    dag = tmp_path / "g.yaml"
    dag.write_text(yaml.safe_dump(APPROVAL))
    shown = await cli(tmp_path, *served, "dag", "graph", str(dag), "--format", "dot")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith('digraph "cli-approval" {')
    assert '"each" -> "ship"' in shown.stdout


async def waiting(handle: RunHandle, node: str) -> None:
    deadline = time.monotonic() + 30
    while node not in (await handle.status()).waiting_for_approval:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    assert (await handle.status()).nodes[node].state is NodeState.RUNNING
