"""`pit.stale_cleanup`: plan, wait for a confirmation (or apply by itself under a size limit),
apply, report. Run by a Temporal Schedule (`pit stale schedule`), confirmed by a signal
(`pit stale confirm`); its progress is a query."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, ConfigDict, Field

    from pit.activities.stale import ApplyRequest, PlanRequest, PlanSummary
    from pit.common.validation import Duration

Stage = Literal[
    "planning", "awaiting_confirmation", "applying", "applied", "nothing_to_do", "expired"
]


class CleanupInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy_text: str
    """The policy file's text (YAML), carried so every run plans with what was scheduled."""
    auto_apply_under: int = Field(default=0, ge=0)
    """Apply without confirmation when the plan has fewer actions than this (0: never)."""
    confirm_within: Duration = timedelta(hours=24)
    """A plan not confirmed this long after it was made is dropped."""
    now: datetime | None = None
    """Evaluate as of this time (what-if); None: the workflow's clock."""


class CleanupProgress(BaseModel):
    stage: Stage
    plan: PlanSummary | None = None
    report: dict[str, Any] | None = None
    confirmed_by: str | None = None


_TIMEOUT = timedelta(hours=1)
_RETRY = RetryPolicy(
    maximum_attempts=5, non_retryable_error_types=["validation", "config", "conflict"]
)


@workflow.defn(name="pit.stale_cleanup")
class StaleCleanupWorkflow:
    def __init__(self) -> None:
        self._progress = CleanupProgress(stage="planning")
        self._confirmed = False

    @workflow.run
    async def run(self, cleanup: CleanupInput) -> CleanupProgress:
        now = cleanup.now or workflow.now()
        plan: PlanSummary = await workflow.execute_activity(
            "stale.plan",
            PlanRequest(policy_text=cleanup.policy_text, now=now),
            result_type=PlanSummary,
            start_to_close_timeout=_TIMEOUT,
            retry_policy=_RETRY,
        )
        self._progress.plan = plan
        actions = plan.deletes + plan.demotes + plan.promotes
        if actions == 0:
            self._progress.stage = "nothing_to_do"
            return self._progress
        if actions >= cleanup.auto_apply_under:
            self._progress.stage = "awaiting_confirmation"
            try:
                await workflow.wait_condition(
                    lambda: self._confirmed, timeout=cleanup.confirm_within
                )
            except TimeoutError:
                self._progress.stage = "expired"
                return self._progress
        else:
            self._progress.confirmed_by = f"auto: {actions} < {cleanup.auto_apply_under} actions"
        self._progress.stage = "applying"
        apply_now = cleanup.now or workflow.now()
        self._progress.report = await workflow.execute_activity(
            "stale.apply",
            ApplyRequest(plan_id=plan.plan_id, now=apply_now),
            start_to_close_timeout=_TIMEOUT,
            retry_policy=_RETRY,
        )
        self._progress.stage = "applied"
        return self._progress

    @workflow.signal(name="confirm")
    def confirm(self, who: str = "pit stale confirm") -> None:
        self._confirmed = True
        self._progress.confirmed_by = who

    @workflow.query(name="progress")
    def progress(self) -> CleanupProgress:
        return self._progress
