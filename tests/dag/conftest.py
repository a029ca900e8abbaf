"""A worker for DAG tests: every Pit workflow and activity plus the test activities."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from temporalio.client import Client

from pit.common.config import load_settings
from pit.workers import build_worker
from tests.dag.support import ACTIVITIES


@pytest_asyncio.fixture
async def dag_worker(
    temporal_client: Client, task_queue: str, tmp_path: Path
) -> AsyncIterator[str]:
    settings = load_settings(environ={}, cwd=tmp_path)
    worker = build_worker(
        temporal_client,
        settings,
        extra_activities=ACTIVITIES,
        task_queue=task_queue,
        use_entry_points=False,
    )
    async with worker:
        yield task_queue
