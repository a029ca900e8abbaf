"""The messages between an arbiter and those who ask it for resources: a request (with where
to send the answer), a reply, a reference to a request. Plain models, so the arbiter, the DAG
workflow, activities and clients share them."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pit.arbitration.model import ArbiterConfig, Rationale, Request
from pit.common.validation import Duration

GRANT_SIGNAL = "pit.arbiter.grant"
"""The signal an arbiter sends a requesting workflow with its `Answers`: a workflow that asks
with `reply_to` handles it."""
MAX_BATCH = 200
"""Requests (or answers, or ids) in one signal: well under Temporal's 2 MB payload limit."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def arbiter_workflow_id(domain: str) -> str:
    return f"pit-arbiter-{domain}"


class ReplyTo(_Model):
    """The workflow run that waits for the answer (its run: a closed run gets no grant)."""

    workflow_id: str
    run_id: str | None = None


class Submission(_Model):
    """Register requests (idempotent by id); the answers are signalled to `reply_to`. One
    signal carries what a run asks for in one workflow task."""

    requests: list[Request] = Field(max_length=MAX_BATCH)
    lease: Duration | None = None
    reply_to: ReplyTo | None = None


class AcquireRequest(_Model):
    """Register a request from a program that is not a workflow: answered at once, `wait`
    meaning it polls `request_state` until that says otherwise."""

    request: Request
    lease: Duration | None = None


class GrantReply(_Model):
    request: str
    action: Literal["grant", "wait", "reject", "preempt"]
    rationale: Rationale | None = None
    reason: str | None = None
    """Why a request was rejected or preempted (also when the rationale is not kept)."""
    lease_until: float | None = None
    """Seconds since the epoch (workflow time) at which an unrenewed grant is reclaimed."""


class Answers(_Model):
    """What an arbiter decided for requests of one run (a grant, a reject, a preemption)."""

    domain: str
    replies: list[GrantReply] = Field(max_length=MAX_BATCH)


class Outgoing(_Model):
    """Answers for one run, as the arbiter hands them to its `pit.arbiter.answer` activity."""

    to: ReplyTo
    answers: Answers


class RequestRef(_Model):
    request: str


class RequestIds(_Model):
    """Grants to give back or renew (or waiting requests to withdraw), in one signal."""

    requests: list[str] = Field(max_length=MAX_BATCH)


class EnsureArbiter(_Model):
    """Start the domain's arbiter with this config unless it is already running."""

    domain: str
    config: ArbiterConfig
    lease: timedelta
