"""The artifact activities: unit-tested in ActivityEnvironment, then in a real DAG run where
one node stores an output and a later node reads it by reference."""

from __future__ import annotations

import asyncio
import base64
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from pit.activities.artifacts import (
    ArtifactActivities,
    GetInput,
    IndexInput,
    PutInput,
    SearchInput,
)
from pit.artifacts.store import ArtifactStore
from pit.client.runs import start_run
from pit.common.config import load_settings
from pit.common.errors import IntegrityError, InvalidInputError
from pit.dag.graph import parse_dag
from pit.dag.status import NodeState, RunState
from pit.infra.blob_local import LocalBlobStore
from pit.workers import build_worker
from tests.artifacts.fakes import FakeIndex


@pytest_asyncio.fixture
async def activities(tmp_path: Path) -> AsyncIterator[ArtifactActivities]:
    store = ArtifactStore(LocalBlobStore(tmp_path / "store"), FakeIndex())
    yield ArtifactActivities(store)
    await store.close()


async def test_put_then_get_by_reference_round_trips(activities: ArtifactActivities) -> None:
    env = ActivityEnvironment()
    stored = await env.run(activities.put, PutInput(name="out/a", text="hello"))
    fetched = await env.run(activities.get, GetInput(**stored.model_dump()))
    assert (fetched.text, fetched.version, fetched.digest) == ("hello", 1, stored.digest)
    binary = await env.run(
        activities.put, PutInput(name="out/b", data_base64=base64.b64encode(b"\x00\xff").decode())
    )
    raw = await env.run(
        activities.get, GetInput(artifact="out/b", version=binary.version, encoding="base64")
    )
    assert base64.b64decode(raw.data_base64 or "") == b"\x00\xff"


async def test_get_refuses_a_reference_whose_digest_does_not_match(
    activities: ArtifactActivities,
) -> None:
    env = ActivityEnvironment()
    await env.run(activities.put, PutInput(name="doc", text="v1"))
    wrong = "sha256:" + "0" * 64
    with pytest.raises(IntegrityError, match="reference says"):
        await env.run(activities.get, GetInput(artifact="doc", version=1, digest=wrong))


async def test_get_to_a_path_writes_only_a_regular_file_and_keeps_its_mode(
    activities: ArtifactActivities, tmp_path: Path
) -> None:
    env = ActivityEnvironment()
    await env.run(activities.put, PutInput(name="doc", text="v1"))
    target = tmp_path / "out.txt"
    target.write_text("old")
    target.chmod(0o600)
    await env.run(activities.get, GetInput(artifact="doc", path=str(target)))
    assert (target.read_text(), target.stat().st_mode & 0o777) == ("v1", 0o600)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InvalidInputError, match="is a FIFO"):
        await env.run(activities.get, GetInput(artifact="doc", path=str(fifo)))
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


async def test_put_needs_exactly_one_source() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        PutInput(name="doc", text="a", path="/tmp/x")


async def test_search_and_index_activities_use_the_store_index(
    activities: ArtifactActivities, tmp_path: Path
) -> None:
    env = ActivityEnvironment()
    (tmp_path / "f.txt").write_text("needle in a haystack")
    await env.run(
        activities.put,
        PutInput(name="docs/f", path=str(tmp_path / "f.txt"), media_type="text/plain"),
    )
    found = await env.run(activities.search, SearchInput(query="needle"))
    assert [(hit.name, hit.version) for hit in found.hits] == [("docs/f", 1)]
    assert (await env.run(activities.index, IndexInput())).indexed == 1
    assert (await env.run(activities.index, IndexInput(artifact="docs/f"))).indexed == 1


@pytest.mark.integration
async def test_a_dag_node_reads_what_an_earlier_node_stored(
    temporal_client: Client, task_queue: str, tmp_path: Path
) -> None:
    settings = load_settings(environ={"PIT_STATE_DIR": str(tmp_path / "state")}, cwd=tmp_path)
    # every Pit worker serves the artifact activities, over the store its settings name
    worker = build_worker(temporal_client, settings, task_queue=task_queue, use_entry_points=False)
    spec = {
        "name": "handoff",
        "nodes": [
            {
                "id": "produce",
                "activity": "pit.artifacts.put",
                "inputs": {"name": "runs/report", "text": "the report body"},
            },
            {
                "id": "consume",
                "activity": "pit.artifacts.get",
                "inputs": {
                    "artifact": "${nodes.produce.output.artifact}",
                    "version": "${nodes.produce.output.version}",
                    "digest": "${nodes.produce.output.digest}",
                },
            },
        ],
    }
    async with worker:
        handle = await start_run(temporal_client, parse_dag(spec), task_queue=task_queue)
        status = await asyncio.wait_for(handle.result(), 60)
    assert status.status == RunState.SUCCEEDED
    produced = status.nodes["produce"].output
    consumed = status.nodes["consume"].output
    assert status.nodes["consume"].state == NodeState.SUCCEEDED
    assert consumed["text"] == "the report body"
    assert consumed["digest"] == produced["digest"]
    assert set(produced) >= {"artifact", "version", "digest"}
