"""Replay a scenario in logical time and report decisions, conflicts, shares, Gini and waits."""

from __future__ import annotations

import heapq
import statistics
from dataclasses import dataclass, field
from typing import Any

from pit.arbitration.engine import Arbiter
from pit.arbitration.fairness import _Timeline
from pit.arbitration.model import (
    ArbiterConfig,
    Event,
    Release,
    Request,
    Submit,
    Tick,
    plain_number,
)
from pit.arbitration.scenario import Scenario

# at one instant: hold expiries first, then the file's events in order, then timers
_HOLD_END, _FILE, _TIMER = 0, 1, 2


@dataclass
class _Account:
    """Per tenant: grants, resource-seconds, dominant-share-seconds."""

    granted: int = 0
    held: dict[str, int] = field(default_factory=dict)
    resource_seconds: dict[str, float] = field(default_factory=dict)
    dominant: _Timeline = field(default_factory=_Timeline)


@dataclass
class _Simulation:
    config: ArbiterConfig
    arbiter: Arbiter
    accounts: dict[str, _Account]
    queue: list[tuple[float, int, int, Event]] = field(default_factory=list)
    sequence: int = 0
    clock: float = 0.0
    arrivals: dict[str, tuple[float, Request]] = field(default_factory=dict)
    ended: dict[str, float] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    gini: list[dict[str, Any]] = field(default_factory=list)
    timers: dict[float, None] = field(default_factory=dict)

    def push(self, t: float, phase: int, event: Event) -> None:
        self.sequence += 1
        heapq.heappush(self.queue, (t, phase, self.sequence, event))

    def advance(self, t: float) -> None:
        elapsed = t - self.clock
        if elapsed > 0:
            for account in self.accounts.values():
                for resource, amount in account.held.items():
                    account.resource_seconds[resource] += amount * elapsed
        self.clock = t

    def run(self) -> None:
        while self.queue:
            t, _, _, event = heapq.heappop(self.queue)
            self.advance(t)
            if isinstance(event, Submit):
                self.arrivals[event.request.id] = (t, event.request)
            result = self.arbiter.apply(event)
            for decision in result.decisions:
                self.record(decision.t, decision.request, decision.action)
                document = decision.model_dump(mode="json")
                document["t"] = plain_number(decision.t)
                self.decisions.append(document)
            for conflict in result.conflicts:
                self.conflicts.append(
                    {
                        "t": plain_number(conflict.t),
                        "type": conflict.type,
                        "requests": conflict.requests,
                        "resources": conflict.resources,
                    }
                )
            self.snapshot_holdings(t)
            timer = self.arbiter.next_timer()
            if timer is not None and timer > t and timer not in self.timers:
                self.timers[timer] = None
                self.push(timer, _TIMER, Tick(t=timer))
            if not self.queue or self.queue[0][0] > t:
                value = self.arbiter.fairness_report().gini
                self.gini.append({"t": plain_number(t), "value": plain_number(value)})

    def record(self, t: float, request_id: str, action: str) -> None:
        request = self.arrivals[request_id][1]
        if action == "grant":
            self.accounts[request.tenant].granted += 1
            self.ended[request_id] = t
            if request.hold is not None:
                end = t + request.hold.total_seconds()
                self.push(end, _HOLD_END, Release(t=end, request=request_id, reason="hold"))
        elif action == "reject":
            self.ended.setdefault(request_id, t)

    def snapshot_holdings(self, t: float) -> None:
        ledger = self.arbiter.ledger
        for tenant, account in self.accounts.items():
            account.held = {r: v for r, v in ledger.tenant_held.get(tenant, {}).items() if v}
            for resource in account.held:
                account.resource_seconds.setdefault(resource, 0.0)
            account.dominant.set(t, ledger.dominant_share(tenant))


def simulate(scenario: Scenario, config: ArbiterConfig) -> dict[str, Any]:
    """The `--json` document of `pit arbitrate`: the same scenario gives the same bytes."""
    tenants = sorted(
        set(scenario.tenants) | {e.request.tenant for e in scenario.events if e.request}
    )
    run = _Simulation(config, Arbiter(config), {t: _Account() for t in tenants})
    for event in scenario.events:
        if event.request is not None:
            run.push(event.t, _FILE, Submit(t=event.t, request=event.request))
        else:
            assert event.release is not None
            run.push(event.t, _FILE, Release(t=event.t, request=event.release))
    run.run()
    return {
        "decisions": run.decisions,
        "conflicts": run.conflicts,
        "tenants": _tenant_report(run, scenario),
        "gini": run.gini,
        "wait_seconds": _waits(run),
    }


def _tenant_report(run: _Simulation, scenario: Scenario) -> dict[str, Any]:
    requesting = {e.request.tenant for e in scenario.events if e.request}
    weights = {t: run.config.tenant(t).weight for t in run.accounts}
    entitled_total = sum(w for t, w in weights.items() if t in requesting)
    used = {t: a.dominant.integral_to(run.clock) for t, a in run.accounts.items()}
    used_total = sum(used.values())
    report: dict[str, Any] = {}
    for tenant, account in run.accounts.items():
        report[tenant] = {
            "granted": account.granted,
            "resource_seconds": {
                r: plain_number(v) for r, v in sorted(account.resource_seconds.items())
            },
            "share": plain_number(used[tenant] / used_total if used_total else 0.0),
            "entitled_share": plain_number(
                weights[tenant] / entitled_total if tenant in requesting and entitled_total else 0.0
            ),
        }
    return report


def _waits(run: _Simulation) -> dict[str, Any]:
    by_priority: dict[int, list[float]] = {}
    for request_id, (arrival, request) in run.arrivals.items():
        end = run.ended.get(request_id, run.clock)
        by_priority.setdefault(request.priority, []).append(end - arrival)
    return {
        str(priority): {
            "p50": plain_number(statistics.median(waits)),
            "max": plain_number(max(waits)),
        }
        for priority, waits in sorted(by_priority.items(), reverse=True)
    }
