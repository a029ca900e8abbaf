"""The status document of a DAG run: what `pit dag status --json` prints and the query returns."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer


class NodeState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    UPSTREAM_FAILED = "upstream_failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self not in (NodeState.PENDING, NodeState.RUNNING)

    @property
    def lets_children_run(self) -> bool:
        return self in (NodeState.SUCCEEDED, NodeState.SKIPPED)


class SkipCause(StrEnum):
    """Why a node was skipped: it decides whether its children run (docs/dag.md#triggers)."""

    CONDITION = "condition"
    """Its `when` was false."""
    UPSTREAM = "upstream"
    """Its trigger skipped it: a parent was skipped (or, for any_succeeded, none passed)."""
    FAILURE = "failure"
    """It failed and `on_failure: skip` let the run go on: its children run, as today."""


class RunState(StrEnum):
    """A run's state, in one vocabulary everywhere (`pit dag status`, `list`, `--json`).
    The last two only Temporal says: the run's own code never ends that way."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TERMINATED = "terminated"
    TIMED_OUT = "timed_out"

    @property
    def finished(self) -> bool:
        return self is not RunState.RUNNING


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ItemCounts(BaseModel):
    """A map node's items by state; `cached` counts the succeeded ones the cache answered."""

    model_config = ConfigDict(extra="forbid")

    total: int = 0
    pending: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    cancelled: int = 0
    cached: int = 0


class NodeStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: NodeState = NodeState.PENDING
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    output: Any = None
    error: str | None = None
    error_type: str | None = None
    fallback: bool = False
    reason: str | None = None
    """Why the node ran or was reused (resume), or why it did not run."""
    host: str | None = None
    """The pool host a node with a `model` ran on."""
    fingerprint: str | None = None
    """Hash of activity, resolved inputs and upstream fingerprints: what `resume` compares."""
    skipped_by: SkipCause | None = None
    """Why a `skipped` node was skipped; None (as in runs before conditions): `on_failure`."""
    cached_from: str | None = None
    """A node (or item) whose output came from the cache: the run that stored it."""
    items: ItemCounts | None = None
    """A map node's items, counted by state (the items themselves: `pit.dag.mapping`)."""

    @field_serializer("started_at", "finished_at", when_used="json")
    def _times(self, value: datetime | None) -> str | None:
        return _iso(value)

    @property
    def passed(self) -> bool:
        """Lets children that need their parents to succeed run: it succeeded, or it was
        skipped after its own failure (`on_failure: skip`)."""
        if self.state is NodeState.SUCCEEDED:
            return True
        return self.state is NodeState.SKIPPED and self.skipped_by in (None, SkipCause.FAILURE)


class Progress(BaseModel):
    total: int
    done: int
    running: int
    failed: int
    eta_seconds: float | None = None
    """Estimated time to completion along the critical path, from durations seen so far."""


class DagStatus(BaseModel):
    run_id: str
    dag: str
    status: RunState
    started_at: datetime | None = None
    finished_at: datetime | None = None
    nodes: dict[str, NodeStatus] = Field(default_factory=dict)
    progress: Progress | None = None
    resumed_from: str | None = None
    detail: str | None = None
    """What Temporal says of a run it ended itself (terminated, timed out), or where the
    document came from when the run's own query could not answer."""
    nodes_total: int = 0
    waiting_for_approval: list[str] = Field(default_factory=list)
    """Approval nodes waiting for `pit dag approve` now, in file order."""
    nodes_offset: int = 0
    """`nodes` holds nodes_offset .. nodes_offset + len(nodes) of nodes_total (file order)."""

    @field_serializer("started_at", "finished_at", when_used="json")
    def _times(self, value: datetime | None) -> str | None:
        return _iso(value)
