"""Pools across hosts on the embedded dev server: what placement and `model:` nodes cost,
each against a baseline measured in the same run.

    python -m bench.pool_hosts_bench            # 300 placements, chains of 50 nodes, 3 repeats
    python -m bench.pool_hosts_bench --quick

- placement: the registry's `place` update, against a query of the same registry (a plain
  round trip to the same workflow);
- a chain whose nodes need a (hot) model, against the same chain without `model:`: the
  per-node cost of asking where to run and making sure the model is hot there. Per node:
  the median of each run's time per node, and percentiles of the steps (one node's finish to
  the next one's, from the run's status) over every run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
import uuid
from itertools import pairwise
from pathlib import Path
from typing import Any

from temporalio.client import Client

from bench._report import report
from bench.dag_bench import median_of, percentile
from pit.client.pool import place_model, registry_hosts
from pit.client.runs import start_run
from pit.common.config import load_settings
from pit.dag.graph import parse_dag
from pit.dag.status import RunState
from pit.infra.temporal.connect import connect
from pit.infra.temporal.devserver import embedded_server
from pit.pool import ModelSpec, PoolConfig
from pit.workers import build_worker
from pit.workers.pool_host import pool_host

MODELS = tuple(ModelSpec(id=f"m{i}", memory_bytes=1024**3) for i in range(4))


def chain(count: int, with_model: bool) -> dict[str, Any]:
    nodes = []
    for step in range(count):
        node: dict[str, Any] = {"id": f"n{step}", "activity": "pit.echo", "inputs": {}}
        if with_model:
            node["model"] = f"m{step % 2}"
        if step:
            node["depends_on"] = [f"n{step - 1}"]
        nodes.append(node)
    return {"name": f"chain-{'model' if with_model else 'plain'}-{count}", "nodes": nodes}


async def time_chain(client: Client, queue: str, data: dict[str, Any]) -> tuple[float, list[float]]:
    """The run's seconds, and its steps in ms: each node's finish to the next one's."""
    started = time.perf_counter()
    handle = await start_run(client, parse_dag(data), task_queue=queue)
    status = await handle.result()
    elapsed = time.perf_counter() - started
    assert status.status is RunState.SUCCEEDED, status.status
    ends = sorted(node.finished_at for node in status.nodes.values() if node.finished_at)
    steps = [(later - earlier).total_seconds() * 1000 for earlier, later in pairwise(ends)]
    return elapsed, steps


async def timed(calls: int, call: Any) -> list[float]:
    latencies = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def main(quick: bool) -> None:
    print(f"load {Path('/proc/loadavg').read_text().split()[:3]}")
    calls, length, repeats = (50, 10, 1) if quick else (300, 50, 3)
    with tempfile.TemporaryDirectory() as state:
        queue = f"bench-pool-{uuid.uuid4()}"
        settings = load_settings(
            environ={"PIT_TEMPORAL__TASK_QUEUE": queue, "PIT_POOL__PUBLISH_INTERVAL": "1s"},
            cwd=Path(state),
        )
        async with embedded_server(Path(state) / ".pit", ui=False) as server:
            client = await connect(settings.temporal, server.address)
            config = PoolConfig(memory_budget=8 * 1024**3, models=MODELS)
            async with contextlib.AsyncExitStack() as stack:
                await stack.enter_async_context(
                    build_worker(client, settings, use_entry_points=False)
                )
                for name in ("bench-a", "bench-b"):
                    entered = await stack.enter_async_context(
                        pool_host(client, settings, config=config, name=name)
                    )
                    assert entered is not None
                    host = entered
                    assert host.worker is not None
                    await stack.enter_async_context(host.worker)
                    await host.pool.warm("m0")
                    await host.pool.warm("m1")
                while len(await registry_hosts(client, task_queue=queue)) < 2:
                    await asyncio.sleep(0.1)
                await asyncio.sleep(1.5)  # both hosts have published their hot models
                print(f"server {server.address}; 2 hosts, {len(MODELS)} models each\n")

                placing = await timed(calls, lambda: place_model(client, "m0", task_queue=queue))
                querying = await timed(calls, lambda: registry_hosts(client, task_queue=queue))
                p50, base50 = percentile(placing, 50), percentile(querying, 50)
                print(
                    f"place (update): p50 {p50:.2f} ms, p99 {percentile(placing, 99):.2f} ms; "
                    f"registry query p50 {base50:.2f} ms, p99 {percentile(querying, 99):.2f} ms; "
                    f"ratio {p50 / base50:.2f} ({calls} calls)"
                )

                runs = {False: chain(length, False), True: chain(length, True)}
                timings: dict[bool, list[tuple[float, list[float]]]] = {False: [], True: []}
                for _ in range(repeats):  # interleaved: both see the same load
                    for with_model, data in runs.items():
                        timings[with_model].append(await time_chain(client, queue, data))
                per: dict[bool, float] = {}
                for with_model, results in timings.items():
                    per[with_model] = median_of([e for e, _ in results]) / length * 1000
                    steps = [step for _, each in results for step in each]
                    print(
                        f"chain {length} {'with model' if with_model else 'plain':>10}: "
                        f"{per[with_model]:.1f} ms/node; steps p50 {percentile(steps, 50):.1f}, "
                        f"p90 {percentile(steps, 90):.1f}, p99 {percentile(steps, 99):.1f} ms"
                    )
                print(
                    f"hot model node overhead {per[True] - per[False]:+.1f} ms/node "
                    f"(goal <= +60), ratio {per[True] / per[False]:.2f}"
                )
                report(
                    "pool_hosts_bench",
                    f"chain of {length} on hot models",
                    per[True],
                    "ms/node",
                    baseline=per[False],
                    baseline_label="plain nodes",
                    goal="<= plain + 60 ms",
                    met=per[True] - per[False] <= 60,
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
