"""Who serves a task queue: Temporal's DescribeTaskQueue, asked the one way the Pit asks it."""

from __future__ import annotations

from datetime import timedelta

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import PollerInfo, TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client


async def workflow_pollers(
    client: Client, task_queue: str, timeout: timedelta | None = None
) -> int:
    """How many workers polled `task_queue` for workflow tasks recently (the server keeps a
    poller for about a minute after its last poll): 0 means nothing would run a workflow
    started there. RPC errors propagate."""
    return len(await workflow_poller_infos(client, task_queue, timeout))


async def workflow_poller_infos(
    client: Client, task_queue: str, timeout: timedelta | None = None
) -> list[PollerInfo]:
    """The workers that polled `task_queue` for workflow tasks recently (identity, last
    access). RPC errors propagate."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        ),
        timeout=timeout,
    )
    return list(response.pollers)
