"""The messages of the scheduled cleanup (`pit.stale_cleanup`): what a run is started with
and what its progress query answers. Shared by the workflow, its activities and clients."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pit.common.validation import Duration

CLEANUP_WORKFLOW = "pit.stale_cleanup"


class PlanSummary(BaseModel):
    plan_id: str
    deletes: int
    demotes: int
    promotes: int
    bytes_affected: int
    bytes_before: int
    bytes_after: int
    cost_saved_fraction: float


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
    run_id: str | None = None
    """The cleanup run (filled in by the client: the run asked of, or a schedule's latest)."""
    schedule_id: str | None = None
    """The schedule that started the run; None when it was started otherwise (filled in by
    the client)."""
    skipped_runs: int | None = None
    """Runs that schedule skipped since it was created because one of its runs was still
    open (overlap policy skip): while a plan awaits confirmation, every run due is skipped."""


class ScheduleNote(BaseModel):
    """Set the note of the schedule that started a cleanup run (`note`), or clear it when it
    is that run's (`note` None)."""

    model_config = ConfigDict(extra="forbid")

    schedule_id: str
    run_id: str
    note: str | None = None
