"""Committed histories of real runs replay against today's workflow code: a change that
would break the runs in flight on upgrade fails here (see docs/python.md, "Changing workflow
code"; record new histories with `python -m tests.replay.record`)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from pit.common.config import load_settings
from pit.dag.run import DagRunInput
from pit.dag.status import DagStatus
from pit.workers import PitPlugin
from pit.workflows import DagWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def history(path: Path) -> WorkflowHistory:
    data = json.loads(path.read_text())
    started = data["events"][0]["workflowExecutionStartedEventAttributes"]
    workflow_id = started.get("workflowId") or path.stem
    return WorkflowHistory.from_json(workflow_id, data)


def replayer(tmp_path: Path, *workflows: type) -> Replayer:
    """What a `pit worker` replays with: the Pit's plugin (converter, interceptors, every
    workflow), or the given workflows in place of the Pit's own."""
    settings = load_settings(environ={"PIT_STATE_DIR": str(tmp_path / ".pit")})
    plugin = PitPlugin(settings, use_entry_points=False)
    if workflows:
        plugin.workflows = list(workflows)
    return Replayer(workflows=[], plugins=[plugin])


def test_every_kind_of_pit_workflow_has_a_committed_history() -> None:
    kinds = {
        json.loads(path.read_text())["events"][0]["workflowExecutionStartedEventAttributes"][
            "workflowType"
        ]["name"]
        for path in HISTORIES
    }
    assert kinds >= {"pit.dag", "pit.arbiter", "pit.pool.registry", "pit.stale_cleanup"}


@pytest.mark.parametrize("path", HISTORIES, ids=[path.stem for path in HISTORIES])
async def test_a_committed_history_replays_against_todays_workflows(
    path: Path, tmp_path: Path
) -> None:
    result = await replayer(tmp_path).replay_workflow(history(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


@workflow.defn(name="pit.dag", sandboxed=False)
class DagWorkflowThatWaitsFirst(DagWorkflow):
    """A change a careless edit could make: a timer before the graph starts."""

    @workflow.run
    async def run(self, run: DagRunInput) -> DagStatus:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(run)


async def test_a_non_deterministic_change_to_a_workflow_is_caught(tmp_path: Path) -> None:
    recorded = history(Path(__file__).parent / "histories" / "dag-model-node.json")
    changed = replayer(tmp_path, DagWorkflowThatWaitsFirst)
    with pytest.raises(NondeterminismError):
        await changed.replay_workflow(recorded)
    assert (await replayer(tmp_path).replay_workflow(recorded)).replay_failure is None
