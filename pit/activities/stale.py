"""The Stale Manager's plan and apply as activities, for the scheduled cleanup workflow."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict
from temporalio import activity
from temporalio.client import ScheduleUpdate, ScheduleUpdateInput

from pit.common.errors import InvalidInputError
from pit.stale.evaluate import Action
from pit.stale.manager import StaleManager
from pit.stale.policy import parse_policy
from pit.stale.protocol import PlanSummary, ScheduleNote


class PlanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy_text: str
    now: datetime


class ApplyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan_id: str
    now: datetime


class StaleActivities:
    """Built with the worker's `StaleManager`; register `all()`."""

    def __init__(self, manager: Callable[[], StaleManager]) -> None:
        self._manager = manager

    def all(self) -> list[Callable[..., Any]]:
        return [self.plan, self.apply, self.note_schedule]

    @activity.defn(name="pit.stale.plan")
    async def plan(self, request: PlanRequest) -> PlanSummary:
        """A dry run of the policy, saved under its plan id; changes nothing."""
        try:
            policy = parse_policy(yaml.safe_load(request.policy_text))
        except yaml.YAMLError as error:
            raise InvalidInputError(f"policy: not valid YAML: {error}") from None
        plan, savings = await self._manager().plan(policy, request.policy_text, request.now)
        counts = {action.value: len(plan.by_action(action)) for action in Action}
        cost_saved = 0.0
        if savings.cost_before:
            cost_saved = 1 - savings.cost_after / savings.cost_before
        return PlanSummary(
            plan_id=plan.plan_id,
            deletes=counts.get("delete", 0),
            demotes=counts.get("demote", 0),
            promotes=counts.get("promote", 0),
            bytes_affected=sum(item.size for item in plan.items),
            bytes_before=savings.bytes_before,
            bytes_after=savings.bytes_after,
            cost_saved_fraction=round(cost_saved, 4),
        )

    @activity.defn(name="pit.stale.apply")
    async def apply(self, request: ApplyRequest) -> dict[str, Any]:
        """Re-checks every item, then soft-deletes and moves tiers; returns the report."""
        report = await self._manager().apply(request.plan_id, request.now)
        return report.to_dict()

    @activity.defn(name="pit.stale.note_schedule")
    async def note_schedule(self, request: ScheduleNote) -> bool:
        """Set the schedule's note (what `temporal schedule describe` and the UI show), or
        clear it when it names this run; True when the schedule changed."""

        changed = False

        def change(given: ScheduleUpdateInput) -> ScheduleUpdate | None:
            nonlocal changed
            schedule = given.description.schedule
            if request.note is None and request.run_id not in (schedule.state.note or ""):
                return None  # another run's note, or none: leave it
            schedule.state.note = request.note or ""
            changed = True
            return ScheduleUpdate(schedule=schedule)

        await activity.client().get_schedule_handle(request.schedule_id).update(change)
        return changed
