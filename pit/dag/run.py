"""What a DAG run is started with, and the envelope its activities answer in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pit.dag.spec import DagSpec
from pit.dag.status import NodeStatus

DAG_WORKFLOW = "pit.dag"
OUTPUT_KEY = "pit.output"
ATTEMPT_KEY = "pit.attempt"
MAX_OUTPUT_BYTES = 256 * 1024
"""A node output larger than this would bloat workflow history: it must travel by reference."""


class ReusedNode(BaseModel):
    """A node that succeeded in an earlier run, offered for reuse by `resume`."""

    fingerprint: str
    output: Any = None
    run_id: str


class CarriedState(BaseModel):
    """What a run hands to itself across continue-as-new."""

    started_at: datetime
    nodes: dict[str, NodeStatus]
    progress_marks: int = 0


class DagRunInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spec: DagSpec
    run_inputs: dict[str, Any] = Field(default_factory=dict)
    reuse: dict[str, ReusedNode] = Field(default_factory=dict)
    resumed_from: str | None = None
    carried: CarriedState | None = None
    search_attributes: bool = True
    """Report progress as the PitProgress search attribute (it must be registered)."""
    continue_after_events: int = 10_000
    """Continue-as-new once history is this long (or when the server suggests it)."""


def unwrap(result: Any) -> tuple[Any, int | None]:
    """(output, attempt) of what a DAG activity returned through a Pit worker."""
    if isinstance(result, dict) and OUTPUT_KEY in result and len(result) <= 2:
        attempt = result.get(ATTEMPT_KEY)
        return result[OUTPUT_KEY], attempt if isinstance(attempt, int) else None
    return result, None
