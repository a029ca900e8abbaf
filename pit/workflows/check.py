"""`pit.check`: a workflow that proves a worker is serving, by running one real activity."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from pit.activities.builtin import echo
    from pit.common.check import CHECK_WORKFLOW, CheckInput, CheckResult


@workflow.defn(name=CHECK_WORKFLOW)
class CheckWorkflow:
    @workflow.run
    async def run(self, inputs: CheckInput) -> CheckResult:
        started = workflow.now()
        result = await workflow.execute_activity(
            echo,
            {"message": inputs.message},
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
        elapsed = workflow.now() - started
        return CheckResult(
            echoed=str(result["message"]),
            activity_ms=int(elapsed.total_seconds() * 1000),
        )
