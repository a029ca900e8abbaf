"""Tier prices and the savings of a placement: bytes (cold is compressed) and cost.

Default prices are public AWS S3 list prices (us-east-1, first 50 TB, per GB-month):
STANDARD $0.023, STANDARD_IA $0.0125 (30-day minimum, 128 KB minimum billable size, $0.01/GB
retrieval), GLACIER_IR $0.004 (90-day minimum, 128 KB minimum, $0.03/GB retrieval).
Transition requests cost $0.01 (IA) and $0.02 (Glacier IR) per 1,000. A month is 30 days;
a GB is 2**30 bytes, as AWS bills.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from pit.stale.facts import Tier, VersionFacts

GB = 1024**3
MONTH_DAYS = 30.0


class TierPrice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    storage_class: str
    per_gb_month: float = Field(ge=0, allow_inf_nan=False)
    min_days: int = Field(default=0, ge=0)
    """Objects leaving earlier are billed for the rest of these days."""
    min_billable_bytes: int = Field(default=0, ge=0)
    retrieval_per_gb: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    transition_per_1000: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    """Cost of moving 1,000 objects into this tier."""


class PriceTable(BaseModel):
    """What each tier costs; configurable, defaults to S3 list prices."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hot: TierPrice = TierPrice(storage_class="STANDARD", per_gb_month=0.023)
    warm: TierPrice = TierPrice(
        storage_class="STANDARD_IA",
        per_gb_month=0.0125,
        min_days=30,
        min_billable_bytes=128 * 1024,
        retrieval_per_gb=0.01,
        transition_per_1000=0.01,
    )
    cold: TierPrice = TierPrice(
        storage_class="GLACIER_IR",
        per_gb_month=0.004,
        min_days=90,
        min_billable_bytes=128 * 1024,
        retrieval_per_gb=0.03,
        transition_per_1000=0.02,
    )
    cold_compression_ratio: float = Field(default=1.0, gt=0, le=1, allow_inf_nan=False)
    """Stored bytes / original bytes in the cold tier when no measured size is known: 1.0 on
    S3 (Glacier IR stores as given), e.g. 0.6 for zstd on the local backend."""

    def price(self, tier: Tier) -> TierPrice:
        return {Tier.HOT: self.hot, Tier.WARM: self.warm, Tier.COLD: self.cold}[tier]


def stored_bytes(facts: VersionFacts, tier: Tier, prices: PriceTable) -> int:
    """Bytes the version occupies in `tier` (cold may be compressed)."""
    if tier is not Tier.COLD:
        return facts.size
    if facts.compressed_size is not None:
        return min(facts.size, facts.compressed_size)
    return round(facts.size * prices.cold_compression_ratio)


def storage_cost(
    size: int, tier: Tier, days: float, prices: PriceTable, *, reads_per_day: float = 0.0
) -> float:
    """Dollars to keep `size` bytes in `tier` for `days` (at least its minimum duration),
    plus the move into it and the expected retrievals."""
    price = prices.price(tier)
    billed_days = max(days, float(price.min_days)) if days > 0 else 0.0
    gigabytes = max(size, price.min_billable_bytes) / GB
    storing = gigabytes * price.per_gb_month * billed_days / MONTH_DAYS
    retrieving = size / GB * price.retrieval_per_gb * reads_per_day * days
    return storing + retrieving + price.transition_per_1000 / 1000


@dataclass(frozen=True)
class Savings:
    """A placement against keeping every version hot, over `horizon_days`."""

    versions: int
    deleted: int
    moved: int
    bytes_before: int
    bytes_after: int
    cost_before: float
    cost_after: float
    horizon_days: float

    @property
    def bytes_saved_ratio(self) -> float:
        return 1 - self.bytes_after / self.bytes_before if self.bytes_before else 0.0

    @property
    def cost_saved_ratio(self) -> float:
        return 1 - self.cost_after / self.cost_before if self.cost_before else 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {
            **vars(self),
            "bytes_saved_ratio": self.bytes_saved_ratio,
            "cost_saved_ratio": self.cost_saved_ratio,
        }


def placement_savings(
    placement: Sequence[tuple[VersionFacts, Tier | None]],
    prices: PriceTable | None = None,
    *,
    horizon_days: float = 90.0,
    read_window_days: float = 30.0,
) -> Savings:
    """Savings of placing each version in a tier (None: deleted) vs all hot, both ways.

    Expected reads per day come from `access_counts` over `read_window_days` when present,
    else from none; moving a version costs its transition even if it was already there.
    """
    prices = prices if prices is not None else PriceTable()
    window_key = round(read_window_days * 86400)
    bytes_before = bytes_after = deleted = moved = 0
    cost_before = cost_after = 0.0
    for facts, tier in placement:
        reads = facts.access_counts.get(window_key, 0) / read_window_days
        bytes_before += facts.size
        cost_before += _kept_cost(facts.size, Tier.HOT, horizon_days, prices, reads)
        if tier is None:
            deleted += 1
            continue
        stored = stored_bytes(facts, tier, prices)
        bytes_after += stored
        if tier is facts.tier:
            cost_after += _kept_cost(stored, tier, horizon_days, prices, reads)
        else:
            moved += 1
            cost_after += storage_cost(stored, tier, horizon_days, prices, reads_per_day=reads)
    return Savings(
        len(placement),
        deleted,
        moved,
        bytes_before,
        bytes_after,
        cost_before,
        cost_after,
        horizon_days,
    )


def _kept_cost(size: int, tier: Tier, days: float, prices: PriceTable, reads: float) -> float:
    """Cost of staying where it is: no transition, no new minimum duration."""
    price = prices.price(tier)
    gigabytes = max(size, price.min_billable_bytes) / GB
    storing = gigabytes * price.per_gb_month * days / MONTH_DAYS
    return storing + size / GB * price.retrieval_per_gb * reads * days
