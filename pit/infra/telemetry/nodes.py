"""What a worker records around each attempt of a DAG node's activity: its duration and
outcome (`pit_dag_node_duration_seconds`) and a `pit.dag.node` span naming the node."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from temporalio import activity
from temporalio.exceptions import CancelledError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from pit.common.metrics import DAG_NODE_DURATION
from pit.common.spans import Attribute, span
from pit.dag.run import DAG_WORKFLOW, STEP_ACTIVITIES


class _NodeTelemetry(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        if info.workflow_type != DAG_WORKFLOW or info.activity_type in STEP_ACTIVITIES:
            return await self.next.execute_activity(input)
        attributes: dict[str, Attribute] = {
            "pit.node": info.activity_id,
            "pit.activity": info.activity_type,
            "pit.attempt": info.attempt,
        }
        outcome = "failed"
        started = time.monotonic()
        try:
            with span("pit.dag.node", attributes):
                result = await self.next.execute_activity(input)
            outcome = "succeeded"
            return result
        except (CancelledError, asyncio.CancelledError):
            outcome = "cancelled"
            raise
        finally:
            labels = {"activity": info.activity_type, "outcome": outcome}
            DAG_NODE_DURATION.record(time.monotonic() - started, labels)


class NodeTelemetryInterceptor(Interceptor):
    """Times DAG node attempts; outside the DAG envelope, so a refused output counts as the
    failure it is."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _NodeTelemetry(next)
