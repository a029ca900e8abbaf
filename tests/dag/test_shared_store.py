"""One claim-check store per deployment: a client and a worker with different state dirs share
an S3 store and a big run goes through; with stores that differ the client is refused before
anything starts."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import boto3
import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from pit.cli import run
from pit.client import PitClient
from pit.client._shared_store import worker_stores
from pit.common.config import Settings, load_settings
from pit.common.errors import InvalidInputError
from pit.dag.status import RunState
from pit.infra.temporal.claim_check import PAYLOAD_PREFIX
from pit.workers import PitPlugin, build_worker, local_pit

pytestmark = pytest.mark.integration

BIG = 320 * 1024

DAG = {
    "name": "big-input",
    "nodes": [{"id": "echo", "activity": "pit.echo", "inputs": {"blob": "${inputs.blob}"}}],
}


def _settings(state_dir: Path, address: str, **storage: str) -> Settings:
    overrides: dict[str, object] = {"state_dir": str(state_dir), "temporal.address": address}
    overrides.update({f"storage.{key}": value for key, value in storage.items()})
    return load_settings(environ={}, cwd=state_dir.parent, overrides=overrides)


async def _until_polled(client: Client, task_queue: str) -> dict[str, str]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = await worker_stores(client, task_queue)
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"no Pit worker polled {task_queue} within 30 s")


async def test_big_input_started_on_one_machine_runs_on_a_worker_of_another(
    temporal_client: Client, task_queue: str, tmp_path: Path, s3_endpoint: str
) -> None:
    address = temporal_client.service_client.config.target_host
    bucket = f"pit-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.create_bucket(Bucket=bucket)
    shared = {"url": f"s3://{bucket}/team", "s3_endpoint": s3_endpoint}
    machine_a = _settings(tmp_path / "a" / ".pit", address, **shared)
    machine_b = _settings(tmp_path / "b" / ".pit", address, **shared)
    blob = "y" * BIG
    async with local_pit(
        machine_b, worker=False, plugin=PitPlugin(machine_b, use_entry_points=False)
    ) as worker_side:
        assert worker_side.temporal is not None
        async with build_worker(worker_side.temporal, machine_b, task_queue=task_queue):
            stores = await _until_polled(worker_side.temporal, task_queue)
            assert set(stores.values()) == {f"s3://{bucket}/team/"}
            async with await PitClient.connect(machine_a) as client_side:
                handle = await client_side.runs.start(
                    DAG, inputs={"blob": blob}, task_queue=task_queue
                )
                status = await asyncio.wait_for(handle.result(), 60)
    assert status.status is RunState.SUCCEEDED, status
    assert status.nodes["echo"].output == {"blob": blob}
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
    ]
    assert any(f"manifests/{PAYLOAD_PREFIX}/" in key for key in keys), keys
    assert not (tmp_path / "a" / ".pit" / "artifacts").exists()
    assert not (tmp_path / "b" / ".pit" / "artifacts").exists()


async def test_a_big_input_the_workers_could_not_read_is_refused_before_starting(
    temporal_client: Client,
    task_queue: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    address = temporal_client.service_client.config.target_host
    machine_a = _settings(tmp_path / "a" / ".pit", address)
    machine_b = _settings(tmp_path / "b" / ".pit", address)
    run_id = f"never-{uuid.uuid4().hex[:8]}"
    dag_file = tmp_path / "dag.json"
    dag_file.write_text(json.dumps(DAG))
    monkeypatch.setenv("PIT_TEMPORAL__TASK_QUEUE", task_queue)
    plugin = PitPlugin(machine_b, use_entry_points=False)
    async with local_pit(machine_b, worker=False, plugin=plugin) as worker_side:
        assert worker_side.temporal is not None
        async with build_worker(worker_side.temporal, machine_b, task_queue=task_queue):
            await _until_polled(worker_side.temporal, task_queue)
            async with await PitClient.connect(machine_a) as client_side:
                with pytest.raises(InvalidInputError) as refused:
                    await client_side.runs.start(
                        DAG, inputs={"blob": "y" * BIG}, task_queue=task_queue, id=run_id
                    )
                # an input that stays in history needs no shared store: it runs
                small = await client_side.runs.start(
                    DAG, inputs={"blob": "small"}, task_queue=task_queue
                )
                small_status = await asyncio.wait_for(small.result(), 60)
            # the CLI says so in one line, exit 2
            capsys.readouterr()
            code = await asyncio.to_thread(
                run,
                [
                    *("--temporal", address, "--state-dir", str(tmp_path / "a" / ".pit")),
                    *("run", str(dag_file), "--input", f"blob={'y' * BIG}", "--id", run_id),
                ],
            )
            err = capsys.readouterr().err
    with pytest.raises(RPCError) as missing:
        await temporal_client.get_workflow_handle(run_id).describe()
    assert missing.value.status is RPCStatusCode.NOT_FOUND
    assert small_status.status is RunState.SUCCEEDED
    assert code == 2 and err.count("\n") == 1 and "storage.url: " in err, err
    message = str(refused.value)
    assert message.startswith("storage.url: ") and "\n" not in message
    assert str(tmp_path / "a" / ".pit" / "artifacts") in message
    assert str(tmp_path / "b" / ".pit" / "artifacts") in message
