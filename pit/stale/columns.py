"""A batch of versions as columns: what compiled rules read, built once per evaluation.

Each column is a plain list indexed like the facts; a column is computed the first time a
rule asks for it, so a policy pays only for what it reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cached_property

from pit.stale.facts import VersionFacts
from pit.stale.score import Scorer, ranking_key


class Columns:
    """The facts of one evaluation, column by column, at time `now`."""

    def __init__(self, facts: Sequence[VersionFacts], now: datetime, scorer: Scorer) -> None:
        if now.tzinfo is None:
            raise ValueError("now must carry a time zone")
        self.facts = facts
        self.now = now
        self.stamp = now.timestamp()
        self.scorer = scorer
        self.size = len(facts)

    @cached_property
    def age_seconds(self) -> list[float]:
        stamp = self.stamp
        return [stamp - fact.created_at.timestamp() for fact in self.facts]

    @cached_property
    def idle_seconds(self) -> list[float]:
        stamp = self.stamp
        return [stamp - (fact.last_access or fact.created_at).timestamp() for fact in self.facts]

    def reads_in(self, window_key: int) -> list[int | None]:
        """Reads in the window, None where the facts lack that window."""
        return [fact.access_counts.get(window_key) for fact in self.facts]

    @cached_property
    def ranks(self) -> list[int]:
        return [fact.rank for fact in self.facts]

    @cached_property
    def tags(self) -> list[tuple[str, ...]]:
        return [fact.tags for fact in self.facts]

    @cached_property
    def names(self) -> list[str]:
        return [fact.name for fact in self.facts]

    @cached_property
    def sizes(self) -> list[int]:
        return [fact.size for fact in self.facts]

    @cached_property
    def scores(self) -> list[float]:
        scorer = self.scorer
        return scorer.score_columns(
            [max(0.0, idle) for idle in self.idle_seconds],
            [fact.access_count for fact in self.facts],
            [scorer.quality_of(fact.metadata) for fact in self.facts],  # type: ignore[arg-type]
            self.sizes,
        )

    @cached_property
    def value_order(self) -> list[int]:
        """Indexes from the most to the least valuable version (stable ranking)."""
        scores, facts = self.scores, self.facts
        return sorted(
            range(self.size),
            key=lambda i: ranking_key(scores[i], facts[i].name, facts[i].version),
        )
