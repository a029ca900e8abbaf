"""Approval gates in the pure layer: which answers a run takes, and what it records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from pit.dag.approval import (
    ApprovalAnswer,
    answer_problem,
    deadline,
    record,
    rejection,
    waiting_for_approval,
)
from pit.dag.compiled import NodeKind
from pit.dag.status import NodeState, NodeStatus

KINDS = {"gate": NodeKind.APPROVAL, "map": NodeKind.MAP}


def nodes(gate: NodeState) -> dict[str, NodeStatus]:
    return {
        "build": NodeStatus(state=NodeState.SUCCEEDED),
        "gate": NodeStatus(state=gate),
        "map": NodeStatus(state=NodeState.RUNNING),
    }


@pytest.mark.parametrize(
    ("node", "state", "problem"),
    [
        ("gate", NodeState.RUNNING, None),
        ("ghost", NodeState.RUNNING, "'ghost': no such node in this run"),
        ("build", NodeState.RUNNING, "'build': not an approval node"),
        ("map", NodeState.RUNNING, "'map': not an approval node"),
        ("gate", NodeState.PENDING, "'gate': not waiting for approval (it is pending)"),
        ("gate", NodeState.SUCCEEDED, "'gate': not waiting for approval (it is succeeded)"),
    ],
)
def test_only_a_waiting_approval_node_takes_an_answer(
    node: str, state: NodeState, problem: str | None
) -> None:
    answer = ApprovalAnswer(node=node, by="ana")
    assert answer_problem(nodes(state), KINDS, answer) == problem


def test_the_record_says_who_answered_when_and_how() -> None:
    at = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    answer = ApprovalAnswer(node="gate", approve=False, comment="not today", by="ana")
    kept = record(answer, "Ship v2?", at)
    assert kept.model_dump(mode="json") == {
        "approved": False,
        "by": "ana",
        "at": "2026-11-27T10:00:00.000+00:00",
        "comment": "not today",
        "prompt": "Ship v2?",
    }
    assert rejection(answer) == "rejected by ana: not today"


def test_an_answer_needs_a_name_and_a_short_comment() -> None:
    with pytest.raises(ValidationError):
        ApprovalAnswer(node="gate", by="")
    with pytest.raises(ValidationError):
        ApprovalAnswer(node="gate", by="ana", comment="x" * 2001)


def test_waiting_nodes_and_the_deadline_survive_a_restart() -> None:
    assert waiting_for_approval(nodes(NodeState.RUNNING), KINDS) == ["gate"]
    assert waiting_for_approval(nodes(NodeState.PENDING), KINDS) == []
    started = datetime(2026, 11, 27, tzinfo=UTC)
    assert deadline(started, timedelta(hours=24)) == started + timedelta(days=1)
