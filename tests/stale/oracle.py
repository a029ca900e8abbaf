"""The test oracle: the policy evaluated directly, version by version (tests.stale.reference)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pit.stale import Policy, Scorer, Tier, VersionFacts
from tests.stale.reference import ReferenceEvaluator


def oracle(
    facts: Sequence[VersionFacts], policy: Policy, now: datetime
) -> dict[tuple[str, int], tuple[str, Tier | None, bool]]:
    """(action, target, kept) per version key."""
    reference = ReferenceEvaluator(policy, facts, now, Scorer(policy.score))
    return {fact.key: (*reference.decide(fact), reference.is_kept(fact)) for fact in facts}
