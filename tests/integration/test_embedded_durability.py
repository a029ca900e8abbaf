"""The embedded server's SQLite settings: a write-ahead log synced at checkpoints must still
keep every acknowledged write when the server is killed outright (SIGKILL)."""

from __future__ import annotations

import os
import signal
import sqlite3
import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from pit.infra.temporal.devserver import embedded_server, sqlite_pragmas

pytestmark = pytest.mark.integration


def test_the_pragmas_choose_a_write_ahead_log_and_the_sync() -> None:
    assert sqlite_pragmas("normal") == [
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
    ]
    assert sqlite_pragmas("full")[-1] == "synchronous=full"


async def test_a_killed_server_loses_no_acknowledged_write(tmp_path: Path) -> None:
    state = tmp_path / ".pit"
    workflow_id = f"durable-{uuid.uuid4().hex[:8]}"
    signals = 25
    async with embedded_server(state, ui=False) as server:
        client = await Client.connect(server.address)
        # no worker: the run stays open and every acknowledged call is one write
        handle = await client.start_workflow(
            "nobody.serves.this", id=workflow_id, task_queue=f"q-{workflow_id}"
        )
        for number in range(signals):
            await handle.signal("poke", number)
        os.killpg(server.pid, signal.SIGKILL)  # no shutdown, no checkpoint
    with sqlite3.connect(state / "temporal.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    async with embedded_server(state, ui=False) as server:
        client = await Client.connect(server.address)
        events = [e async for e in client.get_workflow_handle(workflow_id).fetch_history_events()]
    kinds = [event.event_type for event in events]
    assert kinds[0] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    assert kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) == signals
