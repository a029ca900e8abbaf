"""Cleanup never touches claim-checked Temporal payloads: after a cleanup that deletes and
purges everything else, an old run with claim-checked payloads still replays and answers its
queries; only a sweep past the namespace's retention, for payloads no kept run names, lets
them go."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from temporalio.client import Client
from temporalio.worker import Replayer

from pit.artifacts import payloads
from pit.artifacts.store import ArtifactStore
from pit.client.payloads import namespace_retention, sweep_payloads
from pit.client.runs import start_run
from pit.common.config import load_settings
from pit.dag.graph import parse_dag
from pit.dag.status import RunState
from pit.infra.artifact_factory import open_artifact_store
from pit.infra.stale_plans import open_stale_manager
from pit.infra.temporal.claim_check import PAYLOAD_PREFIX, LazyStore, claim_check_converter
from pit.infra.temporal.connect import connect
from pit.stale.policy import parse_policy
from pit.workers import PitPlugin, pit_worker
from tests.dag.support import ACTIVITIES

pytestmark = pytest.mark.integration

POLICY = "delete: {max_age: 1d}\ndemote: {cold: {idle_for: 1d}}\n"
"""Deletes every version a day old; what stays would go cold."""
BIG = {
    "name": "big-output",
    "nodes": [
        {"id": "produce", "activity": "test.big", "inputs": {"bytes": 400_000}},
        {
            "id": "measure",
            "activity": "test.measure",
            "inputs": {"value": "${nodes.produce.output}"},
        },
    ],
}


async def test_purge_after_cleanup_leaves_an_old_run_replayable_and_queryable(
    temporal_client: Client, task_queue: str, tmp_path: Path
) -> None:
    settings = load_settings(environ={}, cwd=tmp_path, overrides={"state_dir": str(tmp_path)})
    lazy = LazyStore(lambda: open_artifact_store(settings))
    address = temporal_client.service_client.config.target_host
    client = await connect(settings.temporal, address, data_converter=claim_check_converter(lazy))
    worker = pit_worker(
        client,
        settings,
        extra_activities=ACTIVITIES,
        task_queue=task_queue,
        use_entry_points=False,
        artifacts=lazy,
    )
    try:
        async with worker as running, running:
            handle = await start_run(client, parse_dag(BIG), task_queue=task_queue)
            assert (await asyncio.wait_for(handle.result(), 60)).status is RunState.SUCCEEDED
            history = await handle.workflow.fetch_history()
            store = lazy.get()
            stored = {m.name for m in await payloads.payload_manifests(store)}
            named = set().union(
                *(payloads.references(e.SerializeToString()) for e in history.events)
            )
            assert named and named <= stored  # the run's history holds claims, not bytes

            await store.put("team/old", b"an ordinary artifact" * 100)
            future = datetime.now(UTC) + timedelta(days=400)
            await cleanup_everything(store, settings, future)
            assert {m.name for m in await payloads.payload_manifests(store)} == stored
            assert not [v async for v in store.blobs.list_tombstones()]

            # the old run, read again from its history: nothing missing
            status = await handle.status()  # queries the closed run: the worker replays it
            assert status.status is RunState.SUCCEEDED
            assert status.nodes["measure"].output == {"length": 400_000}
            replayer = Replayer(workflows=[], plugins=[PitPlugin(settings, use_entry_points=False)])
            replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
            assert replayed.replay_failure is None

            # a sweep keeps what a run Temporal still keeps names, however old
            report = await sweep_payloads(client, store, now=future)
            assert report.deleted == [] and report.kept_referenced >= len(named)
            assert report.retention_seconds == (await namespace_retention(client)).total_seconds()
    finally:
        await lazy.close()


async def cleanup_everything(store: ArtifactStore, settings: object, now: datetime) -> None:
    """Plan, apply and purge with a policy that deletes every version a day old."""
    manager = open_stale_manager(store, settings)  # type: ignore[arg-type]
    plan, _ = await manager.plan(parse_policy(yaml.safe_load(POLICY)), POLICY, now)
    assert [item.name for item in plan.items] == ["team/old"]  # no payload in any plan
    await manager.apply(plan.plan_id, now)
    purged = await manager.purge(now + timedelta(days=30), min_blob_age=timedelta(0))
    assert purged.removed == [("team/old", 1)]


async def test_a_sweep_takes_only_unreferenced_payloads_older_than_the_retention(
    tmp_path: Path,
) -> None:
    settings = load_settings(environ={}, cwd=tmp_path, overrides={"state_dir": str(tmp_path)})
    async with open_artifact_store(settings) as store:
        names = [f"temporal/payloads/ab/{digit * 64}" for digit in "0123"]
        for name in names:
            await store.put(name, name.encode())
        now = datetime.now(UTC)
        young = await payloads.sweep(store, names[:1], now=now, retention=timedelta(days=1))
        assert young.deleted == [] and young.kept_young == 3 and young.kept_referenced == 1
        later = now + timedelta(days=2)
        dry = await payloads.sweep(
            store, names[:1], now=later, retention=timedelta(days=1), dry_run=True
        )
        assert [name for name, _ in dry.deleted] == names[1:]
        assert len(await payloads.payload_manifests(store)) == 4  # a dry run changes nothing
        swept = await payloads.sweep(store, names[:1], now=later, retention=timedelta(days=1))
        assert [name for name, _ in swept.deleted] == names[1:]
        assert await payloads.keep(store, swept.deleted, {names[2]}) == 1  # named after all
        left = {m.name for m in await payloads.payload_manifests(store)}
        assert left == {names[0], names[2]}


async def test_sweep_payloads_from_the_command_line(
    temporal_client: Client, tmp_path: Path
) -> None:
    address = temporal_client.service_client.config.target_host
    settings = load_settings(environ={}, cwd=tmp_path, overrides={"state_dir": str(tmp_path)})
    async with open_artifact_store(settings) as store:
        await store.put(f"temporal/payloads/ab/{'a' * 64}", b"claim-checked")
    command = [sys.executable, "-m", "pit", "--state-dir", str(tmp_path), "--temporal", address]
    command += ["stale", "sweep-payloads", "--now", "2099-01-01T00:00:00Z", "--dry-run", "--json"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIT_")}
    done = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["deleted"] == [f"temporal/payloads/ab/{'a' * 64}@1"]  # named by no kept run
    assert report["retention_seconds"] > 0
    async with open_artifact_store(settings) as store:
        assert len(await payloads.payload_manifests(store)) == 1  # a dry run


def test_the_claim_check_writes_where_cleanup_looks() -> None:
    assert f"{PAYLOAD_PREFIX}/" == payloads.PAYLOADS_PREFIX
