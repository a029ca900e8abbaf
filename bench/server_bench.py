"""Raw temporalio on `temporal server start-dev` under each persistence setting, so the
embedded server's settings are chosen by measurement: the same fan-out and chain of no-op
activities on each server, the in-memory server being the baseline of the same run.

    python -m bench.server_bench                     # 1,000 wide, chains of 50, 3 repeats
    python -m bench.server_bench --quick             # 200 wide, chains of 30, 1 repeat
    python -m bench.server_bench --configs memory wal-normal

Also measured on each server: the chain with eager activity execution off (the SDK asks for
it by default; the dev server honours it), and a chain of local activities.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from bench.dag_baselines import GatherWorkflow, LocalSequenceWorkflow, SequenceWorkflow
from pit.activities import echo
from pit.infra.temporal.devserver import embedded_server, free_port, temporal_binary

CONFIGS: dict[str, list[str] | None] = {
    "memory": None,  # no database file
    "sqlite-default": [],  # rollback journal, synchronous=full: what pit ran before
    "wal-full": ["journal_mode=wal", "synchronous=full"],
    "wal-normal": ["journal_mode=wal", "synchronous=normal"],
    "wal-normal-1p": ["journal_mode=wal", "synchronous=normal"],
    "embedded": ["(as pit starts it)"],
}
ONE_PARTITION = [
    "--dynamic-config-value",
    "matching.numTaskqueueReadPartitions=1",
    "--dynamic-config-value",
    "matching.numTaskqueueWritePartitions=1",
]
"""Task queues of one partition: a task never waits to be forwarded between partitions."""


@contextlib.asynccontextmanager
async def server(config: str, folder: Path) -> AsyncIterator[str]:
    """A dev server with `config`'s persistence; yields its address."""
    if config == "embedded":
        async with embedded_server(folder / "embedded", ui=False) as info:
            yield info.address
        return
    pragmas = CONFIGS[config]
    port = free_port()
    args = [str(temporal_binary()), "server", "start-dev", "--headless", "--ip", "127.0.0.1"]
    args += ["--port", str(port), "--http-port", str(free_port())]
    args += ["--metrics-port", str(free_port()), "--log-level", "error"]
    if pragmas is not None:
        args += ["--db-filename", str(folder / f"{config}.db")]
        for pragma in pragmas:
            args += ["--sqlite-pragma", pragma]
    if config.endswith("-1p"):
        args += ONE_PARTITION
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    address = f"127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(RuntimeError):
                await Client.connect(address)
                break
            await asyncio.sleep(0.1)
        yield address
    finally:
        process.terminate()
        await process.wait()


async def timed_workflow(client: Client, queue: str, name: str, count: int) -> float:
    started = time.perf_counter()
    await client.execute_workflow(name, count, id=f"{name}-{uuid.uuid4()}", task_queue=queue)
    return time.perf_counter() - started


async def measure(address: str, wide: int, length: int, repeats: int) -> dict[str, float]:
    client = await Client.connect(address)
    figures: dict[str, float] = {}
    for eager in (True, False):
        queue = f"bench-{uuid.uuid4()}"
        worker = Worker(
            client,
            task_queue=queue,
            workflows=[GatherWorkflow, SequenceWorkflow, LocalSequenceWorkflow],
            activities=[echo],
            max_concurrent_activities=100,
            disable_eager_activity_execution=not eager,
        )
        async with worker:
            await timed_workflow(client, queue, "bench.sequence", 5)  # warm the worker up
            chains = [
                await timed_workflow(client, queue, "bench.sequence", length)
                for _ in range(repeats)
            ]
            key = "chain" if eager else "chain-no-eager"
            figures[key] = statistics.median(chains) / length * 1000
            if eager:
                fans = [
                    await timed_workflow(client, queue, "bench.gather", wide)
                    for _ in range(repeats)
                ]
                figures["wide"] = statistics.median(fans)
                local = [
                    await timed_workflow(client, queue, "bench.local-sequence", length)
                    for _ in range(repeats)
                ]
                figures["chain-local"] = statistics.median(local) / length * 1000
    return figures


async def main(configs: list[str], wide: int, length: int, repeats: int) -> None:
    print(f"load {Path('/proc/loadavg').read_text().split()[:3]}; {repeats} repeat(s), medians")
    print(
        f"{'server':<16}{'wide ' + str(wide):>12}{'ratio':>8}{'chain ms/step':>15}"
        f"{'ratio':>8}{'no eager':>10}{'local':>8}"
    )
    baseline: dict[str, float] | None = None
    with tempfile.TemporaryDirectory() as folder:
        for config in configs:
            async with server(config, Path(folder)) as address:
                figures = await measure(address, wide, length, repeats)
            baseline = baseline or figures
            print(
                f"{config:<16}{figures['wide']:>11.2f}s{figures['wide'] / baseline['wide']:>8.2f}"
                f"{figures['chain']:>15.1f}{figures['chain'] / baseline['chain']:>8.2f}"
                f"{figures['chain-no-eager']:>10.1f}{figures['chain-local']:>8.1f}",
                flush=True,
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--configs", nargs="*", choices=list(CONFIGS), default=list(CONFIGS))
    arguments = parser.parse_args()
    wide, length, repeats = (200, 30, 1) if arguments.quick else (1000, 50, 3)
    asyncio.run(main(arguments.configs, wide, length, repeats))
