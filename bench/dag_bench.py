"""DAG Tracker benchmarks on the embedded dev server, each against a hand-written Temporal
workflow measured in the same run.

    python -m bench.dag_bench            # full: 1,000 wide, 200 chain, 20,000 nodes, checkpoints
    python -m bench.dag_bench --quick    # smaller sizes, for a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from bench._report import report
from bench.dag_baselines import GatherWorkflow, SequenceWorkflow
from pit.activities import echo
from pit.client.runs import start_run
from pit.common.config import load_settings
from pit.dag.graph import parse_dag
from pit.dag.status import RunState
from pit.infra.temporal.connect import connect
from pit.infra.temporal.devserver import embedded_server
from pit.workers import build_worker

MARKS: dict[str, float] = {}


@activity.defn(name="bench.mark")
async def mark(inputs: dict[str, Any]) -> dict[str, Any]:
    MARKS[inputs["node"]] = time.perf_counter()
    return {"node": inputs["node"]}


def wide(count: int) -> dict[str, Any]:
    nodes = [{"id": f"n{i}", "activity": "pit.echo", "inputs": {"i": i}} for i in range(count)]
    return {"name": f"wide-{count}", "nodes": nodes}


def chain(count: int, activity_name: str = "pit.echo", *, local: bool = False) -> dict[str, Any]:
    extra = {"local": True} if local else {}
    nodes: list[dict[str, Any]] = [
        {"id": "n0", "activity": activity_name, "inputs": {"node": "n0"}, **extra}
    ]
    for i in range(1, count):
        inputs = {"node": f"n{i}", "prev": f"${{nodes.n{i - 1}.output.node}}"}
        nodes.append({"id": f"n{i}", "activity": activity_name, "inputs": inputs, **extra})
    return {"name": f"chain-{count}", "nodes": nodes}


def lanes(lanes_: int, length: int) -> dict[str, Any]:
    nodes = []
    for lane in range(lanes_):
        for step in range(length):
            node: dict[str, Any] = {"id": f"l{lane}s{step}", "activity": "pit.echo", "inputs": {}}
            if step:
                node["depends_on"] = [f"l{lane}s{step - 1}"]
            nodes.append(node)
    return {"name": f"lanes-{lanes_}x{length}", "nodes": nodes}


async def time_dag(client: Client, queue: str, data: dict[str, Any]) -> float:
    graph = parse_dag(data)
    started = time.perf_counter()
    handle = await start_run(client, graph, task_queue=queue)
    status = await handle.result()
    elapsed = time.perf_counter() - started
    assert status.status is RunState.SUCCEEDED, status.status
    return elapsed


async def time_baseline(client: Client, queue: str, name: str, count: int) -> float:
    started = time.perf_counter()
    await client.execute_workflow(name, count, id=f"{name}-{uuid.uuid4()}", task_queue=queue)
    return time.perf_counter() - started


def median_of(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def checkpoint_latency(client: Client, queue: str, count: int) -> list[float]:
    """Node completion (the activity returns) to the progress query showing it, in ms."""
    MARKS.clear()
    graph = parse_dag(chain(count, "bench.mark"))
    handle = await start_run(client, graph, task_queue=queue)
    seen: dict[int, float] = {}
    done = 0
    while done < count:
        progress = await handle.progress()
        now = time.perf_counter()
        if progress is not None and progress.done > done:
            for finished in range(done, progress.done):
                seen[finished] = now
            done = progress.done
    await handle.result()
    return [(seen[i] - MARKS[f"n{i}"]) * 1000 for i in range(count) if f"n{i}" in MARKS]


async def main(quick: bool, wide_only: int | None = None, repeats_only: int | None = None) -> None:
    wide_n, chain_n, lanes_shape, repeats = (
        (200, 50, (20, 50), 1) if quick else (1000, 200, (100, 200), 3)
    )
    wide_n, repeats = wide_only or wide_n, repeats_only or repeats
    print(f"load {Path('/proc/loadavg').read_text().split()[:3]}")
    with tempfile.TemporaryDirectory() as state:
        settings = load_settings(environ={}, cwd=Path(state))
        async with embedded_server(Path(state) / ".pit", ui=False) as server:
            client = await connect(settings.temporal, server.address)
            dag_queue, base_queue = f"bench-dag-{uuid.uuid4()}", f"bench-base-{uuid.uuid4()}"
            pit_worker = build_worker(
                client,
                settings,
                extra_activities=[mark],
                task_queue=dag_queue,
                use_entry_points=False,
            )
            plain_worker = Worker(
                client,
                task_queue=base_queue,
                workflows=[GatherWorkflow, SequenceWorkflow],
                activities=[echo],
                max_concurrent_activities=settings.temporal.max_concurrent_activities,
            )
            async with pit_worker, plain_worker:
                print(f"server {server.address}; {repeats} repeat(s), medians\n")
                dag_wide = [await time_dag(client, dag_queue, wide(wide_n)) for _ in range(repeats)]
                base_wide = [
                    await time_baseline(client, base_queue, "bench.gather", wide_n)
                    for _ in range(repeats)
                ]
                ratio = median_of(dag_wide) / median_of(base_wide)
                print(
                    f"wide {wide_n} no-op nodes: pit.dag {median_of(dag_wide):.2f}s, "
                    f"asyncio.gather workflow {median_of(base_wide):.2f}s, "
                    f"ratio {ratio:.2f} (goal <= 1.2)"
                )
                report(
                    "dag_bench",
                    f"fan-out of {wide_n}",
                    median_of(dag_wide),
                    "s",
                    baseline=median_of(base_wide),
                    baseline_label="raw asyncio.gather workflow",
                    goal="<= 1.2x baseline",
                    met=ratio <= 1.2,
                )

                dag_chain = [
                    await time_dag(client, dag_queue, chain(chain_n)) for _ in range(repeats)
                ]
                base_chain = [
                    await time_baseline(client, base_queue, "bench.sequence", chain_n)
                    for _ in range(repeats)
                ]
                per_dag = median_of(dag_chain) / chain_n * 1000
                per_base = median_of(base_chain) / chain_n * 1000
                print(
                    f"chain {chain_n}: pit.dag {per_dag:.1f} ms/step, sequential workflow "
                    f"{per_base:.1f} ms/step, overhead {per_dag - per_base:+.1f} ms/step, ratio "
                    f"{per_dag / per_base:.2f} (published: Temporal ~74, Hatchet ~31 ms/step)"
                )
                report(
                    "dag_bench",
                    f"chain of {chain_n}",
                    per_dag,
                    "ms/step",
                    baseline=per_base,
                    baseline_label="raw sequential workflow",
                    goal="<= 30 ms/step",
                    met=per_dag <= 30,
                )

                dag_local = [
                    await time_dag(client, dag_queue, chain(chain_n, local=True))
                    for _ in range(repeats)
                ]
                per_local = median_of(dag_local) / chain_n * 1000
                print(
                    f"chain {chain_n} of local: true nodes: {per_local:.1f} ms/step, ratio "
                    f"{per_local / per_base:.2f} to the sequential workflow (goal <= 30 ms/step)"
                )
                report(
                    "dag_bench",
                    f"chain of {chain_n}, local: true",
                    per_local,
                    "ms/step",
                    baseline=per_base,
                    baseline_label="raw sequential workflow",
                    goal="<= 30 ms/step",
                    met=per_local <= 30,
                )

                latencies = await checkpoint_latency(client, dag_queue, 100 if quick else 300)
                print(
                    f"checkpoint durable -> visible in the status query: p50 "
                    f"{percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms "
                    f"({len(latencies)} nodes)"
                )

                lanes_n, length = lanes_shape
                elapsed = await time_dag(client, dag_queue, lanes(lanes_n, length))
                total = lanes_n * length
                print(
                    f"{total} nodes ({lanes_n} chains of {length}): {elapsed:.1f}s, "
                    f"{total / elapsed:.0f} nodes/s, continue-as-new every 10,000 events"
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--wide", type=int, help="nodes in the fan-out (default 200 / 1,000)")
    parser.add_argument("--repeats", type=int, help="runs of each, medians (default 1 / 3)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.quick, arguments.wide, arguments.repeats))
