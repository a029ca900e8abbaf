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

    @field_serializer("started_at", "finished_at", when_used="json")
    def _times(self, value: datetime | None) -> str | None:
        return _iso(value)


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
    nodes_offset: int = 0
    """`nodes` holds nodes_offset .. nodes_offset + len(nodes) of nodes_total (file order)."""

    @field_serializer("started_at", "finished_at", when_used="json")
    def _times(self, value: datetime | None) -> str | None:
        return _iso(value)
