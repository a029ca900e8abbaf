"""What a Pit worker adds around activities that DAG runs call: the attempt number, and a
refusal of outputs too large for workflow history."""

from __future__ import annotations

import json
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from pit.dag.limits import size_text
from pit.dag.run import ATTEMPT_KEY, DAG_WORKFLOW, MAX_OUTPUT_BYTES, OUTPUT_KEY, STEP_ACTIVITIES


class _DagEnvelope(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        if info.workflow_type != DAG_WORKFLOW or info.activity_type in STEP_ACTIVITIES:
            return await self.next.execute_activity(input)
        try:
            result = await self.next.execute_activity(input)
        except ApplicationError as error:
            first = error.details[0] if error.details else None
            details = dict(first) if isinstance(first, dict) else {}
            raise ApplicationError(
                error.message,
                {**details, "attempt": info.attempt},
                type=error.type,
                non_retryable=error.non_retryable,
            ) from error
        except CancelledError:
            raise
        except Exception as error:
            raise ApplicationError(
                str(error) or type(error).__name__,
                {"attempt": info.attempt},
                type=type(error).__name__,
            ) from error
        size = len(json.dumps(result, default=str).encode())
        if size > MAX_OUTPUT_BYTES:
            raise ApplicationError(
                f"output is {size_text(size)}, over the {size_text(MAX_OUTPUT_BYTES)} limit "
                "for node outputs: store it with pit.artifacts.put and return the reference",
                {"attempt": info.attempt, "size": size, "limit": MAX_OUTPUT_BYTES},
                type="validation",
                non_retryable=True,
            )
        return {OUTPUT_KEY: result, ATTEMPT_KEY: info.attempt}


class DagEnvelopeInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _DagEnvelope(next)
