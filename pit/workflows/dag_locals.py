"""Local nodes (`local: true`) in batches, each ending its workflow task.

sdk-core records each local activity's result as a marker in the workflow task that ran it,
and keeps a task open (heartbeating it) while local activities are out. A run with many
lanes of local nodes can thus run thousands in one task, whose completion then outgrows the
server's 4 MB message limit: the task fails, and fails again on every retry, and the run is
stuck ("grpc: received message after decompression larger than max"). So after
`LOCAL_BATCH` local activities, the next ones wait while those out finish and a 1 ms timer
ends the task; then a new batch starts. Runs with fewer local nodes never pause (their
histories are unchanged).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from temporalio import workflow

LOCAL_BATCH = 200
"""Local activities started between two task-ending pauses: their markers stay far under the
4 MB limit (a marker of a small result is about 1 KB; results over 256 KiB are claim-checked)."""
_PAUSE = timedelta(milliseconds=1)


class LocalBatches:
    """Counts a run's local activities and pauses them batch by batch (see the module)."""

    def __init__(self) -> None:
        self._started = 0
        self._pause: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold while one local activity runs; waits first if its batch is full."""
        while self._started >= LOCAL_BATCH or self._pause is not None:
            if self._pause is None:
                self._pause = asyncio.ensure_future(self._end_task())
            await asyncio.shield(self._pause)
        self._started += 1
        yield

    async def _end_task(self) -> None:
        # a timer is a command: the task completes (with the batch's markers) to start it
        await workflow.sleep(_PAUSE)
        self._started = 0
        self._pause = None
