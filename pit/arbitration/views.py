"""What `pit arbiter status` shows of an arbiter: holders, waiters, conflicts, fairness."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from pit.arbitration import Arbiter, FairnessReport


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HolderView(_Model):
    request: str
    tenant: str
    priority: int
    demands: dict[str, int]
    granted_at: float
    lease_until: float | None


class WaiterView(_Model):
    request: str
    tenant: str
    priority: int
    demands: dict[str, int]
    arrival: float


class ArbiterStatus(_Model):
    domain: str
    strategy: str
    now: float
    holders: list[HolderView]
    waiters: list[WaiterView]
    conflicts: list[str]
    fairness: FairnessReport
    free: dict[str, int]
    recent_grants: list[str] = []
    """The last grants (up to 1,000), oldest first: the order the engine decided."""
    undelivered: int = 0
    """Answers decided but not yet signalled to the runs waiting for them."""


def status_of(
    domain: str,
    arbiter: Arbiter,
    leases: dict[str, float],
    recent_grants: list[str],
    undelivered: int,
) -> ArbiterStatus:
    ledger = arbiter.ledger
    return ArbiterStatus(
        domain=domain,
        strategy=arbiter.config.strategy,
        now=arbiter.now,
        holders=[
            HolderView(
                request=h.request.id,
                tenant=h.request.tenant,
                priority=h.request.priority,
                demands=dict(h.request.demands),
                granted_at=h.granted_at,
                lease_until=leases.get(h.request.id),
            )
            for h in ledger.granted.values()
        ],
        waiters=[
            WaiterView(
                request=w.request.id,
                tenant=w.request.tenant,
                priority=w.request.priority,
                demands=dict(w.request.demands),
                arrival=w.arrival,
            )
            for w in ledger.waiting.values()
        ],
        conflicts=[":".join(p for p in key if p) for key in arbiter.detector.active],
        fairness=arbiter.fairness_report(),
        free=ledger.free,
        recent_grants=recent_grants,
        undelivered=undelivered,
    )
