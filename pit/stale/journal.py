"""What an apply of a cleanup plan changed (so restore can undo exactly that), and the port
where plans and journals are kept."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from pit.stale.plan import Plan
from pit.stale.policy import Policy


class MovedBlob(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    digest: str
    from_tier: str
    to_tier: str
    bytes_before: int
    bytes_after: int


class Journal(BaseModel):
    """What one apply of a plan changed, so that restore can undo exactly that."""

    model_config = ConfigDict(extra="forbid")

    plan_id: str
    applied_at: datetime
    deleted: list[tuple[str, int]]
    moved: list[MovedBlob]
    restored_at: datetime | None = None


class PlanBook(Protocol):
    """Saved plans (with the policy text they were made with) and apply journals. Adapter:
    `pit.infra.stale_plans.PlanStore` (files under the state dir)."""

    def save(self, plan: Plan, policy_text: str) -> object: ...

    def load(self, plan_id: str) -> tuple[Plan, Policy]:
        """The plan and its policy; NotFoundError if it was never saved."""
        ...

    def save_journal(self, journal: Journal) -> None: ...

    def journal(self, plan_id: str) -> Journal | None: ...
