"""Scenario files for `pit arbitrate`: resources, tenants and timed events, checked up front."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pit.arbitration.model import (
    ArbiterConfig,
    FairnessConfig,
    Request,
    ResourceSpec,
    Strategy,
    TenantSpec,
    resource_shorthand,
)
from pit.common.errors import InvalidInputError
from pit.common.validation import Duration, Seconds


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScenarioEvent(_Model):
    """At logical time `t`: a request arrives, or a request is released."""

    t: Seconds
    request: Request | None = None
    release: str | None = None

    @model_validator(mode="after")
    def _one_thing(self) -> ScenarioEvent:
        if (self.request is None) == (self.release is None):
            raise ValueError("an event has exactly one of request or release")
        return self


class Scenario(_Model):
    strategy: Strategy | None = None
    resources: dict[str, ResourceSpec]
    tenants: dict[str, TenantSpec] = Field(default_factory=dict)
    aging_interval: Duration | None = None
    memory_pressure: float | None = Field(default=None, gt=0, le=1)
    fairness: FairnessConfig = FairnessConfig()
    resolve_deadlocks: bool = True
    events: list[ScenarioEvent]

    @field_validator("resources", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return resource_shorthand(value)

    def config(
        self,
        strategy: Strategy = "priority",
        aging_interval: timedelta | None = timedelta(seconds=10),
        memory_pressure: float = 0.9,
    ) -> ArbiterConfig:
        """The engine's configuration; unset fields take the given defaults (settings)."""
        return ArbiterConfig(
            strategy=self.strategy or strategy,
            resources=self.resources,
            tenants=self.tenants,
            aging_interval=self.aging_interval
            if "aging_interval" in self.model_fields_set
            else aging_interval,
            memory_pressure=self.memory_pressure or memory_pressure,
            fairness=self.fairness,
            resolve_deadlocks=self.resolve_deadlocks,
        )


def parse_scenario(data: Any) -> Scenario:
    """A checked scenario, or `InvalidInputError` naming the field path, value and rule."""
    if not isinstance(data, dict):
        raise InvalidInputError.for_field("scenario", data, "must be a mapping")
    try:
        scenario = Scenario.model_validate(data)
        scenario.config()  # resources, quotas and names, checked by the engine's own rules
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        rule = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            rule = "unknown field"
        raise InvalidInputError.for_field(
            field_path(first["loc"]), first.get("input"), rule
        ) from None
    check_references(scenario)
    return scenario


def field_path(location: tuple[int | str, ...]) -> str:
    """`("events", 3, "request", "demands")` -> `events[3].request.demands`."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ("function-after[_one_thing()]",) or part.startswith("function-"):
            continue
        else:
            path += f".{part}" if path else str(part)
    return path or "scenario"


def check_references(scenario: Scenario) -> None:
    """Events in time order, known tenants and resources, unique ids, releases of requests."""
    seen: dict[str, int] = {}
    previous = 0.0
    for position, event in enumerate(scenario.events):
        where = f"events[{position}]"
        if event.t < previous:
            raise InvalidInputError.for_field(
                f"{where}.t", event.t, f"events must be sorted by t (previous t is {previous:g})"
            )
        previous = event.t
        if event.release is not None:
            if event.release not in seen:
                rule = "releases a request that no earlier event submitted"
                raise InvalidInputError.for_field(f"{where}.release", event.release, rule)
            continue
        request = event.request
        assert request is not None
        if request.id in seen:
            rule = f"duplicate of events[{seen[request.id]}].request.id"
            raise InvalidInputError.for_field(f"{where}.request.id", request.id, rule)
        seen[request.id] = position
        if scenario.tenants and request.tenant not in scenario.tenants:
            known = ", ".join(sorted(scenario.tenants))
            rule = f"no such tenant (tenants: {known})"
            raise InvalidInputError.for_field(f"{where}.request.tenant", request.tenant, rule)
        for resource in request.demands:
            if resource not in scenario.resources:
                known = ", ".join(sorted(scenario.resources))
                raise InvalidInputError.for_field(
                    f"{where}.request.demands.{resource}",
                    request.demands[resource],
                    f"no resource {resource!r} (resources: {known})",
                )
