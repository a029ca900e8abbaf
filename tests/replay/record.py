"""Record the histories the replay test replays: real runs of each Pit workflow on a fresh dev
server, through a worker built with the `PitPlugin` (as `pit worker` is).

    python -m tests.replay.record            # every scenario
    python -m tests.replay.record dag_recovery arbiter

Writes `tests/replay/histories/<workflow>-<scenario>.json`. Record a history for a new
workflow path; never re-record one to make the replay test pass (see docs/python.md,
"Changing workflow code").
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from pit.client import PitClient
from pit.client.pool import registry_hosts
from pit.common.config import Settings, load_settings
from pit.dag.compiled import compile_graph
from pit.dag.graph import parse_dag
from pit.dag.run import DagRunInput
from pit.infra.temporal.connect import DATA_CONVERTER
from pit.infra.temporal.devserver import free_port, temporal_binary
from pit.infra.temporal.search_attributes import PIT_SEARCH_ATTRIBUTES
from pit.pool.spec import ModelSpec, PoolConfig, PrewarmOptions
from pit.stale.protocol import CleanupInput
from pit.workers import build_worker
from pit.workers.pool_host import pool_host
from tests.dag.support import ACTIVITIES

HISTORIES = Path(__file__).parent / "histories"
QUEUE = "replay"


async def _eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("the scenario did not reach its state")
        await asyncio.sleep(0.1)


async def _save(handle: WorkflowHandle[Any, Any], name: str) -> Path:
    history = await handle.fetch_history()
    path = HISTORIES / f"{name}.json"
    path.write_text(history.to_json())
    return path


async def dag_recovery(client: Client, settings: Settings, folder: Path) -> list[Path]:
    """Retries, skip, fallback, a child graph and continue-as-new, in one run."""
    log = str(folder / "log.jsonl")
    flaky = {"activity": "test.flaky", "retry": {"max_attempts": 3, "initial_interval": "100ms"}}
    data = {
        "name": "recovery",
        "nodes": [
            {"id": "retried", **flaky, "inputs": {"succeed_on": 2}},
            {"id": "skipped", **flaky, "inputs": {}, "on_failure": "skip"},
            {
                "id": "fell_back",
                **flaky,
                "inputs": {"kind": "validation"},
                "on_failure": {"fallback": {"activity": "pit.echo", "inputs": {"from": "fb"}}},
            },
            {
                "id": "child",
                "depends_on": ["retried"],
                "dag": {
                    "name": "inner",
                    "nodes": [
                        {"id": "one", "activity": "pit.echo", "inputs": {"n": 1}},
                        {
                            "id": "two",
                            "activity": "pit.echo",
                            "inputs": {"n": "${nodes.one.output.n}"},
                        },
                    ],
                },
            },
            *(
                {
                    "id": f"step{i}",
                    "activity": "test.record",
                    "depends_on": [f"step{i - 1}" if i else "child"],
                    "inputs": {"node": f"step{i}", "log": log},
                }
                for i in range(6)
            ),
        ],
    }
    run_id = f"recovery-{uuid.uuid4().hex[:6]}"
    plan = DagRunInput.for_plan(compile_graph(parse_dag(data)), continue_after_events=60)
    handle = await client.start_workflow("pit.dag", plan, id=run_id, task_queue=QUEUE)
    await handle.result()
    first_run = client.get_workflow_handle(run_id, run_id=handle.first_execution_run_id)
    child = client.get_workflow_handle(f"{run_id}.child")
    return [
        await _save(first_run, "dag-recovery-first-run"),
        await _save(handle, "dag-recovery-last-run"),
        await _save(child, "dag-recovery-child"),
    ]


async def dag_features(client: Client, settings: Settings, folder: Path) -> list[Path]:
    """A map (per-item retry and skip) spanning continue-as-new, a true and a false `when`,
    trigger rules, a cached node (stored, then hit by a second run) and an approval answered
    by the `approve` update while the run waits across hand-overs."""
    flaky = {"activity": "test.flaky", "retry": {"max_attempts": 2, "initial_interval": "100ms"}}
    data = {
        "name": f"features-{uuid.uuid4().hex[:6]}",
        "nodes": [
            {"id": "list", "activity": "pit.echo", "inputs": {"ok": [1, 2, 0, 1, 1, 1, 1, 1]}},
            {
                "id": "each",
                **flaky,
                "for_each": "${nodes.list.output.ok}",
                "max_parallel": 2,
                "inputs": {"succeed_on": "${item}"},
                "on_failure": "skip",
            },
            {"id": "big", "activity": "pit.echo", "when": "size(${nodes.each.output}) > 4"},
            {"id": "small", "activity": "pit.echo", "when": "size(${nodes.each.output}) < 4"},
            {"id": "after_small", "activity": "pit.echo", "depends_on": ["small"]},
            {
                "id": "report",
                "activity": "pit.echo",
                "depends_on": ["small"],
                "trigger": "all_done",
            },
            {
                "id": "cached",
                "activity": "pit.echo",
                "inputs": {"v": 1},
                "cache": {"ttl": "1h"},
            },
            {"id": "gate", "approval": {"prompt": "go with ${nodes.list.output.ok}?"}},
            {"id": "last", "activity": "pit.echo", "depends_on": ["gate", "each", "cached"]},
        ],
    }
    compiled = compile_graph(parse_dag(data))
    run_id = f"{data['name']}-1"
    plan = DagRunInput.for_plan(compiled, continue_after_events=40)
    handle = await client.start_workflow("pit.dag", plan, id=run_id, task_queue=QUEUE)
    pit = PitClient(client, settings)
    run = pit.runs.get(run_id)

    async def waiting() -> bool:
        status = await run.status()
        return status.nodes["each"].state.finished and "gate" in status.waiting_for_approval

    await _eventually(waiting)
    await run.approve("gate", by="recorder", comment="recorded")
    await handle.result()
    again = await pit.runs.start(compiled, id=f"{data['name']}-2", task_queue=QUEUE)
    await _eventually(lambda: _waits(again, "gate"))
    await again.approve("gate", by="recorder", approve=False)
    await again.result()
    first_run = client.get_workflow_handle(run_id, run_id=handle.first_execution_run_id)
    return [
        await _save(first_run, "dag-features-first-run"),
        await _save(handle, "dag-features-last-run"),
        await _save(again.workflow, "dag-features-cached-rejected"),
    ]


async def _waits(run: Any, node: str) -> bool:
    return node in (await run.status()).waiting_for_approval


async def arbiter(client: Client, settings: Settings, folder: Path) -> list[Path]:
    """Nodes waiting on three slots of an arbiter: signals both ways, grants, releases."""
    domain = f"replay-{uuid.uuid4().hex[:6]}"
    data = {
        "name": "slots",
        "arbiter": {"domain": domain, "config": {"resources": {"slots": 3}}},
        "nodes": [
            {
                "id": f"job{i}",
                "activity": "test.record",
                "inputs": {"node": f"job{i}", "log": str(folder / "log"), "seconds": 0.2},
                "resources": {"slots": 1},
                "priority": i % 3,
            }
            for i in range(8)
        ],
    }
    pit = PitClient(client, settings)
    run = await pit.runs.start(data, task_queue=QUEUE)
    await run.result()
    entity = client.get_workflow_handle(f"pit-arbiter-{domain}")
    await entity.terminate("recorded")
    return [await _save(run.workflow, "dag-resources"), await _save(entity, "arbiter")]


ONE_MODEL = PoolConfig(
    memory_budget=2 * 1024**3,
    models=(ModelSpec(id="llm", memory_bytes=1024**3, load_seconds=0.01),),
    prewarm=PrewarmOptions(enabled=False),
)
"""A host's pool in the pool scenarios: one small model that loads at once."""


async def pool_registry(client: Client, settings: Settings, folder: Path) -> list[Path]:
    """A host publishing its pool, and a model node placed and warmed on that host."""
    async with pool_host(
        client, settings, config=ONE_MODEL, name="replay-host", use_entry_points=False
    ) as host:
        assert host is not None and host.worker is not None
        async with host.worker:
            await _eventually(lambda: _has_host(client, "replay-host"))
            dag = {
                "name": "model",
                "nodes": [{"id": "ask", "activity": "pit.echo", "model": "llm"}],
            }
            run = await PitClient(client, settings).runs.start(dag, task_queue=QUEUE)
            await run.result()
    registry = client.get_workflow_handle(f"pit-pool-registry-{QUEUE}")
    await registry.terminate("recorded")
    return [await _save(run.workflow, "dag-model-node"), await _save(registry, "pool-registry")]


async def dag_model_hot(client: Client, settings: Settings, folder: Path) -> list[Path]:
    """Nodes on a hot model (its use in the node's activity; the second goes where the first
    found it hot, without a placement) and a local node."""
    async with pool_host(
        client, settings, config=ONE_MODEL, name="replay-hot", use_entry_points=False
    ) as host:
        assert host is not None and host.worker is not None
        async with host.worker:
            await host.pool.warm("llm")
            await _eventually(lambda: _has_hot(client, "replay-hot", "llm"))
            dag = {
                "name": "hot",
                "nodes": [
                    {"id": "ask", "activity": "pit.echo", "model": "llm"},
                    {"id": "again", "activity": "pit.echo", "model": "llm", "depends_on": ["ask"]},
                    {"id": "tidy", "activity": "pit.echo", "local": True, "depends_on": ["again"]},
                ],
            }
            run = await PitClient(client, settings).runs.start(dag, task_queue=QUEUE)
            await run.result()
    registry = client.get_workflow_handle(f"pit-pool-registry-{QUEUE}")
    await registry.terminate("recorded")
    return [await _save(run.workflow, "dag-model-hot")]


async def _has_hot(client: Client, host: str, model: str) -> bool:
    for snapshot in await registry_hosts(client, task_queue=QUEUE):
        found = snapshot.model(model) if snapshot.host == host else None
        if found is not None and found.state == "hot":
            return True
    return False


async def _has_host(client: Client, host: str) -> bool:
    return any(h.host == host for h in await registry_hosts(client, task_queue=QUEUE))


async def stale_cleanup(client: Client, settings: Settings, folder: Path) -> list[Path]:
    """Plan, wait for the confirmation signal, apply, report."""
    store = PitClient(client, settings).artifacts
    await store.put("old/report", b"old bytes")
    cleanup = CleanupInput(policy_text="delete: {max_age: 0s}\n", auto_apply_under=0)
    handle = await client.start_workflow(
        "pit.stale_cleanup", cleanup, id=f"cleanup-{uuid.uuid4().hex[:6]}", task_queue=QUEUE
    )

    async def waiting() -> bool:
        progress = await handle.query("progress")
        return bool(progress["stage"] == "awaiting_confirmation")

    await _eventually(waiting)
    await handle.signal("confirm", "recorder")
    await handle.result()
    return [await _save(handle, "stale-cleanup")]


async def stale_scheduled(client: Client, settings: Settings, folder: Path) -> list[Path]:
    """A scheduled cleanup run: it notes its schedule while it waits, then clears the note
    (the `pit-stale-schedule-note` patch)."""
    pit = PitClient(client, settings)
    await pit.artifacts.put("old/scheduled", b"old bytes")
    schedule_id = f"cleanup-{uuid.uuid4().hex[:6]}"
    await pit.stale.schedule("delete: {max_age: 0s}\n", schedule_id=schedule_id, trigger=True)

    async def waiting() -> bool:
        return (await pit.stale.progress(schedule_id)).stage == "awaiting_confirmation"

    async def noted() -> bool:
        return bool((await client.get_schedule_handle(schedule_id).describe()).schedule.state.note)

    await _eventually(waiting)
    await _eventually(noted)
    confirmed = await pit.stale.confirm(schedule_id)
    assert confirmed.run_id is not None
    handle = client.get_workflow_handle(confirmed.run_id)
    await handle.result()
    await client.get_schedule_handle(schedule_id).delete()
    return [await _save(handle, "stale-cleanup-scheduled")]


async def dag_child_tagged(client: Client, settings: Settings, folder: Path) -> list[Path]:
    """A child graph run started with PitKind, its DAG's search attributes and a memo (the
    `pit-child-dag-tags` patch)."""
    data = {
        "name": "tagged",
        "nodes": [
            {"id": "a", "activity": "pit.echo", "inputs": {"v": 1}},
            {
                "id": "inner",
                "inputs": {"v": "${nodes.a.output.v}"},
                "dag": {"name": "leafy", "nodes": [{"id": "leaf", "activity": "pit.echo"}]},
            },
        ],
    }
    pit = PitClient(client, settings)
    handle = await pit.runs.start(data, id=f"tagged-{uuid.uuid4().hex[:6]}", task_queue=QUEUE)
    await handle.result()
    return [await _save(handle.workflow, "dag-child-tagged")]


SCENARIOS = {
    "dag_recovery": dag_recovery,
    "dag_features": dag_features,
    "dag_child_tagged": dag_child_tagged,
    "arbiter": arbiter,
    "pool_registry": pool_registry,
    "dag_model_hot": dag_model_hot,
    "stale_cleanup": stale_cleanup,
    "stale_scheduled": stale_scheduled,
}


async def main(names: list[str]) -> None:
    HISTORIES.mkdir(parents=True, exist_ok=True)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_binary()),
        ip="127.0.0.1",
        port=free_port(),
        data_converter=DATA_CONVERTER,
        search_attributes=PIT_SEARCH_ATTRIBUTES,
        dev_server_extra_args=["--http-port", str(free_port()), "--metrics-port", str(free_port())],
    )
    folder = Path.cwd() / ".pit" / "replay-recording"
    folder.mkdir(parents=True, exist_ok=True)
    settings = load_settings(
        environ={"PIT_STATE_DIR": str(folder), "PIT_TEMPORAL__TASK_QUEUE": QUEUE}
    )
    try:
        worker = build_worker(
            env.client,
            settings,
            extra_activities=ACTIVITIES,
            task_queue=QUEUE,
            use_entry_points=False,
        )
        async with worker:
            for name in names or list(SCENARIOS):
                for path in await SCENARIOS[name](env.client, settings, folder):
                    print(f"recorded {path.relative_to(Path.cwd())}")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
