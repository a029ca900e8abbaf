"""`pit.shell` never silently cuts an output: over its limit, all of it is stored as an
artifact the next node can read, and without a store the node fails saying so."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from pit.activities.shell import MAX_CAPTURE, ShellInput, shell
from pit.client.runs import start_run
from pit.common.config import load_settings
from pit.common.errors import WorkFailedError
from pit.dag.status import NodeState, RunState
from pit.infra.artifact_factory import open_artifact_store

pytestmark = pytest.mark.integration
LONG = 300_000
"""Characters of x the command prints before a final y (300,001 in all)."""


async def test_an_output_over_the_limit_reaches_the_next_node_whole(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    command = ["python3", "-c", f"import sys; sys.stdout.write('x' * {LONG} + 'y')"]
    graph = {
        "name": "long-output",
        "nodes": [
            {"id": "big", "activity": "pit.shell", "inputs": {"command": command}},
            {
                "id": "read",
                "activity": "pit.artifacts.get",
                "inputs": "${nodes.big.output.stdout_artifact}",
            },
        ],
    }
    handle = await start_run(temporal_client, graph, task_queue=dag_worker)
    status = await asyncio.wait_for(handle.result(), 60)
    assert status.status is RunState.SUCCEEDED, status.nodes
    big = status.nodes["big"].output
    assert big["stdout_chars"] == LONG + 1
    assert len(big["stdout"]) == MAX_CAPTURE and big["stdout"].endswith("xy")
    assert big["stderr_artifact"] is None
    read = status.nodes["read"]
    assert read.state is NodeState.SUCCEEDED
    assert read.output["size"] == LONG + 1 and read.output["text"] == "x" * LONG + "y"
    # a second client of the same store finds it under the run's name, tagged
    store = open_artifact_store(load_settings(environ={}, cwd=tmp_path))
    try:
        reference = big["stdout_artifact"]
        assert reference["artifact"].startswith("pit/shell/") and reference["artifact"].endswith(
            "/big/stdout"
        )
        found = await store.get(reference["artifact"], reference["version"])
        assert found.data == ("x" * LONG + "y").encode()
        assert found.manifest.digest == reference["digest"]
    finally:
        await store.close()


async def test_without_a_store_an_output_over_the_limit_fails_saying_so() -> None:
    command = ["python3", "-c", f"print('z' * {MAX_CAPTURE + 1})"]
    with pytest.raises(WorkFailedError, match=r"stdout is 65,538 characters, over the 65,536"):
        await ActivityEnvironment().run(shell, ShellInput(command=command))
    exact = ["python3", "-c", f"import sys; sys.stdout.write('z' * {MAX_CAPTURE})"]
    result = await ActivityEnvironment().run(shell, ShellInput(command=exact))
    assert len(result.stdout) == MAX_CAPTURE and result.stdout_artifact is None
