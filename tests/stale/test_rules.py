"""Every rule type, the compositions, the keep/delete/demote order and the reasons given."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings

from pit.common.errors import InvalidInputError
from pit.stale import Action, Policy, Tier, VersionFacts, evaluate, parse_policy, with_ranks
from tests.stale.oracle import oracle
from tests.stale.strategies import NOW, policies, stores

DAY = timedelta(days=1)
W30 = 30 * 86400


def fact(name: str = "a", version: int = 1, **fields: Any) -> VersionFacts:
    defaults: dict[str, Any] = {
        "digest": f"sha256:{name}{version}",
        "size": 100,
        "created_at": NOW - 40 * DAY,
        "access_counts": {W30: 0, 7 * 86400: 0},
    }
    return VersionFacts(name=name, version=version, **(defaults | fields))


def held(rule: dict[str, Any], facts: list[VersionFacts]) -> list[bool]:
    """Which versions `rule` holds for, read through a delete section."""
    result = evaluate(facts, parse_policy({"delete": rule}), NOW)
    return [action is Action.DELETE for action in result.actions]


def test_max_age_holds_only_past_the_age() -> None:
    facts = [fact(version=1, created_at=NOW - 31 * DAY), fact(version=2, created_at=NOW - 30 * DAY)]
    assert held({"max_age": "30d"}, facts) == [True, False]


def test_idle_for_counts_from_last_read_or_creation() -> None:
    facts = [
        fact(version=1, created_at=NOW - 40 * DAY, last_access=NOW - 2 * DAY),
        fact(version=2, created_at=NOW - 40 * DAY, last_access=NOW - 8 * DAY),
        fact(version=3, created_at=NOW - 3 * DAY),
        fact(version=4, created_at=NOW - 7 * DAY),
    ]
    assert held({"idle_for": "7d"}, facts) == [False, True, False, True]


def test_min_access_count_holds_from_count_reads_in_the_window() -> None:
    facts = [fact(version=v, access_counts={W30: v}) for v in (2, 3, 4)]
    rule = {"min_access_count": {"count": 3, "window": "30d"}}
    assert held(rule, facts) == [False, True, True]


def test_missing_access_window_is_refused_with_the_window() -> None:
    facts = [fact(access_counts={})]
    with pytest.raises(InvalidInputError, match="2592000 s"):
        held({"min_access_count": {"count": 1, "window": "30d"}}, facts)


def test_keep_last_covers_the_newest_versions_of_each_artifact() -> None:
    facts = with_ranks([fact("a", v) for v in (1, 2, 3)] + [fact("b", 1)])
    assert held({"keep_last": 2}, facts) == [False, True, True, True]


def test_keep_tagged_covers_any_listed_tag() -> None:
    facts = [fact(version=1, tags=("release",)), fact(version=2, tags=("dev",)), fact(version=3)]
    assert held({"keep_tagged": ["release", "pinned"]}, facts) == [True, False, False]


def test_min_value_holds_at_or_above_the_threshold() -> None:
    fresh = fact(version=1, created_at=NOW, access_count=500, metadata={"quality": 1.0})
    stale = fact(version=2, created_at=NOW - 300 * DAY, metadata={"quality": 0.0})
    assert held({"min_value": 0.3}, [fresh, stale]) == [True, False]


def test_max_total_size_marks_the_least_valuable_beyond_the_quota() -> None:
    best = fact(version=1, created_at=NOW, size=60, metadata={"quality": 1.0})
    middle = fact(version=2, created_at=NOW - 10 * DAY, size=30)
    worst = fact(version=3, created_at=NOW - 200 * DAY, size=30, metadata={"quality": 0.0})
    assert held({"max_total_size": 100}, [worst, best, middle]) == [True, False, False]
    assert held({"max_total_size": "90B"}, [worst, best, middle]) == [True, False, False]
    assert held({"max_total_size": 89}, [worst, best, middle]) == [True, False, True]


def test_max_total_size_per_artifact_has_one_quota_each() -> None:
    facts = [fact("a", 1, size=80), fact("b", 1, size=80)]
    assert held({"max_total_size": {"size": 100, "scope": "artifact"}}, facts) == [False, False]
    assert held({"max_total_size": 100}, facts).count(True) == 1


def test_max_total_size_counts_kept_versions_first() -> None:
    kept_low_value = fact("a", 1, size=80, created_at=NOW - 300 * DAY, tags=("release",))
    fresh = fact("b", 1, size=80, created_at=NOW)
    policy = parse_policy({"keep": {"keep_tagged": ["release"]}, "delete": {"max_total_size": 100}})
    result = evaluate([kept_low_value, fresh], policy, NOW)
    assert result.actions == [Action.KEEP, Action.DELETE]


def test_match_selects_by_name_glob_media_type_and_metadata() -> None:
    facts = [
        fact("models/x", 1, media_type="image/png", metadata={"stage": "prod"}),
        fact("models/y", 1, media_type="text/csv", metadata={"stage": "prod"}),
        fact("data/z", 1, media_type="image/png", metadata={"stage": "prod"}),
        fact("models/w", 1, media_type="image/jpeg", metadata={"stage": True}),
    ]
    rule = {"match": {"name": "models/*", "media_type": "image/*", "metadata": {"stage": "prod"}}}
    assert held(rule, facts) == [True, False, False, False]


def test_match_metadata_does_not_confuse_true_with_one() -> None:
    facts = [fact(version=1, metadata={"flag": 1}), fact(version=2, metadata={"flag": True})]
    assert held({"match": {"metadata": {"flag": True}}}, facts) == [False, True]


def test_all_any_not_compose_and_nest() -> None:
    facts = [
        fact(version=1, created_at=NOW - 40 * DAY, tags=("dev",)),
        fact(version=2, created_at=NOW - 40 * DAY),
        fact(version=3, created_at=NOW - 1 * DAY, tags=("dev",)),
    ]
    old, dev = {"max_age": "30d"}, {"keep_tagged": ["dev"]}
    assert held({"all": [old, dev]}, facts) == [True, False, False]
    assert held({"any": [old, dev]}, facts) == [True, True, True]
    assert held({"not": {"any": [old, dev]}}, facts) == [False, False, False]
    assert held({"all": [old, {"not": dev}]}, facts) == [False, True, False]
    assert held({"not": {"not": dev}}, facts) == [True, False, True]


def test_keep_wins_over_delete_and_says_so() -> None:
    facts = with_ranks([fact(version=1), fact(version=2)])
    policy = parse_policy({"keep": {"keep_last": 1}, "delete": {"max_age": "30d"}})
    result = evaluate(facts, policy, NOW)
    assert result.actions == [Action.DELETE, Action.KEEP]
    assert result.reasons(0) == ("delete: max_age 30d",)
    assert result.reasons(1) == ("keep: keep_last 1", "overrides delete: max_age 30d")


def test_reasons_name_the_rules_that_decided() -> None:
    policy = parse_policy(
        {
            "keep": {"any": [{"keep_tagged": ["release"]}, {"keep_last": 1}]},
            "delete": {
                "all": [
                    {"max_age": "30d"},
                    {"not": {"min_access_count": {"count": 3, "window": "30d"}}},
                ]
            },
        }
    )
    facts = with_ranks([fact(version=1), fact(version=2)])
    result = evaluate(facts, policy, NOW)
    assert result.reasons(0) == (
        "delete.all[0]: max_age 30d",
        "delete.all[1]: not min_access_count 3 in 30d",
    )
    assert result.reasons(1)[0] == "keep.any[1]: keep_last 1"


def test_demote_places_cold_before_warm_and_promotes_what_is_read_again() -> None:
    policy = parse_policy({"demote": {"warm": {"idle_for": "7d"}, "cold": {"idle_for": "30d"}}})
    facts = [
        fact(version=1, last_access=NOW - 40 * DAY),
        fact(version=2, last_access=NOW - 10 * DAY),
        fact(version=3, last_access=NOW - 1 * DAY, tier=Tier.COLD),
        fact(version=4, last_access=NOW - 10 * DAY, tier=Tier.WARM),
    ]
    result = evaluate(facts, policy, NOW)
    assert result.actions == [Action.DEMOTE, Action.DEMOTE, Action.PROMOTE, Action.KEEP]
    assert [result.target(i) for i in range(4)] == [Tier.COLD, Tier.WARM, Tier.HOT, Tier.WARM]
    assert result.reasons(2) == ("demote.cold: does not hold", "demote.warm: does not hold")


def test_without_demote_section_tiers_stay_as_they_are() -> None:
    facts = [fact(version=1, tier=Tier.COLD), fact(version=2, tier=Tier.WARM)]
    result = evaluate(facts, parse_policy({"delete": {"max_age": "90d"}}), NOW)
    assert result.actions == [Action.KEEP, Action.KEEP]


def test_keep_coldest_tier_holds_kept_versions_warmer() -> None:
    policy = parse_policy(
        {
            "keep": {"keep_tagged": ["release"]},
            "demote": {"cold": {"idle_for": "30d"}},
            "keep_coldest_tier": "warm",
        }
    )
    facts = [fact(version=1, tags=("release",)), fact(version=2)]
    result = evaluate(facts, policy, NOW)
    assert [result.target(0), result.target(1)] == [Tier.WARM, Tier.COLD]
    assert "keep_coldest_tier: warm" in result.reasons(0)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        fact(created_at=NOW.replace(tzinfo=None))


@settings(max_examples=150, deadline=None)
@given(facts=stores(), policy=policies())
def test_compiled_evaluation_matches_the_direct_oracle(
    facts: list[VersionFacts], policy: Policy
) -> None:
    result = evaluate(facts, policy, NOW)
    expected = oracle(facts, policy, NOW)
    for i, version in enumerate(facts):
        action, target, kept = expected[version.key]
        assert (result.actions[i].value, result.target(i), result.protected[i]) == (
            action,
            target,
            kept,
        ), version.key
        assert result.reasons(i), "every decision gives a reason"


@settings(max_examples=100, deadline=None)
@given(facts=stores(), policy=policies())
def test_evaluation_is_the_same_in_any_input_order(
    facts: list[VersionFacts], policy: Policy
) -> None:
    forward = evaluate(facts, policy, NOW)
    backward = evaluate(facts[::-1], policy, NOW)
    n = len(facts)
    for i in range(n):
        assert forward.actions[i] is backward.actions[n - 1 - i]
        assert forward.reasons(i) == backward.reasons(n - 1 - i)
