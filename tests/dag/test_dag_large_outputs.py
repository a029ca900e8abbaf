"""Outputs over 256 KiB travel through the artifact store (claim check): the next node gets
them as they are, and workflow history only holds a reference."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import Client

from pit.client.runs import start_run
from pit.common.config import load_settings
from pit.dag.graph import parse_dag
from pit.dag.status import RunState
from pit.infra.artifact_factory import open_artifact_store
from pit.infra.temporal.claim_check import LazyStore, claim_check_converter
from pit.infra.temporal.connect import connect
from pit.workers import pit_worker
from tests.dag.support import ACTIVITIES

pytestmark = pytest.mark.integration


async def test_big_output_reaches_the_next_node_and_stays_out_of_history(
    temporal_client: Client, task_queue: str, tmp_path: Path
) -> None:
    settings = load_settings(
        environ={}, cwd=tmp_path, overrides={"state_dir": str(tmp_path / ".pit")}
    )
    store = LazyStore(lambda: open_artifact_store(settings))
    address = temporal_client.service_client.config.target_host
    client = await connect(settings.temporal, address, data_converter=claim_check_converter(store))
    data = {
        "name": "big-output",
        "nodes": [
            {"id": "produce", "activity": "test.big", "inputs": {"bytes": 1_000_000}},
            {
                "id": "measure",
                "activity": "test.measure",
                "inputs": {"value": "${nodes.produce.output}"},
            },
        ],
    }
    try:
        async with (
            pit_worker(
                client,
                settings,
                extra_activities=ACTIVITIES,
                task_queue=task_queue,
                use_entry_points=False,
                artifacts=store,
            ) as worker,
            worker,
        ):
            handle = await start_run(client, parse_dag(data), task_queue=task_queue)
            # the result is a summary page (a 1 MB node fills one): read the rest too
            status = await asyncio.wait_for(handle.result(), 60)
            history = await handle.workflow.fetch_history()
    finally:
        await store.close()
    assert status.status is RunState.SUCCEEDED
    assert status.nodes["measure"].output == {"length": 1_000_000}
    assert len(status.nodes["produce"].output) == 1_000_000
    assert history.to_json_dict() and len(history.to_json()) < 200_000  # references, not bytes
    assert list((tmp_path / ".pit" / "artifacts").rglob("*")), "nothing landed in the store"
