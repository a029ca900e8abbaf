"""Conflict detection, incremental: after each event only what the event touched is re-checked.

A conflict is active while its condition holds on the ledger:

    contention       waiting demand on a resource exceeds what is free
    memory_pressure  used + waiting demand on a memory resource > pressure x capacity
    exclusive_clash  an exclusive resource is held and wanted, or wanted by two
    quota_breach     a tenant's held + waiting demand on a resource exceeds its quota
    deadlock         a cycle of owners, each holding a grant and waiting for a resource
                     that another owner on the cycle holds (and that is not free enough)

Per event the cost is O(resources and tenants the event touched), plus a cycle search over
the owners that both hold and wait (usually none).
"""

from __future__ import annotations

from pit.arbitration.ledger import Ledger, Touched
from pit.arbitration.model import Conflict, ConflictType

ConflictKey = tuple[ConflictType, str, str]
"""(type, subject, tenant): subject is a resource, or the owners of a deadlock cycle."""


class ConflictDetector:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.active: dict[ConflictKey, None] = {}
        self.hold_wait: dict[str, None] = {}
        self.cycles: dict[tuple[str, ...], list[str]] = {}

    def update(self, touched: Touched) -> list[ConflictKey]:
        """Re-check what `touched` names; return the conflicts that became active."""
        ledger = self.ledger
        config = ledger.config
        fresh: list[ConflictKey] = []
        for resource in touched.resources:
            if resource not in ledger.capacity:
                continue
            spec = config.resources[resource]
            waiting = ledger.pending_demand[resource]
            self._set(("contention", resource, ""), waiting > ledger.free_of(resource), fresh)
            if config.is_memory(resource):
                projected = ledger.used[resource] + waiting
                limit = config.memory_pressure * ledger.capacity[resource]
                self._set(("memory_pressure", resource, ""), projected > limit, fresh)
            if spec.exclusive:
                wanted = len(ledger.waiting_on[resource])
                holding = len(ledger.holders[resource])
                clash = wanted > 1 or (wanted > 0 and holding > 0)
                self._set(("exclusive_clash", resource, ""), clash, fresh)
        for tenant in touched.tenants:
            held = ledger.tenant_held.get(tenant, {})
            pending = ledger.tenant_pending.get(tenant, {})
            for resource, quota in config.tenant(tenant).quota.items():
                total = held.get(resource, 0) + pending.get(resource, 0)
                self._set(("quota_breach", resource, tenant), total > quota, fresh)
        for owner in touched.owners:
            if owner in ledger.owner_held and owner in ledger.owner_waiting:
                self.hold_wait[owner] = None
            else:
                self.hold_wait.pop(owner, None)
        self._update_deadlocks(fresh)
        return fresh

    def _set(self, key: ConflictKey, on: bool, fresh: list[ConflictKey]) -> None:
        if on:
            if key not in self.active:
                self.active[key] = None
                fresh.append(key)
        else:
            self.active.pop(key, None)

    def _update_deadlocks(self, fresh: list[ConflictKey]) -> None:
        cycles = find_cycles(self.ledger, sorted(self.hold_wait)) if self.hold_wait else {}
        for owners in list(self.cycles):
            if owners not in cycles:
                del self.active[("deadlock", ",".join(owners), "")]
        for owners in cycles:
            key: ConflictKey = ("deadlock", ",".join(owners), "")
            self._set(key, True, fresh)
        self.cycles = cycles

    def describe(self, key: ConflictKey, t: float) -> Conflict:
        """The conflict with the requests and resources it involves, now."""
        kind, subject, tenant = key
        ledger = self.ledger
        if kind == "deadlock":
            owners = tuple(subject.split(","))
            requests = [
                request_id
                for owner in owners
                for index in (ledger.owner_held, ledger.owner_waiting)
                for request_id in index.get(owner, {})
            ]
            return Conflict(
                t=t, type=kind, requests=requests, resources=self.cycles.get(owners, [])
            )
        involved = [*ledger.holders[subject], *ledger.waiting_on[subject]]
        if kind == "quota_breach":
            involved = [r for r in involved if _tenant_of(ledger, r) == tenant]
        return Conflict(
            t=t, type=kind, requests=involved, resources=[subject], tenant=tenant or None
        )


def _tenant_of(ledger: Ledger, request_id: str) -> str:
    entry = ledger.granted.get(request_id)
    if entry is not None:
        return entry.request.tenant
    return ledger.waiting[request_id].request.tenant


def blocked_on(ledger: Ledger, owner: str, demand: int, resource: str) -> bool:
    """Can `owner` not get `demand` of `resource` now, because of what others hold?"""
    if ledger.config.resources[resource].exclusive:
        return any(ledger.granted[h].request.holder != owner for h in ledger.holders[resource])
    return demand > ledger.free_of(resource)


def wait_for_graph(ledger: Ledger, owners: list[str]) -> dict[str, dict[str, list[str]]]:
    """owner -> {owner it waits for -> resources}, among `owners` only."""
    among = dict.fromkeys(owners)
    graph: dict[str, dict[str, list[str]]] = {}
    for owner in owners:
        edges: dict[str, list[str]] = {}
        for request_id in ledger.owner_waiting.get(owner, {}):
            request = ledger.waiting[request_id].request
            for resource in sorted(request.demands):
                if not blocked_on(ledger, owner, request.demands[resource], resource):
                    continue
                for holder_id in ledger.holders[resource]:
                    other = ledger.granted[holder_id].request.holder
                    if other != owner and other in among:
                        through = edges.setdefault(other, [])
                        if resource not in through:
                            through.append(resource)
        graph[owner] = edges
    return graph


def find_cycles(ledger: Ledger, owners: list[str]) -> dict[tuple[str, ...], list[str]]:
    """Strongly connected groups of two or more owners (Tarjan), with their resources."""
    graph = wait_for_graph(ledger, owners)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: dict[str, None] = {}
    found: dict[tuple[str, ...], list[str]] = {}

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack[node] = None
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                top = stack.pop()
                del on_stack[top]
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                members = tuple(sorted(group))
                resources = sorted(
                    {r for a in members for b, rs in graph[a].items() if b in group for r in rs}
                )
                found[members] = resources

    for owner in owners:
        if owner not in index:
            visit(owner)
    return dict(sorted(found.items()))
