"""The scheduled cleanup on a real Temporal dev server: plan, confirm, apply."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client

from pit.common.config import Settings, load_settings
from pit.infra.artifact_factory import open_artifact_store
from pit.workers import pit_worker
from pit.workflows.stale import CleanupInput, StaleCleanupWorkflow

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
POLICY = (ROOT / "examples" / "stale" / "default.yaml").read_text()
LATER = datetime.now(UTC) + timedelta(days=60)


@pytest_asyncio.fixture
async def settings(tmp_path: Path) -> AsyncIterator[Settings]:
    settings = load_settings(
        environ={}, cwd=tmp_path, overrides={"state_dir": str(tmp_path / ".pit")}
    )
    store = open_artifact_store(settings)
    try:
        for text in ("one", "two", "three"):
            await store.put("logs/run", text.encode(), media_type="text/plain")
    finally:
        await store.close()
    yield settings


async def live_versions(settings: Settings) -> list[int]:
    store = open_artifact_store(settings)
    try:
        return sorted(m.version for m in await store.versions("logs/run"))
    finally:
        await store.close()


async def wait_for_stage(handle, stage: str) -> None:
    for _ in range(200):
        if (await handle.query(StaleCleanupWorkflow.progress)).stage == stage:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never reached {stage}")


async def test_cleanup_waits_for_confirmation_then_applies(
    temporal_client: Client, task_queue: str, settings: Settings
) -> None:
    async with (
        pit_worker(
            temporal_client, settings, task_queue=task_queue, use_entry_points=False
        ) as worker,
        worker,
    ):
        handle = await temporal_client.start_workflow(
            StaleCleanupWorkflow.run,
            CleanupInput(policy_text=POLICY, now=LATER),
            id=f"cleanup-{task_queue}",
            task_queue=task_queue,
        )
        await wait_for_stage(handle, "awaiting_confirmation")
        progress = await handle.query(StaleCleanupWorkflow.progress)
        assert progress.plan is not None and progress.plan.deletes == 2
        assert await live_versions(settings) == [1, 2, 3]  # nothing changes before the confirmation
        await handle.signal(StaleCleanupWorkflow.confirm, "test")
        result = await asyncio.wait_for(handle.result(), 30)
    assert result.stage == "applied"
    assert result.confirmed_by == "test"
    assert await live_versions(settings) == [3]  # keep_last: 1 protected the newest


async def test_small_plans_apply_by_themselves_and_unconfirmed_ones_expire(
    temporal_client: Client, task_queue: str, settings: Settings
) -> None:
    async with (
        pit_worker(
            temporal_client, settings, task_queue=task_queue, use_entry_points=False
        ) as worker,
        worker,
    ):
        expired = await temporal_client.execute_workflow(
            StaleCleanupWorkflow.run,
            CleanupInput(policy_text=POLICY, now=LATER, confirm_within=timedelta(seconds=1)),
            id=f"expire-{task_queue}",
            task_queue=task_queue,
        )
        assert expired.stage == "expired"
        assert await live_versions(settings) == [1, 2, 3]
        automatic = await temporal_client.execute_workflow(
            StaleCleanupWorkflow.run,
            CleanupInput(policy_text=POLICY, now=LATER, auto_apply_under=10),
            id=f"auto-{task_queue}",
            task_queue=task_queue,
        )
    assert automatic.stage == "applied"
    assert automatic.confirmed_by is not None and automatic.confirmed_by.startswith("auto")
    assert await live_versions(settings) == [3]


def test_schedule_command_creates_a_schedule_and_refuses_a_bad_policy(
    temporal_client: Client, tmp_path: Path
) -> None:
    address = temporal_client.service_client.config.target_host
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIT_")}

    def pit(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pit", "--temporal", address, *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    schedule_id = f"cleanup-{tmp_path.name}"
    policy = ROOT / "examples" / "stale" / "default.yaml"
    made = pit(
        "stale", "schedule", "--policy", str(policy), "--every", "1h", "--id", schedule_id, "--json"
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["created"] is True
    assert json.loads(made.stdout)["every"] == "1h"
    again = pit("stale", "schedule", "--policy", str(policy), "--every", "2h", "--id", schedule_id)
    assert again.returncode == 0, again.stderr
    assert f"updated schedule {schedule_id}: a cleanup plan every 2h;" in again.stdout  # in place
    assert "overlap policy skip" in again.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("delete: {max_age: whenever}\n")
    refused = pit("stale", "schedule", "--policy", str(bad), "--id", "never")
    assert refused.returncode == 2
    assert "delete.max_age" in refused.stderr
    missing = pit("stale", "progress", "no-such-run")
    assert missing.returncode == 2 and "no cleanup run" in missing.stderr
