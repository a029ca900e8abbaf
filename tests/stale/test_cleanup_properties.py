"""Invariants of cleanup on a store, against the policy evaluated directly (the oracle)."""

from __future__ import annotations

import asyncio
import json
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pit.artifacts.store import ArtifactStore
from pit.common.clock import ManualClock
from pit.infra.stale_plans import PlanStore
from pit.stale import parse_policy
from pit.stale.manager import StaleManager
from pit.stale.store_facts import facts_from_store
from tests.artifacts.fakes import FakeBlobStore, FakeIndex
from tests.stale.oracle import oracle
from tests.stale.strategies import NOW, rules

CONTENTS = [f"content {i}\n".encode() * 40 for i in range(5)]
"""A small pool, so versions share blobs."""


@st.composite
def policy_data(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for section in ("keep", "delete"):
        if draw(st.booleans()):
            data[section] = draw(rules)
    if draw(st.booleans()):
        data["demote"] = {tier: draw(rules) for tier in ("warm", "cold") if draw(st.booleans())}
    return data


version_plans = st.lists(
    st.tuples(
        st.sampled_from(["alpha", "beta"]),
        st.integers(0, len(CONTENTS) - 1),
        st.integers(0, 100),  # days before NOW
        st.lists(st.integers(0, 100), max_size=4),  # reads, days before NOW
        st.booleans(),  # tagged release
    ),
    min_size=1,
    max_size=8,
)


async def build(versions: list[tuple[str, int, int, list[int], bool]]) -> ArtifactStore:
    clock = ManualClock(NOW)
    store = ArtifactStore(FakeBlobStore(), FakeIndex(), clock=clock)
    for name, content, age, reads, release in sorted(versions, key=lambda v: -v[2]):
        clock._now = NOW - timedelta(days=age)
        put = await store.put(name, CONTENTS[content], tags=["release"] if release else [])
        for read_age in reads:
            at = NOW - timedelta(days=min(read_age, age))
            await store.index.record_access(name, put.version, at)
    clock._now = NOW
    return store


async def state(store: ArtifactStore) -> tuple[object, dict[str, tuple[bytes, str]]]:
    blobs = store.blobs
    assert isinstance(blobs, FakeBlobStore)
    return await store.stats(), {d: (b, blobs.tiers.get(d, "hot")) for d, b in blobs.blobs.items()}


async def scenario(versions: list[Any], data: dict[str, Any], root: Path) -> None:
    policy = parse_policy(data)
    store = await build(versions)
    manager = StaleManager(store, PlanStore(root))
    facts = await facts_from_store(store, policy, NOW)
    expected = oracle(facts, policy, NOW)
    before = await state(store)
    plan, _ = await manager.plan(policy, json.dumps(data), NOW)
    report = await manager.apply(plan.plan_id, NOW)
    # never deletes what the policy retains
    for key in report.deleted:
        name, version = key.split("@")
        action, _, kept = expected[(name, int(version))]
        assert action == "delete" and not kept, (key, expected[(name, int(version))])
    # restore returns the store to exactly its state before apply
    await manager.restore(plan.plan_id, NOW)
    assert await state(store) == before
    # apply again, purge everything expired: every live version still reads back
    await manager.apply(plan.plan_id, NOW)
    await manager.purge(NOW + timedelta(days=30), min_blob_age=timedelta(0))
    live = await facts_from_store(store, policy, NOW)
    assert {fact.key for fact in live} == {
        key for key in expected if f"{key[0]}@{key[1]}" not in report.deleted
    }
    for fact in live:
        assert (await store.get(fact.name, fact.version)).data in CONTENTS
    assert (await store.verify()).ok


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(versions=version_plans, data=policy_data())
def test_cleanup_keeps_what_the_policy_retains_and_restore_is_exact(
    versions: list[Any], data: dict[str, Any]
) -> None:
    with tempfile.TemporaryDirectory() as root:
        asyncio.run(scenario(versions, data, Path(root)))
