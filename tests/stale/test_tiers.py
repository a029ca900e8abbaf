"""Tier prices, storage cost with minimum durations, and savings on the aging corpus."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pit.stale import (
    DEFAULT_POLICY_YAML,
    PriceTable,
    Tier,
    aging_corpus,
    evaluate,
    parse_policy,
    placement_savings,
    required_windows,
    storage_cost,
)
from tests.stale.strategies import NOW
from tests.stale.test_rules import fact

GB = 1024**3


def test_default_prices_are_s3_list_prices_with_minimum_durations() -> None:
    prices = PriceTable()
    assert (prices.hot.storage_class, prices.hot.per_gb_month) == ("STANDARD", 0.023)
    assert (prices.warm.storage_class, prices.warm.min_days) == ("STANDARD_IA", 30)
    assert (prices.cold.storage_class, prices.cold.min_days) == ("GLACIER_IR", 90)


def test_a_month_of_a_gigabyte_costs_the_list_price() -> None:
    assert math.isclose(storage_cost(GB, Tier.HOT, 30, PriceTable()), 0.023)


def test_leaving_cold_early_still_pays_its_minimum_duration() -> None:
    prices = PriceTable()
    ten_days = storage_cost(GB, Tier.COLD, 10, prices)
    ninety_days = storage_cost(GB, Tier.COLD, 90, prices)
    assert math.isclose(ten_days, ninety_days)
    assert math.isclose(ninety_days, 0.004 * 3 + 0.02 / 1000)


def test_small_objects_are_billed_at_the_minimum_size() -> None:
    prices = PriceTable()
    assert math.isclose(
        storage_cost(1, Tier.WARM, 30, prices), storage_cost(128 * 1024, Tier.WARM, 30, prices)
    )


def test_reads_from_a_cold_tier_cost_retrieval() -> None:
    prices = PriceTable()
    quiet = storage_cost(GB, Tier.COLD, 90, prices)
    busy = storage_cost(GB, Tier.COLD, 90, prices, reads_per_day=1)
    assert math.isclose(busy - quiet, 90 * 0.03)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(min_value=0, max_value=10**12), days=st.floats(min_value=0, max_value=400))
def test_colder_tiers_never_cost_more_for_unread_objects_of_a_mebibyte_or_more(
    size: int, days: float
) -> None:
    # below that, the per-object transition request outweighs the cheaper storage
    prices = PriceTable()
    hot, warm, cold = (storage_cost(size, tier, max(days, 90), prices) for tier in Tier)
    if size >= 1024**2:
        assert hot >= warm >= cold


def test_savings_count_deletes_moves_and_compression_both_ways() -> None:
    facts = [fact(version=1, size=GB), fact(version=2, size=GB), fact(version=3, size=GB)]
    placement = [(facts[0], None), (facts[1], Tier.COLD), (facts[2], Tier.HOT)]
    savings = placement_savings(placement, PriceTable(cold_compression_ratio=0.5))
    assert (savings.deleted, savings.moved) == (1, 1)
    assert savings.bytes_after == GB + GB // 2
    assert math.isclose(savings.bytes_saved_ratio, 0.5)
    assert 0.6 < savings.cost_saved_ratio < 0.64  # (0.069 - 0.012 - 0.069/3) / 0.069


def test_a_measured_compressed_size_wins_over_the_assumed_ratio() -> None:
    measured = fact(size=1000, compressed_size=100)
    savings = placement_savings([(measured, Tier.COLD)], PriceTable(cold_compression_ratio=0.9))
    assert savings.bytes_after == 100


def test_all_hot_saves_nothing() -> None:
    facts = [fact(version=v, size=GB) for v in (1, 2)]
    savings = placement_savings([(f, Tier.HOT) for f in facts])
    assert savings.bytes_saved_ratio == 0 and savings.cost_saved_ratio == 0


def test_the_corpus_is_the_same_for_the_same_seed() -> None:
    first = aging_corpus(now=NOW, artifacts=5)
    assert first == aging_corpus(now=NOW, artifacts=5)
    assert first != aging_corpus(now=NOW, artifacts=5, seed=8)


def test_the_corpus_ages_recent_versions_are_read_most() -> None:
    corpus = aging_corpus(now=NOW, artifacts=30)
    recent = [
        f.access_counts[30 * 86400] for f in corpus if f.created_at > NOW - timedelta(days=10)
    ]
    old = [f.access_counts[30 * 86400] for f in corpus if f.created_at < NOW - timedelta(days=60)]
    assert sum(recent) / len(recent) > 10 * (sum(old) / len(old) + 0.01)
    assert all(f.created_at >= NOW - timedelta(days=180) for f in corpus)


@pytest.mark.parametrize("ratio", [1.0, 0.6])
def test_the_default_policy_saves_over_40_percent_on_the_aging_corpus(ratio: float) -> None:
    policy = parse_policy(yaml.safe_load(DEFAULT_POLICY_YAML))
    corpus = aging_corpus(now=NOW, artifacts=100, windows=required_windows(policy))
    result = evaluate(corpus, policy, NOW)
    placement = [(f, result.target(i)) for i, f in enumerate(corpus)]
    savings = placement_savings(placement, PriceTable(cold_compression_ratio=ratio))
    assert savings.cost_saved_ratio > 0.4
    assert savings.bytes_saved_ratio > 0.4


def test_tiering_alone_saves_over_40_percent_of_the_cost() -> None:
    policy = parse_policy({"demote": {"warm": {"idle_for": "7d"}, "cold": {"idle_for": "30d"}}})
    corpus = aging_corpus(now=NOW, artifacts=100)
    result = evaluate(corpus, policy, NOW)
    savings = placement_savings([(f, result.target(i)) for i, f in enumerate(corpus)])
    assert savings.deleted == 0
    assert savings.cost_saved_ratio > 0.4
