"""The worker: user activities, and draining in-flight work when told to stop."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

from pit.activities.builtin import sleep
from pit.common.errors import ConfigError
from pit.workers import run_until_signalled
from pit.workers.registry import activity_name, collect_activities, load_spec

pytestmark = pytest.mark.integration


@workflow.defn(name="test.sleepy")
class SleepyWorkflow:
    @workflow.run
    async def run(self, seconds: float) -> dict[str, float]:
        result: dict[str, float] = await workflow.execute_activity(
            "pit.sleep", {"seconds": seconds}, start_to_close_timeout=timedelta(seconds=30)
        )
        return result


async def test_worker_drains_in_flight_activity_before_stopping(
    temporal_client: Client, task_queue: str
) -> None:
    worker = Worker(
        temporal_client,
        task_queue=task_queue,
        workflows=[SleepyWorkflow],
        activities=[sleep],
        graceful_shutdown_timeout=timedelta(seconds=20),
    )
    stop = asyncio.Event()
    serving = asyncio.create_task(run_until_signalled(worker, stop))
    handle = await temporal_client.start_workflow(
        SleepyWorkflow.run, 1.5, id=f"drain-{task_queue}", task_queue=task_queue
    )
    await _wait_for_event(handle, "EVENT_TYPE_ACTIVITY_TASK_STARTED")
    stop.set()  # what SIGTERM does
    await asyncio.wait_for(serving, 30)
    # the activity that was running when the stop came finished instead of being abandoned
    assert await _has(handle, "EVENT_TYPE_ACTIVITY_TASK_COMPLETED")
    # and a new worker picks up where the drained one stopped
    async with Worker(
        temporal_client, task_queue=task_queue, workflows=[SleepyWorkflow], activities=[sleep]
    ):
        result = await asyncio.wait_for(handle.result(), 30)
    assert result["slept_seconds"] >= 1.5


async def _has(handle, name: str) -> bool:
    from temporalio.api.enums.v1 import EventType

    wanted = EventType.Value(name)
    return any(e.event_type == wanted for e in (await handle.fetch_history()).events)


async def _wait_for_event(handle, name: str) -> None:
    for _ in range(100):
        if await _has(handle, name):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name} never happened")


def test_user_activities_load_from_module_attribute(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "my_acts.py").write_text(
        textwrap.dedent(
            """
            from temporalio import activity

            @activity.defn(name="demo.shout")
            async def shout(inputs: dict) -> dict:
                return {"text": inputs["text"].upper()}

            class Tools:
                @activity.defn(name="demo.whisper")
                async def whisper(self, inputs: dict) -> dict:
                    return {"text": inputs["text"].lower()}

            TOOLS = Tools()
            BOTH = [shout, TOOLS]
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("my_acts", None)
    assert [activity_name(f) for f in load_spec("my_acts:shout")] == ["demo.shout"]
    assert [activity_name(f) for f in load_spec("my_acts:TOOLS")] == ["demo.whisper"]
    names = sorted(str(activity_name(f)) for f in load_spec("my_acts:BOTH"))
    assert names == ["demo.shout", "demo.whisper"]


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("no_colon", "module:attribute"),
        ("surely_not_a_module_xyz:thing", "cannot import"),
        ("pit.activities.builtin:nothing_here", "has no nothing_here"),
        ("pit.common.errors:PitError", "module:attribute"),
    ],
)
def test_bad_activity_specs_are_config_errors(spec: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        load_spec(spec)


def test_two_activities_with_one_name_are_refused() -> None:
    from temporalio import activity

    @activity.defn(name="pit.echo")
    async def impostor(inputs: dict) -> dict:
        return inputs

    from pit.activities import BUILTIN_ACTIVITIES

    with pytest.raises(ConfigError, match="already registered"):
        collect_activities([*BUILTIN_ACTIVITIES, impostor], [], use_entry_points=False)
