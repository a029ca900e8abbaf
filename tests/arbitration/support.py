"""Builders for arbitration tests, random event sequences, and the brute-force oracle."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from hypothesis import strategies as st

from pit.arbitration import ArbiterConfig, Event, Release, Request, ResourceSpec, Submit, Tick
from pit.arbitration.ledger import Ledger
from pit.arbitration.model import STRATEGIES

RESOURCES = {
    "gpu.mem": ResourceSpec(capacity=100),
    "slots": ResourceSpec(capacity=3),
    "lock": ResourceSpec(capacity=1, exclusive=True),
    "model": ResourceSpec(capacity=2, shareable=True),
}
TENANTS = ["alice", "bob", "carol"]
T = TypeVar("T")


def config(strategy: str = "priority", **extra: Any) -> ArbiterConfig:
    data: dict[str, Any] = {"strategy": strategy, "resources": RESOURCES}
    data.update(extra)
    return ArbiterConfig.model_validate(data)


def request(rid: str, tenant: str = "alice", priority: int = 0, **demands: int) -> Request:
    named = {k.replace("__", "."): v for k, v in demands.items()}
    return Request(id=rid, tenant=tenant, priority=priority, demands=named)


@st.composite
def configs(draw: st.DrawFn) -> ArbiterConfig:
    quotas = draw(st.booleans())
    tenants = {
        name: {
            "weight": draw(st.sampled_from([1, 2, 3])),
            "quota": {"gpu.mem": draw(st.integers(30, 100))} if quotas else {},
        }
        for name in TENANTS
    }
    return config(
        draw(st.sampled_from(STRATEGIES)),
        tenants=tenants,
        aging_interval=draw(st.sampled_from([None, 5, 30])),
        resolve_deadlocks=draw(st.booleans()),
    )


@st.composite
def event_lists(draw: st.DrawFn, max_events: int = 40) -> list[Event]:
    events: list[Event] = []
    t = 0.0
    submitted: list[str] = []
    for index in range(draw(st.integers(1, max_events))):
        t += draw(st.sampled_from([0, 0, 1, 2.5]))
        kind = draw(st.sampled_from(["submit", "submit", "submit", "release", "tick"]))
        if kind == "release" and submitted:
            events.append(Release(t=t, request=draw(st.sampled_from(submitted))))
        elif kind == "tick":
            events.append(Tick(t=t))
        else:
            names = draw(
                st.lists(st.sampled_from(sorted(RESOURCES)), min_size=1, max_size=3, unique=True)
            )
            demands = {n: draw(st.integers(1, RESOURCES[n].capacity)) for n in names}
            rid = f"r{index}"
            submitted.append(rid)
            events.append(
                Submit(
                    t=t,
                    request=Request(
                        id=rid,
                        tenant=draw(st.sampled_from(TENANTS)),
                        priority=draw(st.integers(0, 3)),
                        demands=demands,
                        owner=draw(st.sampled_from([None, "job1", "job2", "job3"])),
                        share=draw(st.sampled_from([None, "coder"])),
                        max_wait=draw(st.sampled_from([None, None, 3.0])),
                    ),
                )
            )
    return events


def oracle(ledger: Ledger) -> set[tuple[str, str, str]]:
    """Every conflict of the ledger's state, from its raw grants and waits, by definition."""
    cfg = ledger.config
    cap = {r: s.capacity for r, s in cfg.resources.items()}
    used = dict.fromkeys(cap, 0)
    holders: dict[str, list[str]] = {r: [] for r in cap}
    for held in ledger.granted.values():
        for r, amount in held.charged.items():
            used[r] += amount
            holders[r].append(held.request.holder)
    pending = dict.fromkeys(cap, 0)
    wanted = dict.fromkeys(cap, 0)
    for waiting in ledger.waiting.values():
        for r, amount in waiting.request.demands.items():
            pending[r] += amount
            wanted[r] += 1
    found: set[tuple[str, str, str]] = set()
    for r in cap:
        if pending[r] > cap[r] - used[r]:
            found.add(("contention", r, ""))
        if cfg.is_memory(r) and used[r] + pending[r] > cfg.memory_pressure * cap[r]:
            found.add(("memory_pressure", r, ""))
        if cfg.resources[r].exclusive and (wanted[r] > 1 or (wanted[r] and holders[r])):
            found.add(("exclusive_clash", r, ""))
    tenants = {e.request.tenant for e in [*ledger.granted.values(), *ledger.waiting.values()]}
    for tenant in tenants:
        for r, quota in cfg.tenant(tenant).quota.items():
            total = sum(
                h.charged.get(r, 0) for h in ledger.granted.values() if h.request.tenant == tenant
            )
            total += sum(
                w.request.demands.get(r, 0)
                for w in ledger.waiting.values()
                if w.request.tenant == tenant
            )
            if total > quota:
                found.add(("quota_breach", r, tenant))
    # deadlock: owners on a cycle of "waits for a resource the other holds"
    edges: dict[str, set[str]] = {}
    for waiting in ledger.waiting.values():
        a = waiting.request.holder
        for r, amount in waiting.request.demands.items():
            others = [b for b in holders[r] if b != a]
            blocked = bool(others) if cfg.resources[r].exclusive else amount > cap[r] - used[r]
            if blocked:
                edges.setdefault(a, set()).update(others)
    reach = {a: set(bs) for a, bs in edges.items()}
    changed = True
    while changed:
        changed = False
        for a in reach:
            extra = set().union(*(reach.get(b, set()) for b in reach[a])) - reach[a]
            if extra:
                reach[a] |= extra
                changed = True
    on_cycle = {a for a in reach if a in reach[a]}
    groups = {
        tuple(sorted(b for b in on_cycle if b in reach[a] and a in reach[b])) for a in on_cycle
    }
    for group in groups:
        found.add(("deadlock", ",".join(group), ""))
    return found


def check_books(ledger: Ledger) -> None:
    """No over-allocation: the indexes add up and nothing is held beyond capacity."""
    cfg = ledger.config
    for r, spec in cfg.resources.items():
        charged = sum(h.charged.get(r, 0) for h in ledger.granted.values())
        assert ledger.used[r] == charged, (r, ledger.used[r], charged)
        assert 0 <= ledger.used[r] <= spec.capacity, (r, ledger.used[r])
        if spec.exclusive:
            assert len(ledger.holders[r]) <= 1, (r, ledger.holders[r])
    if cfg.strategy != "collaborative":
        for tenant, held in ledger.tenant_held.items():
            for r, quota in cfg.tenant(tenant).quota.items():
                assert held.get(r, 0) <= quota, (tenant, r, held.get(r, 0), quota)


async def eventually(check: Callable[[], Awaitable[T]], *, timeout: float = 30.0) -> T:
    """Polls `check` until it returns a truthy value (returned), or fails after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)
