"""The messages between an arbiter (the `pit.arbiter` workflow) and those who ask it for
resources: a request (with where to send the answer), a reply, a reference to a request, and
what the arbiter starts and continues-as-new with. Plain models, so the arbiter workflow, the
DAG workflow, activities and clients share them without importing each other."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pit.arbitration.model import ArbiterConfig, Rationale, Request
from pit.arbitration.snapshot import ArbiterSnapshot
from pit.common.validation import Duration

ARBITER_WORKFLOW = "pit.arbiter"
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


class Delivery(_Model):
    """Answers to signal to one run (what continue-as-new carries)."""

    to: ReplyTo
    replies: list[GrantReply]


class Ending(_Model):
    """A request that was rejected or preempted, remembered so that asking again (or
    polling) gets the same answer; `asker` tells a new asker reusing the id from the old."""

    reply: GrantReply
    asker: ReplyTo | None = None


class Asker(_Model):
    """A run and the requests it waits for or holds (carried grouped: one run asks for many)."""

    to: ReplyTo
    requests: list[str]


class ArbiterInput(_Model):
    domain: str = "default"
    config: ArbiterConfig
    lease: Duration = timedelta(minutes=10)
    """A grant not renewed or released within this is reclaimed (its holder crashed)."""
    max_waiting: int = Field(default=2000, ge=1, le=2000)
    """Requests that may wait at once; beyond, a request is rejected. Bounds what
    continue-as-new carries (about 300 bytes a waiting request; Temporal's limit is 2 MB)."""
    continue_after_events: int = Field(default=5000, ge=20)
    carried: ArbiterSnapshot | None = None
    leases: dict[str, float] = Field(default_factory=dict)
    lease_lengths: dict[str, float] = Field(default_factory=dict)
    askers: list[Asker] = Field(default_factory=list)
    outbox: list[Delivery] = Field(default_factory=list)
    endings: dict[str, Ending] = Field(default_factory=dict)
    recent_grants: list[str] = Field(default_factory=list)
