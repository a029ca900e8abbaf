"""Hand-written Temporal workflows the DAG benchmarks compare against (sandbox-safe module)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow

NOOP = timedelta(seconds=30)


@workflow.defn(name="bench.gather")
class GatherWorkflow:
    """The baseline for a wide graph: every activity at once with asyncio.gather."""

    @workflow.run
    async def run(self, count: int) -> int:
        await asyncio.gather(
            *(
                workflow.execute_activity("pit.echo", {"i": i}, start_to_close_timeout=NOOP)
                for i in range(count)
            )
        )
        return count


@workflow.defn(name="bench.sequence")
class SequenceWorkflow:
    """The baseline for a chain: one activity after another, each fed the last output."""

    @workflow.run
    async def run(self, count: int) -> int:
        value: Any = {"i": 0}
        for _ in range(count):
            value = await workflow.execute_activity("pit.echo", value, start_to_close_timeout=NOOP)
        return count


@workflow.defn(name="bench.local-sequence")
class LocalSequenceWorkflow:
    """A chain of local activities: each runs in the worker, recorded as a marker."""

    @workflow.run
    async def run(self, count: int) -> int:
        value: Any = {"i": 0}
        for _ in range(count):
            value = await workflow.execute_local_activity(
                "pit.echo", value, start_to_close_timeout=NOOP
            )
        return count
