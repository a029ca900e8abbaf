"""The DAG file: what a user writes, as pydantic models that refuse unknown keys."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pit.arbitration.model import ArbiterConfig
from pit.common.validation import NAME_RULE, ByteSize, Duration
from pit.dag.limits import MAX_CONDITION_CHARS, MAX_MAP_ITEMS, NAME, inputs_problem
from pit.dag.limits import NAME_RULE as DAG_NAME_RULE
from pit.dag.options import ApprovalSpec, CacheSpec, Trigger
from pit.dag.refs import REFERENCE

_Inputs = TypeVar("_Inputs", bound=dict[str, Any] | list[Any] | str)
NODE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
ACTIVITY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,199}")
ENGINE_MAX_PARALLEL = 500
"""Running nodes per workflow at most: Temporal advises ~500 concurrent operations per
workflow, and its pending-activity cap (2,000) is all-or-nothing."""
DEFAULT_MAX_PARALLEL = 100
"""Running nodes when a DAG does not say: as fast as 500 on the dev server (it is the
bottleneck), but each workflow task has fewer completions to take in. Measured on a 20,000-node
run (2 cores): at 500, tasks took up to 2.3 s, near the 2 s deadlock check, and the server
force-closed some for buffering too many events; at 100, at most 0.5 s and none."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetrySpec(_Strict):
    max_attempts: int = Field(default=3, ge=1, le=1000)
    initial_interval: Duration = timedelta(seconds=1)
    backoff_coefficient: float = Field(default=2.0, ge=1.0, le=100.0)
    maximum_interval: Duration | None = None
    non_retryable_errors: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _intervals_make_sense(self) -> RetrySpec:
        if self.initial_interval <= timedelta(0):
            raise ValueError("initial_interval must be > 0")
        if self.maximum_interval is not None and self.maximum_interval < self.initial_interval:
            raise ValueError("maximum_interval must be >= initial_interval")
        return self


class FallbackSpec(_Strict):
    activity: str
    inputs: dict[str, Any] | None = None
    """None: the failed node's own (resolved) inputs."""

    @field_validator("activity")
    @classmethod
    def _activity_name(cls, value: str) -> str:
        return _check_activity(value)

    @field_validator("inputs")
    @classmethod
    def _inputs_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else _check_inputs_size(value)


class FallbackChoice(_Strict):
    fallback: FallbackSpec


OnFailure = Literal["fail", "skip"] | FallbackChoice


class ArbiterSection(_Strict):
    """Which arbiter grants the nodes' `resources`, and (optionally) how to start it."""

    domain: str = Field(default="default", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    config: ArbiterConfig | None = None
    """Capacities, tenants and strategy; None: the domain's arbiter must already run."""
    lease: Duration = timedelta(minutes=10)
    """A grant not renewed for this long is reclaimed (a run renews while its node runs)."""


class Defaults(_Strict):
    timeout: Duration = timedelta(minutes=5)
    heartbeat: Duration | None = None
    retry: RetrySpec = RetrySpec()
    model_pickup: Duration = Field(default=timedelta(seconds=30), gt=timedelta(0))
    """How long a pool host may take to pick up a model node's work before it counts as gone
    and the node is placed again without it."""


class NodeSpec(_Strict):
    id: str
    activity: str | None = None
    dag: DagSpec | None = None
    """A child graph instead of an activity: run as a child workflow whose `${inputs.*}` are
    this node's resolved inputs; its output maps each of its sink nodes to that node's output."""
    depends_on: tuple[str, ...] = ()
    inputs: dict[str, Any] | str = Field(default_factory=dict)
    """A mapping, or one whole reference (`${nodes.a.output}`) whose value is the mapping."""
    timeout: Duration | None = None
    """Start-to-close timeout of one attempt; default: `defaults.timeout`."""
    heartbeat: Duration | None = None
    """Heartbeat timeout: a lost worker is noticed this fast (activities must heartbeat)."""
    retry: RetrySpec | None = None
    on_failure: OnFailure = "fail"
    resources: dict[str, ByteSize] | None = None
    """Granted by the DAG's arbiter before the node runs, given back after, however it ends."""
    priority: int = Field(default=0, ge=-1_000_000, le=1_000_000)
    tenant: str | None = None
    """Whose share the grant counts against; default: the DAG's name."""
    model: str | None = None
    """A pool model the node needs: it runs on a host where that model is hot (or on the
    host chosen to warm it), after the model is made hot there."""
    local: bool = False
    """Run the activity as a local activity, inside the worker running the run's workflow:
    a few milliseconds instead of a round trip through the server, for light work. It retries
    in that worker, cannot heartbeat, and its result is durable only when the workflow task
    ends, so a crashed worker runs it again: keep local nodes short and idempotent."""
    for_each: str | list[Any] | None = None
    """A map node: one `${...}` reference to a list, or a literal list. The node runs once per
    item (`${item}`, `${index}` in its inputs); its output is the list of item outputs."""
    max_parallel: int | None = Field(default=None, ge=1)
    """A map node's items in flight at most (the DAG's `max_parallel` caps them too)."""
    when: str | None = Field(default=None, max_length=MAX_CONDITION_CHARS)
    """A CEL condition (pit.dag.expressions); false: the node is skipped. In a map node, one
    that mentions `${item}` or `${index}` is evaluated for each item instead."""
    trigger: Trigger = Trigger.ALL_SUCCEEDED
    cache: CacheSpec | None = None
    approval: ApprovalSpec | None = None
    """An approval gate instead of an activity: the node waits for a person's answer."""

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if NODE_ID.fullmatch(value) is None:
            raise ValueError(NAME_RULE)
        return value

    @field_validator("activity")
    @classmethod
    def _activity_name(cls, value: str | None) -> str | None:
        return None if value is None else _check_activity(value)

    @field_validator("model")
    @classmethod
    def _model_id(cls, value: str | None) -> str | None:
        if value is not None and NODE_ID.fullmatch(value) is None:
            raise ValueError(NAME_RULE)
        return value

    @field_validator("inputs")
    @classmethod
    def _whole_reference(cls, value: dict[str, Any] | str) -> dict[str, Any] | str:
        if isinstance(value, str) and REFERENCE.fullmatch(value.strip()) is None:
            raise ValueError("inputs is a mapping, or exactly one ${...} reference")
        return _check_inputs_size(value)

    @field_validator("for_each", mode="before")
    @classmethod
    def _list_or_reference(cls, value: Any) -> Any:
        # before the str | list union: one problem line, not one per member
        is_reference = isinstance(value, str) and REFERENCE.fullmatch(value.strip()) is not None
        if not (is_reference or value is None or isinstance(value, list)):
            raise ValueError("for_each is a list, or exactly one ${...} reference to a list")
        if isinstance(value, list) and len(value) > MAX_MAP_ITEMS:
            raise ValueError(f"{len(value)} items, over the limit of {MAX_MAP_ITEMS:,}")
        return value if value is None else _check_inputs_size(value)

    @model_validator(mode="after")
    def _one_kind_of_step(self) -> NodeSpec:
        if self.approval is not None:
            return self  # what may not go with it is checked with its field (pit.dag.features)
        if (self.activity is None) == (self.dag is None):
            raise ValueError("a node has exactly one of activity and dag, or is an approval")
        if self.model is not None and self.dag is not None:
            raise ValueError("model goes on an activity node, not on a child dag")
        if self.local and (self.dag is not None or self.model is not None or self.heartbeat):
            raise ValueError(
                "local goes on an activity node without model or heartbeat (it runs in the "
                "run's own worker and cannot heartbeat)"
            )
        return self

    @property
    def step(self) -> str:
        """What the node runs, for fingerprints and messages: the activity, the child graph,
        or `approval`."""
        if self.activity is not None:
            return self.activity
        if self.dag is not None:
            return f"dag:{self.dag.name}"
        return "approval"

    @property
    def is_map(self) -> bool:
        return self.for_each is not None

    @property
    def fallback(self) -> FallbackSpec | None:
        return self.on_failure.fallback if isinstance(self.on_failure, FallbackChoice) else None


class DagSettings(_Strict):
    """What a DAG says about its run as a whole: everything but its nodes."""

    name: str
    max_parallel: int | None = Field(default=None, ge=1)
    fail_fast: bool = False
    defaults: Defaults = Defaults()
    arbiter: ArbiterSection | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if NAME.fullmatch(value) is None:
            raise ValueError(DAG_NAME_RULE)
        return value

    @property
    def parallel_limit(self) -> int:
        return min(self.max_parallel or DEFAULT_MAX_PARALLEL, ENGINE_MAX_PARALLEL)

    def timeout_of(self, node: NodeSpec) -> timedelta:
        return node.timeout or self.defaults.timeout

    def retry_of(self, node: NodeSpec) -> RetrySpec:
        return node.retry or self.defaults.retry

    def heartbeat_of(self, node: NodeSpec) -> timedelta | None:
        return node.heartbeat or self.defaults.heartbeat


class DagSpec(DagSettings):
    """A DAG file: its settings and its nodes."""

    nodes: tuple[NodeSpec, ...] = Field(min_length=1)


def _check_inputs_size(value: _Inputs) -> _Inputs:
    problem = inputs_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _check_activity(value: str) -> str:
    if ACTIVITY_NAME.fullmatch(value) is None:
        raise ValueError("an activity name such as pit.shell or mypkg.review")
    return value


NodeSpec.model_rebuild()
