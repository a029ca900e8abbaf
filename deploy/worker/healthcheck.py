"""Docker health check of a `pit worker` container: healthy while this container polls its
task queue.

A worker that is up but cut off from Temporal, or wedged, stops polling; Temporal's task
queue description says so within `RECENT`. The check reads the worker's own settings
(`PIT_*` variables), finds a poller whose identity starts with `<pid>@<this hostname>`
(the SDK's default identity is `pid@hostname`, and a container's hostname is its own; a Pit
worker adds ` pit-store=<url>`) and prints one line. Exit 0 healthy, 1 not (Docker gives
other codes no meaning).

    python /opt/pit/healthcheck.py [TASK_QUEUE]
"""

from __future__ import annotations

import asyncio
import socket
import sys
from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from pit.common.config import load_settings
from pit.common.errors import PitError
from pit.infra.temporal.connect import connect

RECENT = timedelta(minutes=3)
"""A polling worker renews its long poll about once a minute when idle."""
CALL_TIMEOUT = timedelta(seconds=5)
TASK_QUEUE_TYPES = (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)


async def last_poll(client: Client, task_queue: str, host: str) -> datetime | None:
    """When a worker on `host` last polled `task_queue` for any kind of task, if recently."""
    latest: datetime | None = None
    for kind in TASK_QUEUE_TYPES:
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=kind,
            ),
            timeout=CALL_TIMEOUT,
        )
        for poller in response.pollers:
            # a Pit worker's identity goes on with " pit-store=<url>" (its claim-check store)
            if poller.identity.split(" ", 1)[0].endswith(f"@{host}"):
                seen = poller.last_access_time.ToDatetime(tzinfo=UTC)
                latest = seen if latest is None else max(latest, seen)
    return latest


async def check(task_queue: str | None) -> tuple[bool, str]:
    settings = load_settings()
    queue = task_queue or settings.temporal.task_queue
    host = socket.gethostname()
    client = await connect(settings.temporal)
    seen = await last_poll(client, queue, host)
    if seen is None:
        return False, f"no worker on {host} polls task queue {queue!r}"
    age = datetime.now(UTC) - seen
    if age > RECENT:
        return False, f"the worker on {host} last polled {queue!r} {int(age.total_seconds())}s ago"
    return True, f"the worker on {host} polls task queue {queue!r}"


def main(argv: list[str]) -> int:
    try:
        healthy, line = asyncio.run(check(argv[1] if len(argv) > 1 else None))
    except PitError as error:
        healthy, line = False, error.message
    except RPCError as error:
        healthy, line = False, f"temporal: {error.message}"
    sys.stdout.write(("healthy: " if healthy else "unhealthy: ") + line + "\n")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
