"""A direct, naive evaluator: walks the pydantic rule tree for one version at a time.

Written apart from the compiled path on purpose: it is the oracle the property tests compare
`evaluate` and `make_plan` against, and the baseline the benchmark measures.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from datetime import datetime

from pit.stale.facts import Tier, VersionFacts, window_key
from pit.stale.policy import Policy
from pit.stale.rules import (
    AllOf,
    AnyOf,
    IdleFor,
    KeepLast,
    KeepTagged,
    Match,
    MaxAge,
    MaxTotalSize,
    MinAccessCount,
    MinValue,
    Not,
    Rule,
)
from pit.stale.score import Scorer, ranking_key


class ReferenceEvaluator:
    """`decide(facts)` per version, by recursion over the rule models."""

    def __init__(
        self, policy: Policy, everything: Sequence[VersionFacts], now: datetime, scorer: Scorer
    ) -> None:
        self.policy, self.everything, self.now, self.scorer = policy, everything, now, scorer
        self._scores: dict[tuple[str, int], float] = {}
        self._kept = (
            {fact.key for fact in everything if self.holds(policy.keep, fact, None)}
            if policy.keep is not None
            else set()
        )

    def _score(self, fact: VersionFacts) -> float:
        if fact.key not in self._scores:
            self._scores[fact.key] = self.scorer.score(fact, self.now)
        return self._scores[fact.key]

    def is_kept(self, fact: VersionFacts) -> bool:
        return fact.key in self._kept

    def decide(self, fact: VersionFacts) -> tuple[str, Tier | None]:
        """(action, target tier): the action is keep, delete, demote or promote."""
        kept = self.is_kept(fact)
        if not kept and self.holds(self.policy.delete, fact, self._kept):
            return "delete", None
        target = fact.tier
        demote = self.policy.demote
        if demote is not None:
            if self.holds(demote.cold, fact, self._kept):
                target = Tier.COLD
            elif self.holds(demote.warm, fact, self._kept):
                target = Tier.WARM
            else:
                target = Tier.HOT
            if kept and target.depth > self.policy.keep_coldest_tier.depth:
                target = self.policy.keep_coldest_tier
        if target.depth > fact.tier.depth:
            return "demote", target
        if target.depth < fact.tier.depth:
            return "promote", target
        return "keep", target

    def holds(
        self, rule: Rule | None, fact: VersionFacts, kept: set[tuple[str, int]] | None
    ) -> bool:
        if rule is None:
            return False
        now = self.now
        if isinstance(rule, AllOf):
            return all(self.holds(child, fact, kept) for child in rule.all)
        if isinstance(rule, AnyOf):
            return any(self.holds(child, fact, kept) for child in rule.any)
        if isinstance(rule, Not):
            return not self.holds(rule.not_, fact, kept)
        if isinstance(rule, MaxAge):
            return now - fact.created_at > rule.max_age
        if isinstance(rule, IdleFor):
            return now - (fact.last_access or fact.created_at) >= rule.idle_for
        if isinstance(rule, MinAccessCount):
            spec = rule.min_access_count
            return fact.access_counts[window_key(spec.window)] >= spec.count
        if isinstance(rule, KeepLast):
            return fact.rank <= rule.keep_last
        if isinstance(rule, KeepTagged):
            return any(tag in fact.tags for tag in rule.keep_tagged)
        if isinstance(rule, MinValue):
            return self._score(fact) >= rule.min_value
        if isinstance(rule, Match):
            return self._matches(rule, fact)
        if isinstance(rule, MaxTotalSize):
            return self._beyond_quota(rule, fact, kept)
        raise AssertionError(f"unhandled rule {rule!r}")  # pragma: no cover

    @staticmethod
    def _matches(rule: Match, fact: VersionFacts) -> bool:
        selector = rule.match
        if selector.name is not None and not fnmatch.fnmatchcase(fact.name, selector.name):
            return False
        if selector.media_type is not None and not fnmatch.fnmatchcase(
            fact.media_type, selector.media_type
        ):
            return False
        for key, wanted in (selector.metadata or {}).items():
            have = fact.metadata.get(key)
            if have is None or type(have) is bool or type(wanted) is bool:
                if have is not wanted:
                    return False
            elif have != wanted:
                return False
        return True

    def _beyond_quota(
        self, rule: MaxTotalSize, fact: VersionFacts, kept: set[tuple[str, int]] | None
    ) -> bool:
        quota = rule.max_total_size
        peers = [
            other for other in self.everything if quota.scope == "all" or other.name == fact.name
        ]

        def order(other: VersionFacts) -> tuple[bool, tuple[float, str, int]]:
            first = kept is not None and other.key in kept
            return (not first, ranking_key(self._score(other), other.name, other.version))

        peers.sort(key=order)
        total = 0
        for other in peers:
            total += other.size
            if other.key == fact.key:
                return total > quota.size
        raise AssertionError("a version is among its own peers")  # pragma: no cover
