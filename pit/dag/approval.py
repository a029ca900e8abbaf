"""Approval gates: what `pit dag approve` sends, what the node records as its output, and
which answers a run takes (pure: the workflow's update validator and handler call these)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from pit.dag.compiled import NodeKind
from pit.dag.status import NodeState, NodeStatus

APPROVE_UPDATE = "approve"
"""The Temporal update `pit dag approve` sends; it answers once the decision is recorded."""
WAITING_MEMO = "waiting_for_approval"
"""The memo key under which a run lists the approval nodes it waits on (`pit dag list`)."""
REJECTED = "rejected"
"""The error type of a rejected approval node (its `on_failure` does not apply: a person said
no, so what depends on it must not run as after `skip`)."""


class ApprovalAnswer(BaseModel):
    """`pit dag approve RUN NODE [--reject] [--comment ...] [--by NAME]`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    node: str
    approve: bool = True
    comment: str | None = Field(default=None, max_length=2000)
    by: str = Field(min_length=1, max_length=100)


class ApprovalRecord(BaseModel):
    """An approval node's output: who answered, when and how (`null` by/at on a timeout)."""

    model_config = ConfigDict(extra="forbid")

    approved: bool
    by: str | None = None
    at: datetime | None = None
    comment: str | None = None
    prompt: str

    @field_serializer("at", when_used="json")
    def _at(self, value: datetime | None) -> str | None:
        return None if value is None else value.isoformat(timespec="milliseconds")


def answer_problem(
    nodes: Mapping[str, NodeStatus], kinds: Mapping[str, NodeKind], answer: ApprovalAnswer
) -> str | None:
    """Why a run refuses `answer` (the update is rejected, nothing changes), or None."""
    status = nodes.get(answer.node)
    if status is None:
        return f"{answer.node!r}: no such node in this run"
    if kinds.get(answer.node) is not NodeKind.APPROVAL:
        return f"{answer.node!r}: not an approval node"
    if status.state is not NodeState.RUNNING:
        return f"{answer.node!r}: not waiting for approval (it is {status.state.value})"
    return None


def record(answer: ApprovalAnswer, prompt: str, at: datetime) -> ApprovalRecord:
    return ApprovalRecord(
        approved=answer.approve, by=answer.by, at=at, comment=answer.comment, prompt=prompt
    )


def rejection(answer: ApprovalAnswer) -> str:
    """The error a rejected approval node records."""
    said = f": {answer.comment}" if answer.comment else ""
    return f"rejected by {answer.by}{said}"


def deadline(started_at: datetime, timeout: timedelta) -> datetime:
    """When an unanswered approval times out: from when the node started waiting, so a run
    that continues-as-new waits only for what is left."""
    return started_at + timeout


def waiting_for_approval(
    nodes: Mapping[str, NodeStatus], kinds: Mapping[str, NodeKind]
) -> list[str]:
    """Approval nodes waiting now, in file order: for the status, the memo and `pit dag list`."""
    return [
        node_id
        for node_id, status in nodes.items()
        if status.state is NodeState.RUNNING and kinds.get(node_id) is NodeKind.APPROVAL
    ]
