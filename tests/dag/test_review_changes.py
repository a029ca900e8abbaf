"""examples/review-changes.yaml runs as its comments say: files listed by pit.shell, a cached
review per file, the deep review only for a big change, and the post only after approval."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from pit.client.runs import RunHandle, RunsClient, compile_dag
from pit.dag.render import render
from pit.dag.status import DagStatus, NodeState, RunState, SkipCause

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).parents[2] / "examples" / "review-changes.yaml"


async def approved(handle: RunHandle) -> DagStatus:
    deadline = time.monotonic() + 30
    while "approve" not in (await handle.status()).waiting_for_approval:
        assert time.monotonic() < deadline, "the run never asked for approval"
        await asyncio.sleep(0.1)
    record = await handle.approve("approve", by="reviewer", comment="ship it")
    assert record.approved
    return await asyncio.wait_for(handle.result(), 60)


async def test_the_review_changes_example_runs(
    temporal_client: Client, dag_worker: str, tmp_path: Path
) -> None:
    # contents of this test's own: the worker's cache outlives the test
    salt = uuid.uuid4().hex
    for name, lines in (("a.py", 2), ("b.py", 1), ("c.py", 3)):
        (tmp_path / name).write_text("".join(f"{salt} {i}\n" for i in range(lines)))
    (tmp_path / "notes.md").write_text("not a python file\n")
    runs = RunsClient(temporal_client, task_queue=dag_worker)
    inputs = {"dir": str(tmp_path), "pattern": "*.py"}

    first = await approved(await runs.start(EXAMPLE, inputs=inputs))
    assert first.status is RunState.SUCCEEDED, first.nodes
    reviews = ["a.py: 2 lines", "b.py: 1 lines", "c.py: 3 lines"]
    assert [r["stdout"] for r in first.nodes["review"].output] == reviews
    assert first.nodes["deep"].state is NodeState.SUCCEEDED
    post = first.nodes["post-it"].output
    assert post["approved_by"] == "reviewer" and len(post["reviews"]) == 3
    items = first.nodes["review"].items
    assert items is not None and (items.succeeded, items.cached) == (3, 0)

    # one file edited, one removed: two reviews come from the cache, the deep one is skipped
    (tmp_path / "b.py").write_text(f"{salt} edited\n{salt} twice\n")
    (tmp_path / "c.py").unlink()
    second = await approved(await runs.start(EXAMPLE, inputs=inputs))
    assert [r["stdout"] for r in second.nodes["review"].output] == [
        "a.py: 2 lines",
        "b.py: 2 lines",
    ]
    items = second.nodes["review"].items
    assert items is not None and (items.succeeded, items.cached) == (2, 1)
    deep = second.nodes["deep"]
    assert deep.state is NodeState.SKIPPED and deep.skipped_by is SkipCause.CONDITION
    assert second.nodes["post-it"].state is NodeState.SUCCEEDED


def test_the_graph_in_the_readme_is_what_pit_dag_graph_prints() -> None:
    readme = (EXAMPLE.parents[1] / "README.md").read_text()
    shown = re.search(r"```mermaid\n(.*?)```", readme, re.S)
    assert shown is not None
    assert render(compile_dag(EXAMPLE), None, "mermaid") == shown.group(1)
