"""The cleanup schedule: overlap policy skip on purpose, and what it skips is reported;
schedules and runs carry PitKind, a memo and a summary; durations print as `1h`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.client import Client, ScheduleOverlapPolicy

from pit.client.stale import StaleClient
from pit.common.config import load_settings
from pit.infra.temporal.search_attributes import PIT_KIND
from pit.stale.protocol import CleanupProgress
from pit.workers import pit_worker
from tests.arbitration.support import eventually

pytestmark = pytest.mark.integration
DELETE_ALL = "delete: {max_age: 0s}\n"


async def test_a_plan_awaiting_confirmation_makes_the_schedule_skip_and_progress_says_so(
    temporal_client: Client, task_queue: str, tmp_path: Path
) -> None:
    settings = load_settings(environ={}, cwd=tmp_path, overrides={"state_dir": str(tmp_path)})
    stale = StaleClient.from_settings(settings, client=temporal_client)
    stale.task_queue = task_queue
    schedule_id = f"cleanup-{task_queue}"
    await stale.manager.store.put("logs/run", b"old", media_type="text/plain")
    async with (
        pit_worker(temporal_client, settings, task_queue=task_queue, use_entry_points=False) as w,
        w,
    ):
        made = await stale.schedule(DELETE_ALL, schedule_id=schedule_id, trigger=True)
        assert (made.every, made.overlap, made.created) == ("1h", "skip", True)

        async def waiting() -> CleanupProgress | None:
            shown = await stale.progress(schedule_id)  # the schedule's open run
            return shown if shown.stage == "awaiting_confirmation" else None

        first = await eventually(waiting)
        assert first.schedule_id == schedule_id and first.run_id is not None
        assert first.run_id.startswith(f"{schedule_id}-run")
        assert first.skipped_runs == 0
        schedule = temporal_client.get_schedule_handle(schedule_id)
        await schedule.trigger()
        await schedule.trigger()

        async def skipped() -> CleanupProgress | None:
            shown = await stale.progress(first.run_id)
            return shown if shown.skipped_runs == 2 else None

        later = await eventually(skipped)
        assert later.run_id == first.run_id and later.stage == "awaiting_confirmation"
        address = temporal_client.service_client.config.target_host
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIT_")}
        shown = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "pit", "--temporal", address, "stale", "progress", schedule_id],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.startswith(f"{first.run_id}: awaiting_confirmation (plan ")
        assert f"schedule {schedule_id} skipped 2 runs so far" in shown.stdout

        run = await temporal_client.get_workflow_handle(first.run_id).describe()
        assert run.typed_search_attributes.get(PIT_KIND) == "stale-cleanup"
        assert (await run.memo())["schedule"] == schedule_id
        assert await run.static_summary() == f"stale cleanup every 1h, from schedule {schedule_id}"
        described = await schedule.describe()
        assert described.schedule.policy.overlap is ScheduleOverlapPolicy.SKIP

        async def noted() -> str:
            return (await schedule.describe()).schedule.state.note or ""

        note = await eventually(noted)  # the waiting run notes its schedule
        assert note.startswith(f"{first.run_id} awaits confirmation of plan ")
        assert "runs due meanwhile are skipped (overlap policy skip)" in note
        assert described.typed_search_attributes.get(PIT_KIND) == "stale-schedule"
        memo = await described.memo()
        assert memo["kind"] == "stale-schedule" and memo["every"] == "1h"
        assert "skipped" in memo["overlap"] and memo["confirm_within"] == "1d"

        confirmed = await stale.confirm(schedule_id)
        assert confirmed.run_id == first.run_id
        done = await temporal_client.get_workflow_handle(first.run_id).result()
        assert done["stage"] == "applied"
        assert (await schedule.describe()).schedule.state.note in ("", None)  # cleared
        await schedule.delete()
    await stale.close()
