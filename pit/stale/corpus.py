"""A seeded "aging corpus": artifact versions as a store fills up over months.

Shape (defaults): `artifacts` artifacts, each with 20..80 versions (mean 50) published at
jittered even intervals over the last 180 days. Sizes are log-normal per artifact (median
64 MB, ±20% between versions). Popularity across artifacts is Zipf-like (s = 1.1); each
version is read at `20 * popularity` reads a day when published, halving every 7 days, so old
versions go quiet while the newest stay busy. About 4% of versions carry `release`, 0.5%
`pinned`; 70% carry a `quality` in 0..1. Everything starts hot. Read counts and the last read
come from the closed form of that decay, jittered, so a million versions build in seconds.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pit.stale.facts import MetaValue, Tier, VersionFacts, window_key

DAY = 86400.0
_MEDIA = ("application/x-safetensors", "application/json", "text/csv", "application/x-onnx")
_READS_HALF_LIFE_DAYS = 7.0
_DECAY = math.log(2) / _READS_HALF_LIFE_DAYS


@dataclass(frozen=True)
class _Draft:
    name: str
    number: int
    rank: int
    age_days: float
    rate: float
    """Reads a day when published."""
    jitter: float
    size: int
    media_type: str
    digest: str
    tags: tuple[str, ...]
    metadata: dict[str, MetaValue]


def aging_corpus(
    *,
    now: datetime,
    seed: int = 7,
    artifacts: int = 200,
    days: float = 180.0,
    windows: Iterable[timedelta] = (timedelta(days=30),),
    versions: tuple[int, int] = (20, 80),
) -> list[VersionFacts]:
    """The corpus at time `now`, the same for the same arguments. `windows` are the
    `access_counts` windows to fill (see `required_windows`)."""
    rng = random.Random(seed)
    stamp = now.timestamp()
    spans = [(window_key(w), w.total_seconds() / DAY) for w in windows]
    facts: list[VersionFacts] = []
    for artifact in range(artifacts):
        popularity = 1.0 / (1 + rng.randrange(artifacts)) ** 1.1
        median = 64e6 * math.exp(rng.gauss(0, 1.2))
        count = rng.randint(*versions)
        step = days / count
        for number in range(1, count + 1):
            roll = rng.random()
            metadata: dict[str, MetaValue] = {"pipeline": f"p{number % 5}"}
            if rng.random() < 0.7:
                metadata["quality"] = round(rng.random(), 3)
            draft = _Draft(
                name=f"corpus/artifact-{artifact:05d}",
                number=number,
                rank=count - number + 1,
                age_days=max(0.01, days - (number - 0.5 + rng.uniform(-0.4, 0.4)) * step),
                rate=20.0 * popularity,
                jitter=rng.uniform(0.5, 1.5),
                size=max(1, int(median * rng.uniform(0.8, 1.2))),
                media_type=_MEDIA[artifact % len(_MEDIA)],
                digest=f"sha256:{rng.getrandbits(256):064x}",
                tags=("release",) if roll < 0.04 else ("pinned",) if roll < 0.045 else (),
                metadata=metadata,
            )
            facts.append(_build(draft, spans, stamp))
    return facts


def _expected_reads(rate: float, age_days: float, within_days: float) -> float:
    """Reads expected in the last `within_days` of a version `age_days` old."""
    start = max(0.0, age_days - within_days)
    return rate / _DECAY * (math.exp(-_DECAY * start) - math.exp(-_DECAY * age_days))


def _build(draft: _Draft, spans: list[tuple[int, float]], stamp: float) -> VersionFacts:
    rate = draft.rate * draft.jitter
    reads = int(_expected_reads(rate, draft.age_days, draft.age_days))
    counts = {key: int(_expected_reads(rate, draft.age_days, span)) for key, span in spans}
    last_access = None
    if reads > 0:
        # the last read: the moment after which less than one more read is expected
        tail = math.exp(-_DECAY * draft.age_days) + _DECAY / rate
        read_until = -math.log(tail) / _DECAY if tail < 1 else 0.0
        quiet_days = max(0.0, draft.age_days - read_until)
        last_access = datetime.fromtimestamp(stamp - quiet_days * DAY, tz=UTC)
    # trusted, generated input: skip validation so a million versions build in seconds
    return VersionFacts.model_construct(
        name=draft.name,
        version=draft.number,
        digest=draft.digest,
        size=draft.size,
        media_type=draft.media_type,
        created_at=datetime.fromtimestamp(stamp - draft.age_days * DAY, tz=UTC),
        tags=draft.tags,
        metadata=draft.metadata,
        tier=Tier.HOT,
        last_access=last_access,
        access_count=reads,
        access_counts=counts,
        rank=draft.rank,
    )
