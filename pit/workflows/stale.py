"""`pit.stale_cleanup`: plan, wait for a confirmation (or apply by itself under a size limit),
apply, report. Run by a Temporal Schedule (`pit stale schedule`), confirmed by a signal
(`pit stale confirm`); its progress is a query."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from pit.activities.stale import ApplyRequest, PlanRequest, StaleActivities
    from pit.common.validation import format_duration
    from pit.infra.temporal.search_attributes import SCHEDULED_BY
    from pit.stale.protocol import (
        CLEANUP_WORKFLOW,
        CleanupInput,
        CleanupProgress,
        PlanSummary,
        ScheduleNote,
    )

_TIMEOUT = timedelta(hours=1)
_RETRY = RetryPolicy(
    maximum_attempts=5, non_retryable_error_types=["validation", "config", "conflict"]
)
NOTE_PATCH = "pit-stale-schedule-note"
"""A scheduled run waiting for confirmation says so in its schedule's note (its schedule
skips the runs due meanwhile), and clears it after."""


@workflow.defn(name=CLEANUP_WORKFLOW)
class StaleCleanupWorkflow:
    def __init__(self) -> None:
        self._progress = CleanupProgress(stage="planning")
        self._confirmed = False

    @workflow.run
    async def run(self, cleanup: CleanupInput) -> CleanupProgress:
        now = cleanup.now or workflow.now()
        plan: PlanSummary = await workflow.execute_activity_method(
            StaleActivities.plan,
            PlanRequest(policy_text=cleanup.policy_text, now=now),
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
            scheduled_by = workflow.info().typed_search_attributes.get(SCHEDULED_BY)
            noted = scheduled_by if scheduled_by and workflow.patched(NOTE_PATCH) else None
            if noted is not None:
                await self._note(noted, _waiting_note(noted, plan, cleanup))
            try:
                await workflow.wait_condition(
                    lambda: self._confirmed, timeout=cleanup.confirm_within
                )
            except TimeoutError:
                self._progress.stage = "expired"
            if noted is not None:
                await self._note(noted, None)
            if self._progress.stage == "expired":
                return self._progress
        else:
            self._progress.confirmed_by = f"auto: {actions} < {cleanup.auto_apply_under} actions"
        self._progress.stage = "applying"
        apply_now = cleanup.now or workflow.now()
        self._progress.report = await workflow.execute_activity_method(
            StaleActivities.apply,
            ApplyRequest(plan_id=plan.plan_id, now=apply_now),
            start_to_close_timeout=_TIMEOUT,
            retry_policy=_RETRY,
        )
        self._progress.stage = "applied"
        return self._progress

    async def _note(self, schedule: str, note: str | None) -> None:
        """Set or clear the schedule's note; a schedule that cannot be noted (deleted since)
        does not stop the cleanup."""
        request = ScheduleNote(schedule_id=schedule, run_id=workflow.info().workflow_id, note=note)
        try:
            await workflow.execute_activity_method(
                StaleActivities.note_schedule,
                request,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
        except ActivityError:
            workflow.logger.warning("could not note schedule %s", schedule)

    @workflow.signal(name="confirm")
    def confirm(self, who: str = "pit stale confirm") -> None:
        self._confirmed = True
        self._progress.confirmed_by = who

    @workflow.query(name="progress")
    def progress(self) -> CleanupProgress:
        return self._progress


def _waiting_note(schedule: str, plan: PlanSummary, cleanup: CleanupInput) -> str:
    run_id = workflow.info().workflow_id
    until = workflow.now() + cleanup.confirm_within
    return (
        f"{run_id} awaits confirmation of plan {plan.plan_id} (until "
        f"{until:%Y-%m-%dT%H:%M:%SZ}, {format_duration(cleanup.confirm_within)}): runs due "
        f"meanwhile are skipped (overlap policy skip); `pit stale confirm {schedule}` applies it"
    )
