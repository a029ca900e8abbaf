"""Cleanup plans: never delete what should stay, keep wins, deterministic ids, safe rechecks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pit.stale import (
    Action,
    Policy,
    Tier,
    VersionFacts,
    delete_batches,
    make_plan,
    parse_policy,
    plan_from_json,
    recheck,
    with_ranks,
)
from tests.stale.oracle import oracle
from tests.stale.strategies import NOW, policies, stores
from tests.stale.test_rules import fact


@settings(max_examples=120, deadline=None)
@given(facts=stores(), policy=policies())
def test_a_plan_never_deletes_a_version_that_should_be_retained(
    facts: list[VersionFacts], policy: Policy
) -> None:
    expected = oracle(facts, policy, NOW)
    plan = make_plan(facts, policy, NOW)
    deleted = {(item.name, item.version) for item in plan.by_action(Action.DELETE)}
    for key, (action, _target, kept) in expected.items():
        if kept or action != "delete":
            assert key not in deleted
        else:
            assert key in deleted
    planned = {(item.name, item.version): (item.action.value, item.to_tier) for item in plan.items}
    for key, (action, target, _) in expected.items():
        if action != "keep":
            assert planned[key] == (action, target)


@settings(max_examples=120, deadline=None)
@given(facts=stores(), policy=policies())
def test_keep_always_wins(facts: list[VersionFacts], policy: Policy) -> None:
    plan = make_plan(facts, policy, NOW)
    expected = oracle(facts, policy, NOW)
    floor = policy.keep_coldest_tier.depth
    for item in plan.items:
        if expected[(item.name, item.version)][2]:
            assert item.action is not Action.DELETE
            assert item.to_tier is not None and item.to_tier.depth <= floor
    assert plan.kept.protected == sum(kept for _, _, kept in expected.values())


@settings(max_examples=60, deadline=None)
@given(facts=stores(), policy=policies(), data=st.data())
def test_same_inputs_give_the_same_plan_in_any_order(
    facts: list[VersionFacts], policy: Policy, data: st.DataObject
) -> None:
    first = make_plan(facts, policy, NOW)
    second = make_plan(data.draw(st.permutations(facts)), policy, NOW)
    assert first == second
    later = make_plan(facts, policy, NOW + timedelta(seconds=1))
    assert later.plan_id != first.plan_id


def test_plan_id_changes_with_the_facts_and_the_policy() -> None:
    facts = with_ranks([fact(version=1), fact(version=2)])
    policy = parse_policy({"delete": {"max_age": "30d"}})
    base = make_plan(facts, policy, NOW).plan_id
    assert make_plan(facts[:1], policy, NOW).plan_id != base
    assert make_plan(facts, parse_policy({"delete": {"max_age": "31d"}}), NOW).plan_id != base
    touched = [facts[0].model_copy(update={"tags": ("x",)}), facts[1]]
    assert make_plan(touched, policy, NOW).plan_id != base


def test_plan_items_carry_reason_score_and_bytes_lowest_value_first() -> None:
    facts = with_ranks(
        [
            fact(version=v, size=v * 10, created_at=NOW - (40 + v) * timedelta(days=1))
            for v in (1, 2, 3)
        ]
    )
    plan = make_plan(
        facts, parse_policy({"keep": {"keep_last": 1}, "delete": {"max_age": "30d"}}), NOW
    )
    assert [(i.version, i.size, i.reasons) for i in plan.items] == [
        (2, 20, ("delete: max_age 30d",)),
        (1, 10, ("delete: max_age 30d",)),
    ]
    assert plan.items[0].score <= plan.items[1].score
    assert (plan.kept.versions, plan.kept.bytes, plan.kept.saved_from_delete) == (1, 30, 1)


@st.composite
def changes(draw: st.DrawFn, facts: list[VersionFacts]) -> list[VersionFacts]:
    """The store some time after planning: tags added, reads, new versions, removals."""
    changed = []
    for version in facts:
        roll = draw(st.integers(min_value=0, max_value=5))
        if roll == 0:
            continue  # removed
        if roll == 1:
            version = version.model_copy(update={"tags": (*version.tags, "pinned")})
        elif roll == 2:
            version = version.model_copy(
                update={
                    "access_counts": {k: v + 5 for k, v in version.access_counts.items()},
                    "access_count": version.access_count + 5,
                    "last_access": NOW,
                }
            )
        elif roll == 3:
            version = version.model_copy(update={"digest": version.digest + "'"})
        changed.append(version)
    for name in draw(st.lists(st.sampled_from(sorted({f.name for f in facts})), unique=True)):
        newest = max(f.version for f in facts if f.name == name)
        update = {"name": name, "version": newest + 1, "digest": f"new-{name}", "created_at": NOW}
        changed.append(facts[0].model_copy(update=update))  # a new version shifts the ranks
    return with_ranks(changed)


@settings(max_examples=120, deadline=None)
@given(facts=stores(), policy=policies(), data=st.data())
def test_recheck_never_lets_through_a_newly_protected_version(
    facts: list[VersionFacts], policy: Policy, data: st.DataObject
) -> None:
    plan = make_plan(facts, policy, NOW)
    current = data.draw(changes(facts))
    later = NOW + timedelta(hours=data.draw(st.integers(min_value=0, max_value=48)))
    result = recheck(plan, current, policy, later)
    expected = oracle(current, policy, later)
    assert len(result.items) + len(result.dropped) == len(plan.items)
    for item in result.items:
        action, target, kept = expected[(item.name, item.version)]
        assert (action, target) == (item.action.value, item.to_tier)
        if item.action is Action.DELETE:
            assert not kept


def test_recheck_on_unchanged_facts_keeps_every_item() -> None:
    facts = with_ranks([fact(version=v) for v in (1, 2, 3)])
    policy = parse_policy({"keep": {"keep_last": 1}, "delete": {"max_age": "30d"}})
    plan = make_plan(facts, policy, NOW)
    assert recheck(plan, facts, policy, NOW).items == plan.items


def test_recheck_drops_what_was_tagged_moved_or_rewritten_since() -> None:
    facts = with_ranks([fact(version=v) for v in (1, 2, 3, 4)])
    policy = parse_policy(
        {
            "keep": {"any": [{"keep_last": 1}, {"keep_tagged": ["pinned"]}]},
            "delete": {"max_age": "30d"},
        }
    )
    plan = make_plan(facts, policy, NOW)
    now_facts = [
        facts[0].model_copy(update={"tags": ("pinned",)}),
        facts[1].model_copy(update={"tier": Tier.COLD}),
        facts[2].model_copy(update={"digest": "other"}),
        facts[3],
    ]
    result = recheck(plan, now_facts, policy, NOW)
    assert result.items == ()
    whys = {d.item.version: d.why for d in result.dropped}
    assert whys[1].startswith("protected now: keep.any[1]: keep_tagged [pinned]")
    assert whys[2] == "the version moved to cold"
    assert whys[3] == "the version's content changed"


def test_recheck_drops_a_version_that_is_gone() -> None:
    facts = with_ranks([fact(version=1), fact(version=2)])
    policy = parse_policy({"keep": {"keep_last": 1}, "delete": {"max_age": "30d"}})
    plan = make_plan(facts, policy, NOW)
    assert recheck(plan, facts[1:], policy, NOW).dropped[0].why == "the version is gone"


@settings(max_examples=30, deadline=None)
@given(
    count=st.integers(min_value=0, max_value=2500), size=st.integers(min_value=1, max_value=1000)
)
def test_deletes_come_in_batches_of_at_most_the_size_asked(count: int, size: int) -> None:
    facts = [fact("a", v) for v in range(1, count + 1)]
    plan = make_plan(facts, parse_policy({"delete": {"max_age": "1d"}}), NOW)
    batches = list(delete_batches(plan.items, size))
    assert all(1 <= len(batch) <= size for batch in batches)
    assert [item for batch in batches for item in batch] == list(plan.by_action(Action.DELETE))


def test_a_batch_larger_than_s3_allows_is_refused() -> None:
    with pytest.raises(ValueError, match=r"1\.\.1000"):
        list(delete_batches((), 1001))


@settings(max_examples=40, deadline=None)
@given(facts=stores(), policy=policies())
def test_a_saved_plan_reads_back_equal(facts: list[VersionFacts], policy: Policy) -> None:
    plan = make_plan(facts, policy, NOW)
    assert plan_from_json(plan.to_json()) == plan
