"""Value scores: monotone in recency and frequency, configurable, explained, stable rankings."""

from __future__ import annotations

import math
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pit.stale import ScoreConfig, Scorer, ScoreWeights, VersionFacts
from pit.stale.score import ranking_key
from tests.stale.strategies import NOW, version_facts

SCORER = Scorer()


def with_(facts: VersionFacts, **update: object) -> VersionFacts:
    return facts.model_copy(update=update)


@settings(max_examples=80, deadline=None)
@given(facts=version_facts("a", 1), earlier=st.integers(min_value=1, max_value=10**7))
def test_a_more_recent_read_never_lowers_the_score(facts: VersionFacts, earlier: int) -> None:
    recent = with_(facts, last_access=NOW - timedelta(seconds=10))
    older = with_(facts, last_access=NOW - timedelta(seconds=10 + earlier))
    assert SCORER.score(recent, NOW) >= SCORER.score(older, NOW)


@settings(max_examples=80, deadline=None)
@given(facts=version_facts("a", 1), more=st.integers(min_value=1, max_value=10**5))
def test_more_reads_never_lower_the_score(facts: VersionFacts, more: int) -> None:
    assert SCORER.score(with_(facts, access_count=facts.access_count + more), NOW) >= SCORER.score(
        facts, NOW
    )


@settings(max_examples=80, deadline=None)
@given(facts=version_facts("a", 1))
def test_explain_components_add_up_to_the_score(facts: VersionFacts) -> None:
    explanation = SCORER.explain(facts, NOW)
    assert [c.name for c in explanation.components] == ["recency", "frequency", "quality", "size"]
    assert math.isclose(
        sum(c.contribution for c in explanation.components), explanation.score, abs_tol=1e-12
    )
    assert all(0 <= c.value <= 1 for c in explanation.components)
    assert explanation.score == SCORER.score(facts, NOW) == SCORER.score_many([facts], NOW)[0]


def test_recency_halves_every_half_life() -> None:
    scorer = Scorer(ScoreConfig(half_life=timedelta(days=10)))
    facts = VersionFacts(
        name="a",
        version=1,
        digest="d",
        size=0,
        created_at=NOW,
        last_access=NOW - timedelta(days=20),
    )
    [recency, *_] = scorer.explain(facts, NOW).components
    assert math.isclose(recency.value, 0.25)


def test_weights_change_the_ranking() -> None:
    busy_old = VersionFacts(
        name="a",
        version=1,
        digest="d",
        size=0,
        created_at=NOW - timedelta(days=90),
        access_count=900,
    )
    fresh_unread = VersionFacts(name="b", version=1, digest="e", size=0, created_at=NOW)
    by_recency = Scorer(
        ScoreConfig(weights=ScoreWeights(recency=1, frequency=0, quality=0, size=0))
    )
    by_reads = Scorer(ScoreConfig(weights=ScoreWeights(recency=0, frequency=1, quality=0, size=0)))
    assert by_recency.score(fresh_unread, NOW) > by_recency.score(busy_old, NOW)
    assert by_reads.score(busy_old, NOW) > by_reads.score(fresh_unread, NOW)


def test_quality_comes_from_the_configured_key_else_the_default() -> None:
    scorer = Scorer(ScoreConfig(quality_key="eval", quality_default=0.25))
    assert scorer.quality_of({"eval": 0.9}) == 0.9
    assert scorer.quality_of({"quality": 0.9}) == 0.25
    assert scorer.quality_of({"eval": "high"}) == 0.25
    assert scorer.quality_of({"eval": True}) == 0.25


@settings(max_examples=50, deadline=None)
@given(facts=st.lists(version_facts("a", 1), min_size=2, max_size=6))
def test_rankings_are_stable_and_break_ties_by_name_then_version(facts: list[VersionFacts]) -> None:
    named = [with_(f, name=f"n{i % 2}", version=i + 1) for i, f in enumerate(facts)]
    ranked = sorted(named, key=lambda f: ranking_key(SCORER.score(f, NOW), f.name, f.version))
    shuffled = named[1::2] + named[0::2]
    again = sorted(shuffled, key=lambda f: ranking_key(SCORER.score(f, NOW), f.name, f.version))
    assert [f.key for f in ranked] == [f.key for f in again]
    twins = [with_(named[0], name="x", version=2), with_(named[0], name="w", version=1)]
    tied = sorted(twins, key=lambda f: ranking_key(SCORER.score(f, NOW), f.name, f.version))
    assert [f.name for f in tied] == ["w", "x"]
