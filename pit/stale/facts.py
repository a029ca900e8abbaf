"""What the Stale Manager knows about one artifact version: the input of every evaluation.

`VersionFacts` is the boundary model a store adapter fills in (from manifests and the search
index) and tests or the corpus generator build directly. Access history is given as counts in
windows ending at the evaluation time (`access_counts[window_seconds]`), because that is what
the index port answers (`access_stats(since=now - window)`); `required_windows(policy)` says
which windows a policy needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

MetaValue = str | int | float | bool


class Tier(StrEnum):
    """Storage tiers, warmest first. On S3: STANDARD, STANDARD_IA, GLACIER_IR by default."""

    HOT = "hot"
    WARM = "warm"
    COLD = "cold"

    @property
    def depth(self) -> int:
        """0 for hot, 1 warm, 2 cold: a larger depth is a colder, cheaper tier."""
        return _DEPTH[self]


_DEPTH = {Tier.HOT: 0, Tier.WARM: 1, Tier.COLD: 2}
TIERS_BY_DEPTH: tuple[Tier, ...] = (Tier.HOT, Tier.WARM, Tier.COLD)


class VersionFacts(BaseModel):
    """One artifact version as the Stale Manager sees it at one moment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    version: int = Field(ge=1)
    digest: str = Field(min_length=1)
    size: int = Field(ge=0)
    """Bytes of the content, uncompressed."""
    media_type: str = "application/octet-stream"
    created_at: datetime
    tags: tuple[str, ...] = ()
    metadata: dict[str, MetaValue] = Field(default_factory=dict)
    tier: Tier = Tier.HOT
    """Where the bytes are now."""
    tier_since: datetime | None = None
    """When the bytes entered `tier` (None: at `created_at`); for minimum storage durations."""
    last_access: datetime | None = None
    """The last read ever; None if never read."""
    access_count: int = Field(default=0, ge=0)
    """Reads ever."""
    access_counts: dict[int, int] = Field(default_factory=dict)
    """Reads in the last `window` seconds before the evaluation time, keyed by window seconds."""
    rank: int = Field(default=1, ge=1)
    """Position among its artifact's versions, 1 = newest."""
    compressed_size: int | None = Field(default=None, ge=0)
    """Measured size once compressed for the cold tier, when known."""

    @field_validator("created_at", "tier_since", "last_access")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must carry a time zone (e.g. 2026-01-01T00:00:00Z)")
        return value

    @property
    def is_newest(self) -> bool:
        return self.rank == 1

    @property
    def key(self) -> tuple[str, int]:
        return (self.name, self.version)


def window_key(window: timedelta) -> int:
    """The `access_counts` key of a window: whole seconds."""
    return round(window.total_seconds())


def counts_in_windows(
    access_times: Iterable[datetime], now: datetime, windows: Iterable[timedelta]
) -> dict[int, int]:
    """`access_counts` from a list of read times: reads in [now - window, now] per window."""
    times = [t for t in access_times if t <= now]
    return {window_key(window): sum(1 for t in times if t >= now - window) for window in windows}


def with_ranks(facts: Iterable[VersionFacts]) -> list[VersionFacts]:
    """The same facts with `rank` recomputed from version numbers within each artifact."""
    facts = list(facts)
    versions: dict[str, list[int]] = {}
    for fact in facts:
        versions.setdefault(fact.name, []).append(fact.version)
    rank_of: Mapping[tuple[str, int], int] = {
        (name, version): position + 1
        for name, numbers in versions.items()
        for position, version in enumerate(sorted(numbers, reverse=True))
    }
    return [fact.model_copy(update={"rank": rank_of[fact.key]}) for fact in facts]
