"""The engine's state as data: what continue-as-new carries and `step` takes and returns."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from pit.arbitration.fairness import FairnessMonitor, _Timeline
from pit.arbitration.model import Request


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GrantRecord(_Record):
    request: Request
    arrival: float
    granted_at: float
    charged: dict[str, int]


class WaitRecord(_Record):
    request: Request
    arrival: float
    deadline: float | None = None


class TimelineRecord(_Record):
    times: list[float]
    levels: list[float]
    integrals: list[float]


class ArbiterSnapshot(_Record):
    """Everything the engine knows, in grant and arrival order."""

    now: float = 0.0
    last_served: str | None = None
    granted: list[GrantRecord] = Field(default_factory=list)
    waiting: list[WaitRecord] = Field(default_factory=list)
    timelines: dict[str, TimelineRecord] = Field(default_factory=dict)
    last_active: dict[str, float] = Field(default_factory=dict)

    @classmethod
    def capture(
        cls,
        *,
        now: float,
        last_served: str | None,
        granted: list[GrantRecord],
        waiting: list[WaitRecord],
        fairness: FairnessMonitor,
    ) -> ArbiterSnapshot:
        start = now - fairness.window
        timelines: dict[str, TimelineRecord] = {}
        for tenant, line in fairness.timelines.items():
            line.prune(start)
            timelines[tenant] = TimelineRecord(
                times=list(line.times), levels=list(line.levels), integrals=list(line.integrals)
            )
        return cls(
            now=now,
            last_served=last_served,
            granted=granted,
            waiting=waiting,
            timelines=timelines,
            last_active=dict(fairness.last_active),
        )

    def restore_fairness(self, fairness: FairnessMonitor) -> None:
        fairness.timelines = {
            tenant: _Timeline(list(r.times), list(r.levels), list(r.integrals))
            for tenant, r in self.timelines.items()
        }
        fairness.last_active = dict(self.last_active)
