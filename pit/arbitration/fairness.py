"""The fairness monitor: weight-normalised dominant-share allocations per tenant over a
sliding window of logical time, their Gini coefficient, and the corrections it asks for."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from pit.arbitration.ledger import Ledger
from pit.arbitration.model import ArbiterConfig

_PRUNE_AFTER = 64


class TenantFairness(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    weight: float
    share: float
    """This tenant's part of the window's dominant-share-seconds."""
    entitled_share: float
    """weight / sum of the weights of the tenants active in the window."""
    dominant_share: float
    """Its dominant share right now (largest held fraction of any resource)."""
    waiting: int
    penalty: int


class FairnessReport(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    t: float
    gini: float
    deviation: float
    """Largest |share - entitled| / entitled among active tenants."""
    tenants: dict[str, TenantFairness]
    corrections: list[str]


def gini(values: list[float]) -> float:
    """Gini coefficient: 0 when all equal, towards 1 when one has everything."""
    count = len(values)
    total = sum(values)
    if count < 2 or total <= 0:
        return 0.0
    ordered = sorted(values)
    # sum_i sum_j |x_i - x_j| = 2 * sum_i (2i - n + 1) x_(i) over the sorted values
    spread = sum((2 * i - count + 1) * x for i, x in enumerate(ordered))
    return spread / (count * total)


@dataclass
class _Timeline:
    """A tenant's dominant share as a step function of time, with running integrals."""

    times: list[float] = field(default_factory=list)
    levels: list[float] = field(default_factory=list)
    integrals: list[float] = field(default_factory=list)

    def set(self, t: float, level: float) -> None:
        if self.times and self.times[-1] == t:
            self.levels[-1] = level
            return
        self.integrals.append(self.integral_to(t))
        self.times.append(t)
        self.levels.append(level)

    def integral_to(self, t: float) -> float:
        at = bisect.bisect_right(self.times, t) - 1
        if at < 0:
            return 0.0
        return self.integrals[at] + self.levels[at] * (t - self.times[at])

    def prune(self, before: float) -> None:
        keep_from = bisect.bisect_right(self.times, before) - 1
        if keep_from > _PRUNE_AFTER:
            del self.times[:keep_from], self.levels[:keep_from], self.integrals[:keep_from]


class FairnessMonitor:
    def __init__(self, config: ArbiterConfig) -> None:
        self.config = config
        self.window = config.fairness.window.total_seconds()
        self.timelines: dict[str, _Timeline] = {}
        self.last_active: dict[str, float] = {}
        self.penalties: dict[str, int] = {}
        self.corrections: dict[str, str] = {}

    def observe(self, ledger: Ledger, tenants: list[str], now: float) -> None:
        """Record the dominant share of each tenant an event touched."""
        for tenant in tenants:
            self.timelines.setdefault(tenant, _Timeline()).set(now, ledger.dominant_share(tenant))
            self.last_active[tenant] = now

    def active(self, ledger: Ledger, now: float) -> list[str]:
        start = now - self.window
        return sorted(
            tenant
            for tenant, seen in self.last_active.items()
            if seen >= start
            or ledger.tenant_waiting.get(tenant, 0) > 0
            or ledger.dominant_share(tenant) > 0
        )

    def allocations(self, ledger: Ledger, now: float) -> dict[str, float]:
        """Dominant-share-seconds of each active tenant over the window."""
        start = now - self.window
        result: dict[str, float] = {}
        for tenant in self.active(ledger, now):
            line = self.timelines.get(tenant)
            if line is None:
                result[tenant] = 0.0
                continue
            line.prune(start)
            result[tenant] = max(0.0, line.integral_to(now) - line.integral_to(start))
        return result

    def report(self, ledger: Ledger, now: float) -> FairnessReport:
        allocated = self.allocations(ledger, now)
        weights = {t: self.config.tenant(t).weight for t in allocated}
        total = sum(allocated.values())
        total_weight = sum(weights.values())
        tenants: dict[str, TenantFairness] = {}
        deviation = 0.0
        for tenant, amount in allocated.items():
            share = amount / total if total > 0 else 0.0
            entitled = weights[tenant] / total_weight if total_weight > 0 else 0.0
            if total > 0 and entitled > 0:
                deviation = max(deviation, abs(share - entitled) / entitled)
            tenants[tenant] = TenantFairness(
                weight=weights[tenant],
                share=share,
                entitled_share=entitled,
                dominant_share=ledger.dominant_share(tenant),
                waiting=ledger.tenant_waiting.get(tenant, 0),
                penalty=self.penalties.get(tenant, 0),
            )
        normalised = [allocated[t] / weights[t] for t in allocated]
        return FairnessReport(
            t=now,
            gini=gini(normalised),
            deviation=deviation,
            tenants=tenants,
            corrections=list(self.corrections.values()),
        )

    def correct(self, ledger: Ledger, now: float) -> FairnessReport:
        """Lower the effective priority of over-served and flooding tenants, while they are."""
        report = self.report(ledger, now)
        rules = self.config.fairness
        total_waiting = sum(ledger.tenant_waiting.values())
        self.penalties.clear()
        self.corrections.clear()
        for tenant, seen in report.tenants.items():
            others_wait = total_waiting - seen.waiting > 0
            reasons: list[str] = []
            if others_wait and seen.share > seen.entitled_share * (1 + rules.tolerance):
                reasons.append(
                    f"over-served: share {seen.share:.3f} > entitled "
                    f"{seen.entitled_share:.3f} x {1 + rules.tolerance:g}"
                )
            others_weight = sum(t.weight for n, t in report.tenants.items() if n != tenant)
            others_backlog = (total_waiting - seen.waiting) / others_weight if others_weight else 0
            backlog = seen.waiting / seen.weight
            if (
                total_waiting >= rules.flood_minimum
                and others_backlog > 0
                and backlog > rules.flood_factor * others_backlog
            ):
                reasons.append(
                    f"flooding: {seen.waiting} waiting per weight {backlog:.1f} > "
                    f"{rules.flood_factor:g} x the others' {others_backlog:.1f}"
                )
            if reasons and rules.penalty:
                self.penalties[tenant] = rules.penalty
                self.corrections[tenant] = (
                    f"{tenant} {' and '.join(reasons)}: priority -{rules.penalty}"
                )
        return report
