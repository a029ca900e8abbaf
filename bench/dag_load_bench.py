"""How long a big DAG takes to parse, start and load in the workflow, at sizes up to and past
the node limit, on the embedded dev server; the baseline is what the workflow did before it
received the DAG compiled (validate the whole spec and check the graph on every task that
loads it), measured in the same run.

    python -m bench.dag_load_bench                  # 20,000 / 50,000 / 100,000 nodes, a 20k run
    python -m bench.dag_load_bench --quick          # 2,000 / 5,000 nodes, a 2k run
    python -m bench.dag_load_bench --sizes 20000 --run 20000

"Load in the workflow" is the first workflow task, from its WorkflowTaskStarted to its
WorkflowTaskCompleted event: unpacking the input, building the run's state and starting the
first nodes (as many as may run). "After continue-as-new" is the same for a run that starts
carrying the state of every node (all but the last finished), the heaviest hand-over a run
makes. Sizes over the limit are measured with the limit lifted in this process only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import yaml
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

import pit.dag.graph
import pit.dag.limits
from bench._report import report
from bench.dag_bench import lanes
from pit.client.runs import prepare_run, start_run
from pit.common.config import load_settings
from pit.common.files import parse_yaml, read_structured
from pit.dag.compiled import compile_graph
from pit.dag.graph import check_graph, parse_dag
from pit.dag.run import DAG_WORKFLOW, CarriedState, DagRunInput
from pit.dag.scheduler import Scheduler
from pit.dag.spec import DagSpec
from pit.dag.status import DagStatus, NodeState, NodeStatus, RunState
from pit.infra.temporal.connect import connect
from pit.infra.temporal.devserver import embedded_server
from pit.workers import build_worker

T = TypeVar("T")


def timed(action: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = action()
    return value, time.perf_counter() - started


async def timed_async(action: Callable[[], Awaitable[T]]) -> tuple[T, float]:
    started = time.perf_counter()
    value = await action()
    return value, time.perf_counter() - started


@contextmanager
def limits_lifted() -> Iterator[None]:
    saved = (pit.dag.limits.MAX_NODES, pit.dag.graph.MAX_NODES, pit.dag.limits.MAX_RUN_INPUT_BYTES)
    pit.dag.limits.MAX_NODES = pit.dag.graph.MAX_NODES = 10_000_000
    pit.dag.limits.MAX_RUN_INPUT_BYTES = 1 << 40
    try:
        yield
    finally:
        (pit.dag.limits.MAX_NODES, pit.dag.graph.MAX_NODES) = saved[:2]
        pit.dag.limits.MAX_RUN_INPUT_BYTES = saved[2]


def parse_times(data: dict[str, Any], folder: Path) -> dict[str, float]:
    """Client side: read the file, validate and check, compile and pack."""
    as_json, as_yaml = folder / "dag.json", folder / "dag.yaml"
    as_json.write_text(json.dumps(data))
    as_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    # YAML over the reader's 1 MiB cap is refused as a file: time the parser on its text
    text = as_yaml.read_text()
    _, read_yaml = timed(lambda: parse_yaml(text, str(as_yaml)))
    raw, read_json = timed(lambda: read_structured(as_json))
    graph, check = timed(lambda: parse_dag(raw))
    prepared, compile_pack = timed(lambda: prepare_run(compile_graph(graph)))
    return {
        "yaml_mb": as_yaml.stat().st_size / 1e6,
        "read_yaml": read_yaml,
        "read_json": read_json,
        "validate_check": check,
        "compile_pack": compile_pack,
        "payload_mb": len(prepared.model_dump_json()) / 1e6,
    }


def in_process_load(payload: str) -> float:
    """What the workflow's first task does with its input, outside Temporal."""

    def load() -> None:
        run = DagRunInput.model_validate_json(payload)
        dag = run.plan().dag
        nodes = run.carried.nodes() if run.carried else {n: NodeStatus() for n in dag.ids}
        Scheduler(dag.topology, nodes).take_ready(dag.settings.parallel_limit)

    return min(timed(load)[1] for _ in range(3))


def baseline_load(spec: DagSpec) -> float:
    """The same load as the workflow did it before: validate the whole spec from JSON and
    check the graph, then the same run state and first nodes."""
    text = spec.model_dump_json(exclude_defaults=True)

    def load() -> None:
        graph = check_graph(DagSpec.model_validate_json(text))
        nodes = {node_id: NodeStatus() for node_id in graph.order}
        Scheduler(graph, nodes).take_ready(graph.spec.parallel_limit)

    return min(timed(load)[1] for _ in range(3))


def carried_everything(data: dict[str, Any]) -> CarriedState:
    """Every node but the last succeeded, as a long run's last hand-over carries them."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    nodes: dict[str, NodeStatus] = {}
    for i, node in enumerate(data["nodes"]):
        nodes[node["id"]] = NodeStatus(
            state=NodeState.SUCCEEDED,
            attempts=1,
            started_at=start + timedelta(milliseconds=7 * i),
            finished_at=start + timedelta(milliseconds=7 * i + 13),
            output=node.get("inputs"),
            fingerprint="sha256:" + hashlib.sha256(node["id"].encode()).hexdigest(),
        )
    nodes[data["nodes"][-1]["id"]] = NodeStatus()
    return CarriedState.pack(start, nodes, 9)


async def first_task(handle: WorkflowHandle[Any, Any]) -> str:
    """WorkflowTaskStarted -> WorkflowTaskCompleted of the run's first workflow task, or why
    it failed."""
    for _ in range(600):
        started = None
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                started = event.event_time.ToDatetime()
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                assert started is not None
                return f"{(event.event_time.ToDatetime() - started).total_seconds():.2f}s"
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                failure = event.workflow_task_failed_event_attributes.failure.message
                return f"failed: {failure[:70]}"
        await asyncio.sleep(0.1)
    raise TimeoutError("no workflow task completed in 60 s")


async def stop(handle: WorkflowHandle[Any, Any]) -> None:
    with contextlib.suppress(RPCError):  # it may have finished already
        await handle.terminate("measured")


async def measure(client: Client, queue: str, size: int, folder: Path) -> None:
    data = lanes(size // 200, 200)
    parse = parse_times(data, folder)
    graph = parse_dag(data)
    prepared = prepare_run(compile_graph(graph))
    handle, start = await timed_async(
        lambda: client.start_workflow(
            DAG_WORKFLOW, prepared, id=f"load-{size}-{uuid.uuid4().hex[:6]}", task_queue=queue
        )
    )
    first = await first_task(handle)
    await stop(handle)
    carried = prepared.model_copy(update={"carried": carried_everything(data)})
    try:
        continued = await client.start_workflow(
            DAG_WORKFLOW, carried, id=f"carried-{size}-{uuid.uuid4().hex[:6]}", task_queue=queue
        )
    except RPCError as error:  # over Temporal's payload cap: no run could ever hand over
        after_continue = f"refused by Temporal ({error.message[:60]})"
    else:
        after_continue = await first_task(continued)
        await stop(continued)
    before = baseline_load(graph.spec)
    now = in_process_load(prepared.model_dump_json())
    print(
        f"{size:>7} nodes: YAML {parse['yaml_mb']:.1f} MB parse {parse['read_yaml']:.1f}s | "
        f"JSON read {parse['read_json']:.2f}s, validate+check {parse['validate_check']:.2f}s, "
        f"compile+pack {parse['compile_pack']:.2f}s, input {parse['payload_mb']:.2f} MB, "
        f"start {start:.2f}s | first workflow task {first}, after continue-as-new "
        f"{after_continue} (carried {len(carried.model_dump_json()) / 1e6:.2f} MB) | "
        f"in-process load {now * 1000:.0f} ms vs before {before * 1000:.0f} ms: "
        f"ratio {now / before:.2f}",
        flush=True,
    )
    report(
        "dag_load_bench",
        f"{size:,} nodes: load in the workflow",
        now * 1000,
        "ms",
        baseline=before * 1000,
        baseline_label="before (pydantic DagSpec)",
    )


async def run_to_completion(client: Client, queue: str, size: int) -> None:
    graph = parse_dag(lanes(size // 200, 200))
    handle, start = await timed_async(lambda: start_run(client, graph, task_queue=queue))
    status, elapsed = await timed_async(lambda: handle.result())
    assert isinstance(status, DagStatus) and status.status is RunState.SUCCEEDED, status.status
    runs = [r async for r in client.list_workflows(f"WorkflowId = '{handle.id}'")]
    print(
        f"{size:>7} nodes run to completion: {elapsed:.0f}s ({size / elapsed:.0f} nodes/s, "
        f"start {start:.2f}s, {len(runs)} runs under one id by continue-as-new)",
        flush=True,
    )
    report("dag_load_bench", f"{size:,} nodes run to completion", size / elapsed, "nodes/s")


async def main(sizes: list[int], run_size: int) -> None:
    with tempfile.TemporaryDirectory() as state:
        settings = load_settings(environ={}, cwd=Path(state))
        async with embedded_server(Path(state) / ".pit", ui=False) as server:
            client = await connect(settings.temporal, server.address)
            queue = f"bench-load-{uuid.uuid4()}"
            async with build_worker(client, settings, task_queue=queue, use_entry_points=False):
                print(f"server {server.address}; node limit {pit.dag.limits.MAX_NODES:,}\n")
                with limits_lifted():
                    for size in sizes:
                        await measure(client, queue, size, Path(state))
                if run_size:
                    await run_to_completion(client, queue, run_size)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="*")
    parser.add_argument("--run", type=int, help="also run a DAG this big to completion")
    arguments = parser.parse_args()
    default_sizes, default_run = (
        ([2000, 5000], 2000) if arguments.quick else ([20_000, 50_000, 100_000], 20_000)
    )
    asyncio.run(
        main(
            arguments.sizes or default_sizes,
            default_run if arguments.run is None else arguments.run,
        )
    )
