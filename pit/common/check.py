"""What the `pit.check` self-test takes and answers: one real activity through a worker."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

CHECK_WORKFLOW = "pit.check"


class CheckInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = "hello from the pit"


class CheckResult(BaseModel):
    echoed: str
    activity_ms: int
    """Time from scheduling the activity to its result, by the workflow's clock."""
