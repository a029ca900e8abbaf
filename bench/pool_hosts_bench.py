"""Pools across hosts on the embedded dev server: what placement and `model:` nodes cost,
each against a baseline measured in the same run.

    python -m bench.pool_hosts_bench            # 300 placements, chains of 50 nodes, 3 repeats
    python -m bench.pool_hosts_bench --quick

- placement: the registry's `place` update, against a query of the same registry (a plain
  round trip to the same workflow);
- a chain whose nodes need a (hot) model, against the same chain without `model:`: the
  per-node cost of asking where to run and making sure the model is hot there.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.dag_bench import median_of, percentile, time_dag
from pit.client.pool import place_model, registry_hosts
from pit.common.config import load_settings
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


async def timed(calls: int, call: Any) -> list[float]:
    latencies = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def main(quick: bool) -> None:
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

                runs = [chain(length, False), chain(length, True)]
                plain = [await time_dag(client, queue, runs[0]) for _ in range(repeats)]
                model = [await time_dag(client, queue, runs[1]) for _ in range(repeats)]
                per_plain = median_of(plain) / length * 1000
                per_model = median_of(model) / length * 1000
                print(
                    f"chain {length}: with model: {per_model:.1f} ms/node, without "
                    f"{per_plain:.1f} ms/node, overhead {per_model - per_plain:+.1f} ms/node, "
                    f"ratio {per_model / per_plain:.2f} (place + warm are two more activities)"
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
