"""The arbiter's data: resources, tenants, requests, events, configuration and decisions."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pit.common.validation import NAME_RULE, ByteSize, Duration

Strategy = Literal["priority", "round_robin", "weighted_fair", "collaborative"]
STRATEGIES: tuple[Strategy, ...] = ("priority", "round_robin", "weighted_fair", "collaborative")
Action = Literal["grant", "wait", "reject", "preempt"]
ConflictType = Literal[
    "contention", "memory_pressure", "exclusive_clash", "quota_breach", "deadlock"
]

_RESOURCE = re.compile(r"[A-Za-z0-9_.:/@-]{1,128}")
_NAME = re.compile(r"[A-Za-z0-9_.:@-]{1,128}")
RESOURCE_RULE = "1 to 128 characters from A-Z a-z 0-9 _ . : / @ -"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_resource(name: str) -> str:
    if _RESOURCE.fullmatch(name) is None:
        raise ValueError(f"resource name {name!r}: {RESOURCE_RULE}")
    return name


def _check_id(name: str) -> str:
    if _NAME.fullmatch(name) is None:
        raise ValueError(f"{name!r}: {NAME_RULE} (and . : @)")
    return name


class ResourceSpec(_Model):
    """A named capacity: bytes of memory, model slots, cores, a lock."""

    capacity: ByteSize = Field(ge=1)
    exclusive: bool = False
    """One holder at a time, whatever it asks for."""
    shareable: bool = False
    """Collaborative strategy: requests with the same `share` key take one grant together."""
    kind: Literal["memory", "count"] | None = None
    """Memory is watched for pressure; unset: memory when the name ends in `mem`."""

    @model_validator(mode="after")
    def _not_both(self) -> ResourceSpec:
        if self.exclusive and self.shareable:
            raise ValueError("a resource cannot be both exclusive and shareable")
        return self


class TenantSpec(_Model):
    weight: float = Field(default=1.0, gt=0, le=1_000_000)
    quota: dict[str, ByteSize] = Field(default_factory=dict)
    """Most a tenant may hold of each resource at once."""


class FairnessConfig(_Model):
    window: Duration = timedelta(minutes=5)
    """The sliding window of the fairness monitor (logical time)."""
    tolerance: float = Field(default=0.1, ge=0)
    """A tenant is over-served above entitled share x (1 + tolerance)."""
    penalty: int = Field(default=2, ge=0)
    """Priority levels an over-served or flooding tenant loses while it is so."""
    flood_factor: float = Field(default=3.0, gt=1)
    """Flooding: waiting requests per weight above flood_factor x the other tenants'."""
    flood_minimum: int = Field(default=8, ge=1)
    """Fewer waiting requests than this are never called a flood."""


class ArbiterConfig(_Model):
    """How one resource domain is arbitrated."""

    strategy: Strategy = "priority"
    resources: dict[str, ResourceSpec]
    tenants: dict[str, TenantSpec] = Field(default_factory=dict)
    aging_interval: Duration | None = timedelta(seconds=10)
    """A waiting request gains one priority level per interval; None: no aging."""
    memory_pressure: float = Field(default=0.9, gt=0, le=1)
    """Memory pressure: projected use above this fraction of capacity."""
    fairness: FairnessConfig = FairnessConfig()
    resolve_deadlocks: bool = True
    """Preempt the lowest-ranked holder of a deadlock cycle."""

    @field_validator("resources", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return resource_shorthand(value)

    @field_validator("resources")
    @classmethod
    def _resources(cls, value: dict[str, ResourceSpec]) -> dict[str, ResourceSpec]:
        if not value:
            raise ValueError("at least one resource is needed")
        for name in value:
            _check_resource(name)
        return value

    @field_validator("tenants")
    @classmethod
    def _tenants(cls, value: dict[str, TenantSpec]) -> dict[str, TenantSpec]:
        for name in value:
            _check_id(name)
        return value

    @model_validator(mode="after")
    def _quotas_known(self) -> ArbiterConfig:
        for tenant, spec in self.tenants.items():
            for resource in spec.quota:
                if resource not in self.resources:
                    raise ValueError(f"tenants.{tenant}.quota: no resource {resource!r}")
        return self

    def tenant(self, name: str) -> TenantSpec:
        """The tenant's settings; an unknown tenant has weight 1 and no quota."""
        return self.tenants.get(name) or _DEFAULT_TENANT

    def is_memory(self, resource: str) -> bool:
        kind = self.resources[resource].kind
        return kind == "memory" if kind is not None else resource.lower().endswith("mem")

    @property
    def aging_seconds(self) -> float | None:
        if self.aging_interval is None or self.aging_interval.total_seconds() <= 0:
            return None
        return self.aging_interval.total_seconds()


_DEFAULT_TENANT = TenantSpec()


def resource_shorthand(value: Any) -> Any:
    """`gpu0.mem: 80GB` is `gpu0.mem: {capacity: 80GB}`."""
    if isinstance(value, dict):
        return {
            k: v if isinstance(v, dict | ResourceSpec) else {"capacity": v}
            for k, v in value.items()
        }
    return value


class Request(_Model):
    """Someone asks for resources; all of its demands are granted together or not at all."""

    id: str
    tenant: str
    priority: int = Field(default=0, ge=-1_000_000, le=1_000_000)
    demands: dict[str, ByteSize]
    arrival: float | None = None
    """Logical time it arrived; unset: the time of the event that submits it."""
    max_wait: Duration | None = None
    """Rejected when still waiting this long after arrival."""
    hold: Duration | None = None
    """Simulator: released this long after its grant."""
    owner: str | None = None
    """Who holds the grant (a job, a DAG run); deadlocks are cycles among owners."""
    share: str | None = None
    """Collaborative: requests with the same key share one grant of shareable resources."""

    @field_validator("id", "tenant", "owner", "share")
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        return None if value is None else _check_id(value)

    @field_validator("demands")
    @classmethod
    def _demands(cls, value: dict[str, int]) -> dict[str, int]:
        if not value:
            raise ValueError("at least one demand is needed")
        for resource, amount in value.items():
            _check_resource(resource)
            if amount <= 0:
                raise ValueError(f"demand on {resource!r} must be > 0")
        return value

    @property
    def holder(self) -> str:
        return self.owner or self.id


class Submit(_Model):
    kind: Literal["submit"] = "submit"
    t: float
    request: Request


class Release(_Model):
    kind: Literal["release"] = "release"
    t: float
    request: str
    reason: str = "released"


class Tick(_Model):
    """Time passes: expire waits, reclaim leases, recompute fairness."""

    kind: Literal["tick"] = "tick"
    t: float


Event = Annotated[Submit | Release | Tick, Field(discriminator="kind")]

Number = int | float | str


class Rationale(_Model):
    """Why a decision was taken, in numbers."""

    strategy: Strategy
    reason: str
    conflict: list[str] = Field(default_factory=list)
    winner: str | None = None
    waiters: list[str] = Field(default_factory=list)
    """The first few requests still waiting behind (or ahead of) this one."""
    numbers: dict[str, Number] = Field(default_factory=dict)
    corrections: list[str] = Field(default_factory=list)


class Decision(_Model):
    t: float
    request: str
    action: Action
    rationale: Rationale


class Conflict(_Model):
    t: float
    type: ConflictType
    requests: list[str]
    resources: list[str]
    tenant: str | None = None


class StepResult(_Model):
    decisions: list[Decision]
    conflicts: list[Conflict]
    """Conflicts that became active at this step."""


def dump_numbers(values: dict[str, Any]) -> dict[str, Number]:
    """Rationale numbers, floats rounded so the text is stable and short."""
    return {k: plain_number(v) if isinstance(v, float) else v for k, v in values.items()}


def plain_number(value: float) -> int | float:
    """Whole floats as ints, others to 6 decimals: short, stable JSON."""
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return round(value, 6)
