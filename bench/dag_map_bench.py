"""A map over N items (`for_each`) against the same fan-out written by hand (N nodes), both of
`pit.echo`, both through `pit.dag` on the embedded dev server, in the same run.

    python -m bench.dag_map_bench                # 10,000 items
    python -m bench.dag_map_bench --items 2000
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from pit.client.runs import RunsClient
from pit.common.config import load_settings
from pit.dag.status import RunState
from pit.infra.temporal.connect import connect
from pit.infra.temporal.devserver import embedded_server
from pit.workers import build_worker


def mapped(count: int) -> dict[str, Any]:
    return {
        "name": "bench-map",
        "nodes": [
            {"id": "list", "activity": "pit.echo", "inputs": {"items": list(range(count))}},
            {
                "id": "each",
                "activity": "pit.echo",
                "for_each": "${nodes.list.output.items}",
                "inputs": {"i": "${item}"},
            },
        ],
    }


def by_hand(count: int) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [{"id": "list", "activity": "pit.echo", "inputs": {"n": 0}}]
    nodes += [
        {"id": f"e{i}", "activity": "pit.echo", "depends_on": ["list"], "inputs": {"i": i}}
        for i in range(count)
    ]
    return {"name": "bench-fan-out", "nodes": nodes}


async def timed(runs: RunsClient, data: dict[str, Any]) -> tuple[float, int]:
    started = time.perf_counter()
    handle = await runs.start(data)
    status = await handle.result()
    took = time.perf_counter() - started
    assert status.status is RunState.SUCCEEDED, status.status
    histories = [r async for r in runs.client.list_workflows(f"WorkflowId = '{handle.id}'")]
    return took, len(histories)


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as state:
        settings = load_settings(environ={}, cwd=Path(state))
        async with embedded_server(Path(state) / ".pit", ui=False) as server:
            client = await connect(settings.temporal, server.address)
            queue = f"bench-map-{uuid.uuid4()}"
            async with build_worker(client, settings, task_queue=queue, use_entry_points=False):
                runs = RunsClient(client, task_queue=queue)
                map_s, map_runs = await timed(runs, mapped(count))
                hand_s, hand_runs = await timed(runs, by_hand(count))
    print(f"map of {count:,} items: {map_s:.1f} s ({map_runs} runs under one id)")
    print(f"hand-written fan-out of {count:,} nodes: {hand_s:.1f} s ({hand_runs} runs)")
    print(f"ratio map / fan-out: {map_s / hand_s:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    asyncio.run(main(parser.parse_args().items))
