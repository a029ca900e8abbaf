"""The arbiter under contention on the embedded dev server, each case against the same DAG
without `resources:` measured in the same run.

    python -m bench.arbiter_contention            # 20/4, 100/10, 1,000 waiting, 200 places
    python -m bench.arbiter_contention --quick    # smaller sizes, for a smoke run

- n nodes of `work` seconds each asking one of c slots: wall time against the ideal schedule
  (ceil(n/c) x work) and the goal `2 x ideal + uncontended overhead` (the same DAG without
  `resources:`, minus one node's work); per node, the wait from asking to starting its work,
  and the handoff (the i-th start after the (i-c)-th end: what the arbiter adds per grant);
- 1,000 requests waiting at once on one arbiter (every slot held by a blocker, from four DAG
  runs of 250 nodes), then drained: no errors, and the grants in exactly the order the pure
  engine decides for the same arrivals;
- 200 model nodes asking the pool registry's `place` at once, against the same DAG without
  `model:`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client

from bench._report import report
from bench.dag_bench import percentile
from pit.arbitration import Arbiter, ArbiterConfig, Release, Request, Submit
from pit.client.arbiter import (
    ArbiterInput,
    acquire_grant,
    arbiter_status,
    ensure_arbiter,
    release_grant,
)
from pit.client.pool import place_model, registry_hosts
from pit.client.runs import run_status, start_run
from pit.common.config import load_settings
from pit.common.errors import PitError
from pit.dag.graph import parse_dag
from pit.dag.status import RunState
from pit.infra.temporal.connect import connect
from pit.infra.temporal.devserver import embedded_server
from pit.pool import ModelSpec, PoolConfig
from pit.workers import build_worker
from pit.workers.pool_host import pool_host

STARTS: dict[str, float] = {}
ENDS: dict[str, float] = {}


@activity.defn(name="bench.work")
async def work(inputs: dict[str, Any]) -> str:
    key = f"{activity.info().workflow_id}:{inputs['node']}"
    STARTS[key] = time.time()
    await asyncio.sleep(float(inputs["seconds"]))
    ENDS[key] = time.time()
    return key


def config(slots: int) -> dict[str, Any]:
    return {"strategy": "priority", "aging_interval": None, "resources": {"slots": slots}}


def dag(
    name: str, count: int, seconds: float, slots: int | None, domain: str, tenant: str | None = None
) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = []
    for i in range(count):
        node: dict[str, Any] = {
            "id": f"n{i}",
            "activity": "bench.work",
            "inputs": {"node": f"n{i}", "seconds": seconds},
            "priority": i % 5,
        }
        if slots is not None:
            node["resources"] = {"slots": 1}
        if tenant is not None:
            node["tenant"] = tenant
        nodes.append(node)
    data: dict[str, Any] = {"name": name, "max_parallel": count, "nodes": nodes}
    if slots is not None:
        data["arbiter"] = {"domain": domain, "config": config(slots)}
    return data


async def run_dags(
    client: Client, queue: str, dags: list[dict[str, Any]]
) -> tuple[float, list[str]]:
    started = time.time()
    handles = [await start_run(client, parse_dag(d), task_queue=queue) for d in dags]
    for handle in handles:
        status = await handle.result()
        assert status.status is RunState.SUCCEEDED, status.status
    return time.time() - started, [h.id for h in handles]


async def waits_and_handoffs(
    client: Client, run_ids: list[str], slots: int | None
) -> tuple[list[float], list[float]]:
    """Per node: asking (the node began) to its work starting; and, with c slots, the i-th
    start after the (i-c)-th end (the time a freed slot took to be used again)."""
    waits: list[float] = []
    starts: list[float] = []
    ends: list[float] = []
    for run_id in run_ids:
        status = await run_status(client, run_id)
        for node_id, node in status.nodes.items():
            key = f"{run_id}:{node_id}"
            assert node.started_at is not None
            waits.append(STARTS[key] - node.started_at.timestamp())
            starts.append(STARTS[key])
            ends.append(ENDS[key])
    starts.sort()
    ends.sort()
    handoffs = (
        [] if slots is None else [starts[i] - ends[i - slots] for i in range(slots, len(starts))]
    )
    return waits, handoffs


def ms(values: list[float]) -> str:
    if not values:
        return "-"
    return "/".join(f"{percentile(values, p) * 1000:.0f}" for p in (50, 90, 99)) + " ms"


async def contention(
    client: Client, queue: str, count: int, slots: int, seconds: float, repeats: int
) -> None:
    name = f"c{count}x{slots}"
    plain, contended = [], []
    plain_waits: list[float] = []
    waits: list[float] = []
    handoffs: list[float] = []
    for _ in range(repeats):
        domain = f"bench-{uuid.uuid4().hex[:8]}"
        elapsed, runs = await run_dags(client, queue, [dag(name, count, seconds, None, domain)])
        plain.append(elapsed)
        plain_waits += (await waits_and_handoffs(client, runs, None))[0]
        elapsed, runs = await run_dags(client, queue, [dag(name, count, seconds, slots, domain)])
        contended.append(elapsed)
        more_waits, more_handoffs = await waits_and_handoffs(client, runs, slots)
        waits += more_waits
        handoffs += more_handoffs
    ideal = math.ceil(count / slots) * seconds
    best_plain = sorted(plain)[len(plain) // 2]
    wall = sorted(contended)[len(contended) // 2]
    overhead = max(0.0, best_plain - seconds)
    goal = 2 * ideal + overhead
    print(
        f"{count} nodes x {seconds}s on {slots} slots: {wall:.2f}s (ideal {ideal:.2f}s, "
        f"{wall / ideal:.2f}x); without resources {best_plain:.2f}s; goal <= 2 x ideal + "
        f"{overhead:.2f}s = {goal:.2f}s: {'met' if wall <= goal else 'MISSED'} "
        f"({wall / goal:.2f} of it); medians of {repeats}"
    )
    report(
        "arbiter_contention",
        f"{count} nodes x {seconds}s on {slots} slots",
        wall,
        "s",
        baseline=best_plain,
        baseline_label="without resources",
        goal=f"<= {goal:.2f} s (2 x ideal + overhead)",
        met=wall <= goal,
    )
    print(
        f"    ask -> work starts p50/p90/p99 {ms(waits)} (without resources {ms(plain_waits)}); "
        f"slot freed -> next work starts {ms(handoffs)}"
    )


async def uncontended(client: Client, queue: str, count: int, seconds: float) -> None:
    domain = f"bench-{uuid.uuid4().hex[:8]}"
    plain, _ = await run_dags(client, queue, [dag("free", count, seconds, None, domain)])
    held, runs = await run_dags(client, queue, [dag("free", count, seconds, 1000, domain)])
    waits, _ = await waits_and_handoffs(client, runs, None)
    print(
        f"{count} nodes with resources but no contention (1000 slots): {held:.2f}s, without "
        f"resources {plain:.2f}s, ratio {held / plain:.2f}; ask -> work starts {ms(waits)}"
    )


async def thousand_waiting(
    client: Client, queue: str, runs: int, per_run: int, slots: int, seconds: float
) -> None:
    total = runs * per_run
    domain = f"bench-{uuid.uuid4().hex[:8]}"
    arbiter_config = ArbiterConfig.model_validate(config(slots))
    await ensure_arbiter(
        client, ArbiterInput(domain=domain, config=arbiter_config), task_queue=queue
    )
    blocker = Request(id="blocker", tenant="ops", demands={"slots": slots})
    await acquire_grant(client, domain, blocker)
    asked = time.time()
    # one tenant: with several, fairness corrections depend on when each release happens,
    # which the pure engine run below would have to be told
    specs = [dag(f"w{r}", per_run, seconds, slots, domain, tenant="bench") for r in range(runs)]
    handles = [await start_run(client, parse_dag(d), task_queue=queue) for d in specs]
    while len((status := await arbiter_status(client, domain)).waiters) < total:
        await asyncio.sleep(0.2)
    all_waiting = time.time() - asked
    expected = engine_order(arbiter_config, blocker, status)
    released = time.time()
    await release_grant(client, domain, "blocker")
    for handle in handles:
        result = await handle.result()
        assert result.status is RunState.SUCCEEDED, result.status
    drained = time.time() - released
    after = await arbiter_status(client, domain)
    ideal = math.ceil(total / slots) * seconds
    same = after.recent_grants[-total:] == expected
    print(
        f"{total} requests waiting at once on one arbiter ({runs} runs x {per_run} nodes): all "
        f"waiting after {all_waiting:.2f}s with no error; drained through {slots} slots in "
        f"{drained:.2f}s (ideal {ideal:.2f}s, {drained / ideal:.2f}x); grants in the pure "
        f"engine's order: {'yes' if same else 'NO'}; left held {len(after.holders)}, "
        f"waiting {len(after.waiters)}, undelivered {after.undelivered}"
    )
    report(
        "arbiter_contention",
        f"{total} waiting at once, drained through {slots} slots",
        drained,
        "s",
        goal="the pure engine's grant order",
        met=same,
    )
    _, handoffs = await waits_and_handoffs(client, [h.id for h in handles], slots)
    print(f"    slot freed -> next work starts {ms(handoffs)}")


def engine_order(arbiter_config: ArbiterConfig, blocker: Request, status: Any) -> list[str]:
    """The grant order the pure engine gives the same waiting requests (same arrivals),
    releasing each grant in the order it was made."""
    engine = Arbiter(arbiter_config)
    engine.apply(Submit(t=status.waiters[0].arrival, request=blocker))
    for w in status.waiters:
        request = Request(
            id=w.request, tenant=w.tenant, priority=w.priority, demands=w.demands, arrival=w.arrival
        )
        engine.apply(Submit(t=w.arrival, request=request))
    t = max(w.arrival for w in status.waiters) + 1
    order: list[str] = []
    pending = [blocker.id]
    while pending:
        result = engine.apply(Release(t=t, request=pending.pop(0)))
        granted = [d.request for d in result.decisions if d.action == "grant"]
        order += granted
        pending += granted
        t += 1
    return order


async def placement(client: Client, queue: str, count: int) -> None:
    async def place_once() -> float | str:
        started = time.time()
        try:
            await place_model(client, "m0", task_queue=queue)
        except PitError as error:
            return error.message
        return time.time() - started

    started = time.time()
    outcomes = await asyncio.gather(*(place_once() for _ in range(count)))
    elapsed = time.time() - started
    failed = [o for o in outcomes if isinstance(o, str)]
    took = [o for o in outcomes if isinstance(o, float)]
    print(
        f"{count} concurrent place calls to the registry: {elapsed:.2f}s, {len(failed)} failed"
        f"{' (' + failed[0] + ')' if failed else ''}; per call p50/p90/p99 {ms(took)}"
    )
    plain_nodes = [{"id": f"n{i}", "activity": "pit.echo"} for i in range(count)]
    model_nodes = [{**node, "model": "m0"} for node in plain_nodes]
    plain, _ = await run_dags(
        client, queue, [{"name": "p", "max_parallel": count, "nodes": plain_nodes}]
    )
    placed, runs = await run_dags(
        client, queue, [{"name": "m", "max_parallel": count, "nodes": model_nodes}]
    )
    status = await run_status(client, runs[0])
    hosted = sum(1 for n in status.nodes.values() if n.host == "bench-host")
    print(
        f"{count} model nodes placing at once: {placed:.2f}s, without model {plain:.2f}s, "
        f"ratio {placed / plain:.2f}; {hosted} of {count} ran on the host"
    )
    report(
        "arbiter_contention",
        f"{count} model nodes placing at once",
        placed,
        "s",
        baseline=plain,
        baseline_label="without model",
    )


async def main(quick: bool) -> None:
    repeats = 1 if quick else 3
    with tempfile.TemporaryDirectory() as state:
        queue = f"bench-arbiter-{uuid.uuid4()}"
        settings = load_settings(
            environ={"PIT_TEMPORAL__TASK_QUEUE": queue, "PIT_POOL__PUBLISH_INTERVAL": "1s"},
            cwd=Path(state),
        )
        async with embedded_server(Path(state) / ".pit", ui=False) as server:
            client = await connect(settings.temporal, server.address)
            async with contextlib.AsyncExitStack() as stack:
                await stack.enter_async_context(
                    build_worker(client, settings, extra_activities=[work], use_entry_points=False)
                )
                load = os.getloadavg()[0]
                print(
                    f"server {server.address}; load average {load:.2f} on {os.cpu_count()} cores\n"
                )
                await contention(client, queue, 20, 4, 0.2, repeats)
                await contention(client, queue, 100, 10, 0.2, repeats)
                await uncontended(client, queue, 100, 0.2)
                if quick:
                    await thousand_waiting(client, queue, 2, 100, 10, 0.05)
                else:
                    await thousand_waiting(client, queue, 4, 250, 20, 0.1)
                host = await stack.enter_async_context(
                    pool_host(
                        client,
                        settings,
                        config=PoolConfig(
                            memory_budget=4 * 1024**3,
                            models=(ModelSpec(id="m0", memory_bytes=1024**3),),
                        ),
                        name="bench-host",
                    )
                )
                assert host is not None and host.worker is not None
                await stack.enter_async_context(host.worker)
                await host.pool.warm("m0")
                while not await registry_hosts(client, task_queue=queue):
                    await asyncio.sleep(0.1)
                await asyncio.sleep(1.5)  # the host has published m0 hot
                await placement(client, queue, 50 if quick else 200)
                print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
