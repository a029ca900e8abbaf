"""Pools across hosts on a real Temporal dev server: publication, placement of DAG nodes with a
`model`, warm / cool / status from the CLI, and hosts that leave or vanish."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.client import Client

from pit.cli import run
from pit.client.pool import place_model, publish_host, registry_hosts
from pit.client.runs import run_status, start_run
from pit.common.config import Settings, load_settings
from pit.dag.graph import parse_dag
from pit.dag.status import RunState
from pit.pool import PoolConfig
from pit.pool.placement import HostModel, HostSnapshot, host_queue
from pit.workers import build_worker
from pit.workers.pool_host import PoolHost, pool_host
from tests.pool.support import models

pytestmark = pytest.mark.integration


@activity.defn(name="test.where")
async def where(inputs: dict[str, Any]) -> str:
    """The task queue this node ran on: which host it was."""
    return activity.info().task_queue


def _settings(tmp_path: Path, task_queue: str) -> Settings:
    return load_settings(
        environ={
            "PIT_TEMPORAL__TASK_QUEUE": task_queue,
            "PIT_POOL__PUBLISH_INTERVAL": "200ms",
        },
        cwd=tmp_path,
    )


async def _eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


class Fleet:
    def __init__(self, client: Client, settings: Settings, suffix: str) -> None:
        self.client = client
        self.settings = settings
        self.queue = settings.temporal.task_queue
        self.suffix = suffix
        self.hosts: dict[str, PoolHost] = {}
        self._stack = contextlib.AsyncExitStack()

    def name(self, short: str) -> str:
        return f"{short}-{self.suffix}"

    async def add(self, short: str, config: PoolConfig) -> PoolHost:
        name = self.name(short)
        entered = await self._stack.enter_async_context(
            pool_host(
                self.client,
                self.settings,
                config=config,
                name=name,
                extra_activities=[where],
                use_entry_points=False,
            )
        )
        assert entered is not None
        host = entered
        assert host.worker is not None
        await self._stack.enter_async_context(host.worker)
        self.hosts[short] = host
        await _eventually(lambda: self.published(name))
        return host

    async def published(self, name: str) -> bool:
        hosts = await registry_hosts(self.client, task_queue=self.queue)
        return any(h.host == name and h.alive(time.time()) for h in hosts)

    async def state_on(self, short: str, model: str) -> str | None:
        for snapshot in await registry_hosts(self.client, task_queue=self.queue):
            if snapshot.host == self.name(short):
                found = snapshot.model(model)
                return found.state if found else None
        return None

    async def aclose(self) -> None:
        await self._stack.aclose()


@pytest_asyncio.fixture
async def fleet(temporal_client: Client, task_queue: str, tmp_path: Path) -> AsyncIterator[Fleet]:
    settings = _settings(tmp_path, task_queue)
    default = build_worker(
        temporal_client, settings, extra_activities=[where], use_entry_points=False
    )
    fleet = Fleet(temporal_client, settings, task_queue[-8:])
    async with default:
        try:
            yield fleet
        finally:
            await fleet.aclose()


def _config(budget: int, *specs: tuple[str, int]) -> PoolConfig:
    declared = [
        m.model_copy(update={"id": name})
        for (name, _), m in zip(specs, models(*[s for _, s in specs]), strict=True)
    ]
    return PoolConfig(memory_budget=budget, models=tuple(declared))


async def test_dag_nodes_run_where_their_model_is_hot_and_cold_models_warm_once(
    fleet: Fleet,
) -> None:
    alpha = await fleet.add("alpha", _config(1000, ("llm", 600), ("embed", 100)))
    beta = await fleet.add("beta", _config(2000, ("llm", 600), ("embed", 100), ("ocr", 100)))
    await alpha.pool.warm("llm")
    await _eventually(lambda: _is(fleet.state_on("alpha", "llm"), "hot"))

    dag = parse_dag(
        {
            "name": "models",
            "nodes": [
                {"id": "chat", "activity": "test.where", "model": "llm"},
                {"id": "read", "activity": "test.where", "model": "ocr"},
                {"id": "vec", "activity": "test.where", "model": "embed"},
                {"id": "vec2", "activity": "test.where", "model": "embed"},
            ],
        }
    )
    handle = await start_run(fleet.client, dag, task_queue=fleet.queue)
    status = await asyncio.wait_for(handle.result(), 60)

    assert status.status is RunState.SUCCEEDED
    nodes = status.nodes
    assert nodes["chat"].output == alpha.queue and nodes["chat"].host == alpha.name
    assert nodes["read"].output == beta.queue  # only beta serves ocr
    # embed was cold on both: beta has more free memory, and both asks load it there once
    assert nodes["vec"].output == nodes["vec2"].output == beta.queue
    assert beta.pool.state("embed") == "hot" and alpha.pool.state("embed") == "cold"
    assert alpha.pool.stats.hits >= 1  # the DAG's use of llm counted as a hit on alpha
    assert beta.pool.stats.loads == 2  # ocr and embed, each loaded once


async def test_two_hundred_concurrent_places_are_all_answered(fleet: Fleet) -> None:
    """Without a bound, most of 200 concurrent `place` updates to one registry failed
    (`workflow update was aborted` / too many in flight)."""
    alpha = await fleet.add("alpha", _config(1000, ("llm", 600)))
    await alpha.pool.warm("llm")
    await _eventually(lambda: _is(fleet.state_on("alpha", "llm"), "hot"))
    placed = await asyncio.gather(
        *(place_model(fleet.client, "llm", task_queue=fleet.queue) for _ in range(200))
    )
    assert {(p.host, p.reason) for p in placed} == {(alpha.name, "hot")}


async def test_two_hundred_model_nodes_placing_at_once_all_run(fleet: Fleet) -> None:
    """More concurrent `place` updates than Temporal's 10 in flight per workflow: each is
    asked again while refused, and every node runs where its model is hot."""
    alpha = await fleet.add("alpha", _config(1000, ("llm", 600)))
    await alpha.pool.warm("llm")
    await _eventually(lambda: _is(fleet.state_on("alpha", "llm"), "hot"))
    nodes = [{"id": f"n{i}", "activity": "test.where", "model": "llm"} for i in range(200)]
    handle = await start_run(
        fleet.client, parse_dag({"name": "crowd", "nodes": nodes}), task_queue=fleet.queue
    )
    status = await asyncio.wait_for(handle.result(), 120)
    assert status.status is RunState.SUCCEEDED
    outputs = {n.output for n in (await run_status(fleet.client, handle.id)).nodes.values()}
    assert outputs == {alpha.queue}
    assert alpha.pool.stats.loads == 1


async def _is(value: Awaitable[str | None], expected: str) -> bool:
    return await value == expected


async def test_a_host_that_leaves_or_stops_publishing_gets_no_more_work(fleet: Fleet) -> None:
    alpha = await fleet.add("alpha", _config(1000, ("llm", 600)))
    ghost = fleet.name("ghost")
    snapshot = HostSnapshot(
        host=ghost,
        queue=host_queue(ghost),
        budget_bytes=10_000,
        reserved_bytes=600,
        interval=0.2,
        models=(HostModel(id="llm", state="hot", memory_bytes=600, since=time.time()),),
    )
    await publish_host(fleet.client, snapshot, task_queue=fleet.queue)
    placed = await place_model(fleet.client, "llm", task_queue=fleet.queue)
    assert placed.host == ghost  # hot there, and it has just published

    await asyncio.sleep(0.8)  # three publication intervals without a word from the ghost
    placed = await place_model(fleet.client, "llm", task_queue=fleet.queue)
    assert placed.host == alpha.name

    await fleet.aclose()  # alpha leaves the registry on the way out
    hosts = await registry_hosts(fleet.client, task_queue=fleet.queue)
    assert alpha.name not in {h.host for h in hosts}


def _pit(address: str, *args: str) -> Callable[[], int]:
    return lambda: run(["--temporal", address, "pool", *args])


async def test_cli_status_warm_and_cool(
    fleet: Fleet,
    temporal_client: Client,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIT_TEMPORAL__TASK_QUEUE", fleet.queue)
    address = temporal_client.service_client.config.target_host
    alpha = await fleet.add("alpha", _config(1000, ("llm", 600), ("embed", 100)))
    capsys.readouterr()

    assert await asyncio.to_thread(_pit(address, "warm", "embed", "--json")) == 0
    (warmed,) = json.loads(capsys.readouterr().out)["hosts"]
    assert (warmed["host"], warmed["id"], warmed["state"]) == (alpha.name, "embed", "hot")
    await _eventually(lambda: _is(fleet.state_on("alpha", "embed"), "hot"))

    assert await asyncio.to_thread(_pit(address, "status", "--json")) == 0
    shown = json.loads(capsys.readouterr().out)["hosts"]
    mine = next(h for h in shown if h["host"] == alpha.name)
    assert mine["alive"] is True and mine["queue"] == alpha.queue
    states = {m["id"]: (m["state"], m["memory_bytes"]) for m in mine["models"]}
    assert states == {"llm": ("cold", 600), "embed": ("hot", 100)}

    assert await asyncio.to_thread(_pit(address, "cool", "embed", "--json")) == 0
    cooled = json.loads(capsys.readouterr().out)["hosts"]
    assert [(c["host"], c["cooled"]) for c in cooled] == [(alpha.name, True)]
    assert alpha.pool.state("embed") in ("cooling", "cold")

    assert await asyncio.to_thread(_pit(address, "warm", "nope")) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error == ["pit: error: no live pool host serves model 'nope'"]


ROOT = Path(__file__).resolve().parents[2]


def _worker_process(address: str, queue: str, env_extra: dict[str, str]) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIT_")}
    env |= {"PYTHONPATH": str(ROOT), **env_extra}
    return subprocess.Popen(
        [sys.executable, "-m", "pit", "--temporal", address, "worker", "--task-queue", queue],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_pit_worker_hosts_the_models_file_and_leaves_on_sigterm(
    temporal_client: Client, task_queue: str, tmp_path: Path
) -> None:
    models_file = tmp_path / "models.yaml"
    models_file.write_text("- {id: llm, memory_bytes: 1GiB, load_seconds: 0.05}\n")
    host = f"proc-{task_queue[-8:]}"
    address = temporal_client.service_client.config.target_host
    worker = _worker_process(
        address,
        task_queue,
        {
            "PIT_POOL__MODELS_FILE": str(models_file),
            "PIT_POOL__HOST": host,
            "PIT_POOL__MEMORY_BUDGET": "2GiB",
            "PIT_POOL__PUBLISH_INTERVAL": "200ms",
        },
    )
    try:

        async def live() -> bool:
            hosts = await registry_hosts(temporal_client, task_queue=task_queue)
            return any(h.host == host and h.alive(time.time()) for h in hosts)

        await _eventually(live, timeout=30)
        dag = parse_dag(
            {"name": "one", "nodes": [{"id": "n", "activity": "pit.echo", "model": "llm"}]}
        )
        handle = await start_run(temporal_client, dag, task_queue=task_queue)
        status = await asyncio.wait_for(handle.result(), 60)
        assert status.status is RunState.SUCCEEDED and status.nodes["n"].host == host
        await _eventually(lambda: _hot_on(temporal_client, task_queue, host, "llm"))
    finally:
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=30)
    assert worker.returncode == 0, stderr
    assert f"hosting 1 models as '{host}'" in stderr
    settings = load_settings(environ={}, cwd=tmp_path)
    async with build_worker(temporal_client, settings, task_queue=task_queue):  # the registry's
        hosts = await registry_hosts(temporal_client, task_queue=task_queue)
    assert host not in {h.host for h in hosts}


async def _hot_on(client: Client, queue: str, host: str, model: str) -> bool:
    for snapshot in await registry_hosts(client, task_queue=queue):
        found = snapshot.model(model) if snapshot.host == host else None
        if found is not None:
            return found.state == "hot"
    return False


def test_pit_worker_with_a_missing_models_file_is_bad_input(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIT_")}
    env |= {"PYTHONPATH": str(ROOT), "PIT_POOL__MODELS_FILE": str(tmp_path / "none.yaml")}
    result = subprocess.run(
        [sys.executable, "-m", "pit", "--temporal", "127.0.0.1:1", "worker"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "pool.models_file" in result.stderr and "none.yaml" in result.stderr


async def test_the_documented_example_runs_on_a_host_of_the_example_models(
    fleet: Fleet,
    temporal_client: Client,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pit.pool.trace import read_models

    examples = ROOT / "examples" / "pool"
    config = PoolConfig(models=read_models(examples / "host.models.yaml"))
    host = await fleet.add("laptop", config)
    monkeypatch.setenv("PIT_TEMPORAL__TASK_QUEUE", fleet.queue)
    address = temporal_client.service_client.config.target_host
    argv = ["--temporal", address, "run", str(examples / "models.dag.yaml")]
    code = await asyncio.to_thread(run, [*argv, "--input", "question=why", "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    nodes = json.loads(out)["nodes"]
    assert {node["host"] for node in nodes.values()} == {host.name}
    assert nodes["answer"]["output"]["context"]["hits"]["text"] == "why"
    assert host.pool.state("chat") == "hot"


async def test_a_host_that_publishes_but_never_picks_up_is_passed_over(fleet: Fleet) -> None:
    alpha = await fleet.add("alpha", _config(1000, ("llm", 600)))
    ghost = fleet.name("ghost")
    snapshot = HostSnapshot(
        host=ghost,
        queue=host_queue(ghost),  # nobody polls it
        budget_bytes=10_000,
        reserved_bytes=600,
        interval=0.2,
        models=(HostModel(id="llm", state="hot", memory_bytes=600, since=time.time()),),
    )

    async def haunt() -> None:
        while True:
            await publish_host(fleet.client, snapshot, task_queue=fleet.queue)
            await asyncio.sleep(0.1)

    haunting = asyncio.create_task(haunt())
    try:
        await asyncio.sleep(0.3)
        dag = parse_dag(
            {
                "name": "ghosted",
                "defaults": {"model_pickup": "1s"},
                "nodes": [{"id": "n", "activity": "test.where", "model": "llm"}],
            }
        )
        handle = await start_run(fleet.client, dag, task_queue=fleet.queue)
        status = await asyncio.wait_for(handle.result(), 60)
    finally:
        haunting.cancel()
    assert status.status is RunState.SUCCEEDED
    assert status.nodes["n"].output == alpha.queue and status.nodes["n"].host == alpha.name


async def test_a_model_no_host_serves_fails_the_node_with_a_clear_error(fleet: Fleet) -> None:
    await fleet.add("alpha", _config(1000, ("llm", 600)))
    dag = parse_dag(
        {
            "name": "missing",
            "nodes": [
                {"id": "n", "activity": "test.where", "model": "vision"},
                {"id": "m", "activity": "test.where", "model": "vision", "on_failure": "skip"},
            ],
        }
    )
    handle = await start_run(fleet.client, dag, task_queue=fleet.queue)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(handle.result(), 60)
    from pit.client.runs import run_status

    status = await run_status(fleet.client, handle.id)
    assert status.status is RunState.FAILED
    assert status.nodes["n"].error == "no live pool host serves model 'vision'"
    assert status.nodes["n"].error_type == "not_found"
    assert status.nodes["m"].state == "skipped"


async def test_cli_warm_on_a_host_that_never_answers_says_so(
    fleet: Fleet,
    temporal_client: Client,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIT_TEMPORAL__TASK_QUEUE", fleet.queue)
    address = temporal_client.service_client.config.target_host
    ghost = fleet.name("ghost")
    snapshot = HostSnapshot(
        host=ghost,
        queue=host_queue(ghost),  # nobody polls it
        budget_bytes=10_000,
        reserved_bytes=0,
        interval=60,
        models=(HostModel(id="llm", state="cold", memory_bytes=600, since=time.time()),),
    )
    await publish_host(fleet.client, snapshot, task_queue=fleet.queue)
    capsys.readouterr()
    code = await asyncio.to_thread(_pit(address, "warm", "llm", "--host", ghost, "--wait", "1"))
    assert code == 1
    assert capsys.readouterr().err.strip() == (
        f"pit: error: {host_queue(ghost)}: the host did not answer within 1s"
    )


async def test_a_host_configured_by_settings_loads_its_model_through_ollama(
    temporal_client: Client, task_queue: str, tmp_path: Path
) -> None:
    """Nothing but `[pool]` settings: the models file names the runtime and its URL, and a
    DAG node with that model makes the host load it over Ollama's API."""
    from tests.pool.runtime_fakes import FakeOllama

    ollama = FakeOllama({"llama3.2:3b": (3 * 1024**3, 2 * 1024**3)})
    await ollama.start()
    models_file = tmp_path / "models.yaml"
    models_file.write_text(
        "- id: chat\n  memory_bytes: 4GiB\n"
        f"  loader: {{kind: ollama, url: '{ollama.url}', model: 'llama3.2:3b'}}\n"
    )
    settings = load_settings(
        environ={
            "PIT_TEMPORAL__TASK_QUEUE": task_queue,
            "PIT_POOL__PUBLISH_INTERVAL": "200ms",
            "PIT_POOL__MODELS_FILE": str(models_file),
            "PIT_POOL__HOST": f"ollama-{task_queue[-8:]}",
            "PIT_POOL__HOST_MEMORY_BUDGET": "16GiB",
        },
        cwd=tmp_path,
    )
    try:
        async with (
            pool_host(temporal_client, settings, use_entry_points=False) as host,
            build_worker(temporal_client, settings, use_entry_points=False),
        ):
            assert host is not None and host.worker is not None
            assert host.pool.host_budget == 16 * 1024**3
            async with host.worker:
                dag = parse_dag(
                    {"name": "o", "nodes": [{"id": "n", "activity": "pit.echo", "model": "chat"}]}
                )
                handle = await start_run(temporal_client, dag, task_queue=task_queue)
                status = await asyncio.wait_for(handle.result(), 60)
        assert status.status is RunState.SUCCEEDED
        loads = [body for method, path, _, body in ollama.calls if path == "/api/generate"]
        assert loads and loads[0]["model"] == "llama3.2:3b" and "keep_alive" in loads[0]
    finally:
        await ollama.stop()


async def test_a_hot_model_node_runs_without_a_warm_activity_and_still_counts_as_a_use(
    fleet: Fleet,
) -> None:
    alpha = await fleet.add("alpha", _config(1000, ("llm", 600), ("embed", 100)))
    await alpha.pool.warm("llm")
    await alpha.pool.warm("embed")
    await _eventually(lambda: _is(fleet.state_on("alpha", "embed"), "hot"))
    uses: list[tuple[str, str | None]] = []
    alpha.pool.add_acquire_listener(lambda model, session, hit: uses.append((model, session)))
    chain = [
        {"id": "a", "activity": "test.where", "model": "llm"},
        {"id": "b", "activity": "test.where", "model": "embed", "depends_on": ["a"]},
        {"id": "c", "activity": "test.where", "model": "llm", "depends_on": ["b"]},
    ]
    handle = await start_run(
        fleet.client, parse_dag({"name": "hot", "nodes": chain}), task_queue=fleet.queue
    )
    status = await asyncio.wait_for(handle.result(), 60)

    assert status.status is RunState.SUCCEEDED
    assert {node.output for node in status.nodes.values()} == {alpha.queue}
    scheduled = [
        event.activity_task_scheduled_event_attributes.activity_type.name
        async for event in fleet.client.get_workflow_handle(handle.id).fetch_history_events()
        if event.HasField("activity_task_scheduled_event_attributes")
    ]
    assert "pit.pool.warm" not in scheduled
    assert scheduled.count("test.where") == 3
    # c went where the run had found llm hot, without asking the registry again
    assert scheduled.count("pit.pool.place") == 2
    assert (
        status.nodes["c"].reason
        == f"model llm on {alpha.name}: hot there (placed earlier in this run)"
    )
    # the host saw the run's sequence of models, as the run's uses (its predictor's input)
    assert [use for use in uses if use[1] == handle.id] == [
        ("llm", handle.id),
        ("embed", handle.id),
        ("llm", handle.id),
    ]


async def test_concurrent_nodes_on_a_model_are_placed_not_sent_after_the_first(
    fleet: Fleet,
) -> None:
    alpha = await fleet.add("alpha", _config(1000, ("llm", 600)))
    await alpha.pool.warm("llm")
    await _eventually(lambda: _is(fleet.state_on("alpha", "llm"), "hot"))
    nodes = [
        {"id": "first", "activity": "test.where", "model": "llm"},
        *(
            {"id": f"then{i}", "activity": "test.where", "model": "llm", "depends_on": ["first"]}
            for i in range(3)
        ),
    ]
    handle = await start_run(
        fleet.client, parse_dag({"name": "fan", "nodes": nodes}), task_queue=fleet.queue
    )
    status = await asyncio.wait_for(handle.result(), 60)

    assert status.status is RunState.SUCCEEDED
    reasons = sorted(node.reason or "" for node in status.nodes.values())
    # one of the three reuses where `first` ran; the two started while it ran ask the registry
    assert sum("placed earlier" in reason for reason in reasons) == 1
    scheduled = [
        event.activity_task_scheduled_event_attributes.activity_type.name
        async for event in fleet.client.get_workflow_handle(handle.id).fetch_history_events()
        if event.HasField("activity_task_scheduled_event_attributes")
    ]
    assert scheduled.count("pit.pool.place") == 3


async def test_a_map_nodes_items_each_run_where_the_model_is_hot(fleet: Fleet) -> None:
    alpha = await fleet.add("alpha", _config(1000, ("llm", 600)))
    dag = parse_dag(
        {
            "name": "mapped-model",
            "nodes": [
                {
                    "id": "each",
                    "activity": "test.where",
                    "model": "llm",
                    "for_each": list(range(6)),
                    "max_parallel": 3,
                },
            ],
        }
    )
    handle = await start_run(fleet.client, dag, task_queue=fleet.queue)
    status = await asyncio.wait_for(handle.result(), 60)
    assert status.status is RunState.SUCCEEDED, status.nodes
    assert status.nodes["each"].output == [alpha.queue] * 6
    items = await handle.items("each")
    assert all(item.host == alpha.name for item in items)
