"""The ledger: who holds what, who waits for what, with the indexes the engine needs in O(1).

Every mutation records the resources, tenants and owners it touched, so the conflict
detector re-checks only those. Iteration is over dicts (insertion order) or sorted lists,
never over sets, so the same events always give the same state.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from pit.arbitration.model import ArbiterConfig, Request

QueueKey = tuple[str, tuple[str, ...]]
"""A queue: (tenant, sorted resource names). Requests of one shape wait in arrival-rank order."""
RankKey = tuple[float, float, str]
"""(-rank, arrival, id): smaller is served first; ties by arrival, then id."""


@dataclass
class Held:
    request: Request
    arrival: float
    granted_at: float
    charged: dict[str, int]
    """What the grant took from each resource (0 where it joined a share group)."""


@dataclass
class Waiting:
    request: Request
    arrival: float
    key: RankKey
    queue: QueueKey
    deadline: float | None


@dataclass
class Touched:
    resources: dict[str, None] = field(default_factory=dict)
    tenants: dict[str, None] = field(default_factory=dict)
    owners: dict[str, None] = field(default_factory=dict)

    def request(self, request: Request) -> None:
        for resource in request.demands:
            self.resources[resource] = None
        self.tenants[request.tenant] = None
        self.owners[request.holder] = None


def rank_key(request: Request, arrival: float, aging: float | None) -> RankKey:
    """Linear aging makes the order time-invariant: priority + (now - arrival) / aging
    compares like priority - arrival / aging, whatever `now` is."""
    rank = request.priority - arrival / aging if aging else float(request.priority)
    return (-rank, arrival, request.id)


class Ledger:
    """Holdings and queues of one resource domain. Mutated only by the engine."""

    def __init__(self, config: ArbiterConfig) -> None:
        self.config = config
        names = sorted(config.resources)
        self.capacity = {r: config.resources[r].capacity for r in names}
        self.used = dict.fromkeys(names, 0)
        self.pending_demand = dict.fromkeys(names, 0)
        self.waiting_on: dict[str, dict[str, None]] = {r: {} for r in names}
        self.holders: dict[str, dict[str, int]] = {r: {} for r in names}
        self.tenant_held: dict[str, dict[str, int]] = {}
        self.tenant_pending: dict[str, dict[str, int]] = {}
        self.tenant_waiting: dict[str, int] = {}
        self.granted: dict[str, Held] = {}
        self.waiting: dict[str, Waiting] = {}
        self.queues: dict[QueueKey, list[RankKey]] = {}
        self.owner_held: dict[str, dict[str, None]] = {}
        self.owner_waiting: dict[str, dict[str, None]] = {}
        self.groups: dict[tuple[str, str], dict[str, None]] = {}
        self.group_charge: dict[tuple[str, str], int] = {}
        self.touched = Touched()

    @property
    def free(self) -> dict[str, int]:
        return {r: self.capacity[r] - self.used[r] for r in self.capacity}

    def free_of(self, resource: str) -> int:
        return self.capacity[resource] - self.used[resource]

    # waiting ---------------------------------------------------------------------------

    def enqueue(self, request: Request, arrival: float, deadline: float | None) -> Waiting:
        aging = self.config.aging_seconds
        queue: QueueKey = (request.tenant, tuple(sorted(request.demands)))
        entry = Waiting(request, arrival, rank_key(request, arrival, aging), queue, deadline)
        self.waiting[request.id] = entry
        bisect.insort(self.queues.setdefault(queue, []), entry.key)
        pending = self.tenant_pending.setdefault(request.tenant, {})
        for resource, amount in request.demands.items():
            self.pending_demand[resource] += amount
            self.waiting_on[resource][request.id] = None
            pending[resource] = pending.get(resource, 0) + amount
        self.tenant_waiting[request.tenant] = self.tenant_waiting.get(request.tenant, 0) + 1
        self.owner_waiting.setdefault(request.holder, {})[request.id] = None
        self.touched.request(request)
        return entry

    def dequeue(self, request_id: str) -> Waiting:
        entry = self.waiting.pop(request_id)
        request = entry.request
        queue = self.queues[entry.queue]
        del queue[bisect.bisect_left(queue, entry.key)]
        if not queue:
            del self.queues[entry.queue]
        pending = self.tenant_pending[request.tenant]
        for resource, amount in request.demands.items():
            self.pending_demand[resource] -= amount
            del self.waiting_on[resource][request_id]
            pending[resource] -= amount
        self.tenant_waiting[request.tenant] -= 1
        waits = self.owner_waiting[request.holder]
        del waits[request_id]
        if not waits:
            del self.owner_waiting[request.holder]
        self.touched.request(request)
        return entry

    # holding ---------------------------------------------------------------------------

    def charge_for(self, request: Request, sharing: bool) -> dict[str, int]:
        """What granting `request` would take from each resource now."""
        charged: dict[str, int] = {}
        for resource, amount in request.demands.items():
            key = (resource, request.share or "")
            shareable = self.config.resources[resource].shareable
            if sharing and shareable and request.share and key in self.group_charge:
                charged[resource] = max(0, amount - self.group_charge[key])
            else:
                charged[resource] = amount
        return charged

    def grant(
        self,
        request: Request,
        arrival: float,
        now: float,
        sharing: bool,
        charged: dict[str, int] | None = None,
    ) -> Held:
        """Hand `request` its demands; `charged` restores a grant from a snapshot as it was."""
        charged = dict(charged) if charged is not None else self.charge_for(request, sharing)
        held = self.tenant_held.setdefault(request.tenant, {})
        for resource, amount in charged.items():
            self.used[resource] += amount
            self.holders[resource][request.id] = amount
            held[resource] = held.get(resource, 0) + amount
            if sharing and request.share and self.config.resources[resource].shareable:
                key = (resource, request.share)
                self.groups.setdefault(key, {})[request.id] = None
                self.group_charge[key] = self.group_charge.get(key, 0) + amount
        entry = Held(request, arrival, now, charged)
        self.granted[request.id] = entry
        self.owner_held.setdefault(request.holder, {})[request.id] = None
        self.touched.request(request)
        return entry

    def release(self, request_id: str) -> Held:
        entry = self.granted.pop(request_id)
        request = entry.request
        held = self.tenant_held[request.tenant]
        for resource, amount in entry.charged.items():
            del self.holders[resource][request_id]
            held[resource] -= amount
            key = (resource, request.share or "")
            members = self.groups.get(key)
            if members is not None and request_id in members:
                del members[request_id]
                if members:
                    # the group keeps its instance until its last member leaves; the
                    # charge moves to a remaining member so the books still add up
                    heir = next(iter(members))
                    self.granted[heir].charged[resource] += amount
                    self.holders[resource][heir] += amount
                    self.tenant_held[self.granted[heir].request.tenant][resource] += amount
                    continue
                del self.groups[key]
                del self.group_charge[key]
            self.used[resource] -= amount
        owned = self.owner_held[request.holder]
        del owned[request_id]
        if not owned:
            del self.owner_held[request.holder]
        self.touched.request(request)
        return entry

    def take_touched(self) -> Touched:
        touched, self.touched = self.touched, Touched()
        return touched

    def dominant_share(self, tenant: str) -> float:
        held = self.tenant_held.get(tenant)
        if not held:
            return 0.0
        return max((amount / self.capacity[r] for r, amount in held.items()), default=0.0)
